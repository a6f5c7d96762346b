// The providers' bounded wait for a booting cluster (issue 14, defect 1): ServiceRegistrationSet
// and ServiceRegistration against a real etcd (Debian's etcd 3.4 on 127.0.5.90-93) that starts
// only after the create began, and giving up after the bound; FleetUnit against the fleet API
// conformance server (not fleet; 127.0.6.30-31) that starts late. The backoff schedule is pure.
// The etcd is secured as in production (mutual TLS, auth on: test/support/secure-etcd.ts) and the
// providers connect as `deployer`; its certificate is issued before the cluster exists, as the
// stack's PKI is before its members boot.
import { expect } from "chai";
import * as net from "net";
import { makeClusterPki, pkiIdentity, startSecureEtcdCluster, SecureEtcdTestCluster, TlsIdentity } from "../../support/secure-etcd";
import type { ClusterPkiState } from "../../../components/pki/cluster-pki-provider";
import { serviceRegistrationSetProvider, SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../../../components/services/service-registration-set";
import { serviceRegistrationProvider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";
import { backoffSchedule, clusterWaitProblem, waitUntil } from "../../../components/services/cluster-wait";
import { fleetUnitProvider } from "../../../components/fleet/fleet-unit";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

describe("cluster wait: the backoff schedule (pure)", () => {
    it("doubles from 1 s to at most 30 s apart, the last pause ending at the bound", () => {
        const delays = backoffSchedule({ timeoutSeconds: 600 });
        expect(delays.slice(0, 6)).to.deep.equal([1000, 2000, 4000, 8000, 16000, 30000]);
        expect(Math.max(...delays)).to.equal(30000);
        expect(delays.reduce((a, b) => a + b, 0)).to.equal(600_000);
        // 1+2+4+8+16 = 31 s, then 18 pauses of 30 s reach 571 s, and the last is cut to 29 s: 25 probes.
        expect(delays).to.have.length(24);
        expect(delays[delays.length - 1]).to.equal(29_000);
        expect(backoffSchedule({ timeoutSeconds: 0 })).to.deep.equal([]);
        expect(backoffSchedule({ timeoutSeconds: 1, initialDelayMs: 100, maxDelayMs: 300 })).to.deep.equal([100, 200, 300, 300, 100]);
    });

    it("accepts 0 to 3600 seconds only", () => {
        expect(clusterWaitProblem(undefined)).to.equal(undefined);
        expect(clusterWaitProblem(600)).to.equal(undefined);
        expect(clusterWaitProblem(3601)).to.match(/0 to 3600/);
        expect(clusterWaitProblem("600")).to.match(/0 to 3600/);
    });

    it("probes until the probe succeeds, and after the bound names what it waited for and the bound", async () => {
        let calls = 0;
        const value = await waitUntil("thing", { timeoutSeconds: 5, initialDelayMs: 10 }, async () => {
            if (++calls < 4) throw new Error(`not yet ${calls}`);
            return "up";
        });
        expect(value).to.equal("up");
        expect(calls).to.equal(4);
        calls = 0;
        const err = await failureOf(waitUntil("etcd at [http://x:2379]", { timeoutSeconds: 0.2, initialDelayMs: 20 }, async () => {
            calls++;
            throw new Error("ECONNREFUSED");
        }));
        expect(calls).to.be.greaterThan(2);
        expect(err?.message).to.match(/^etcd at \[http:\/\/x:2379\] did not answer within the bound of 0.2 s \(clusterWaitSeconds=0.2; \d+ probe\(s\)/);
        expect(err?.message).to.contain("last failure: ECONNREFUSED");
    });
});

/** A free loopback port check: nothing may answer at the address before the test starts it. */
function refuses(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port });
        socket.once("connect", () => (socket.destroy(), resolve(false)));
        socket.once("error", () => resolve(true));
    });
}

describe("cluster wait: the service providers wait for a real etcd that starts late (127.0.5.90-93)", function () {
    this.timeout(120_000);
    let cluster: SecureEtcdTestCluster | undefined;
    afterEach(async () => {
        await cluster?.stop();
        cluster = undefined;
    });

    const web = { service: "web", scheme: "http", hosts: ["10.1.0.1:80"] };
    // One PKI for every test, made before any etcd: the late cluster's and the deployer's certificates.
    let pki: ClusterPkiState;
    let deployer: TlsIdentity;
    before(() => {
        pki = makeClusterPki({ size: 1, firstAddress: "127.0.5.90" });
        deployer = pkiIdentity(pki, "deployer");
    });

    it("ServiceRegistrationSet: create keeps probing until the cluster answers, then writes", async () => {
        expect(await refuses("127.0.5.90", 2379), "nothing at 127.0.5.90:2379 yet").to.equal(true);
        // Probes fail at once while nothing listens (connection refused); the generous timeout is for
        // the first calls of the freshly started cluster, which took over 1 s once in a loaded run.
        const connection = { endpoints: ["https://127.0.5.90:2379"], tls: deployer, timeoutMs: 5000, retries: 0 };
        const { inputs, failures } = await serviceRegistrationSetProvider.check!({}, {
            resourceName: "late", ownerKey: "late-owner", connection, services: [web], prefix: "/services/late", clusterWaitSeconds: 60,
            providerVersion: SERVICE_REGISTRATION_SET_PROVIDER_VERSION,
        });
        expect(failures ?? []).to.deep.equal([]);
        const creating = serviceRegistrationSetProvider.create(inputs);
        let settled = false;
        creating.then(() => (settled = true), () => (settled = true));
        // Several probes fail while nothing listens; the create must still be waiting.
        await new Promise((r) => setTimeout(r, 2500));
        expect(settled, "create gave up before the cluster came").to.equal(false);
        cluster = await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.5.90", pki });
        const { outs } = await creating;
        expect(outs.clusterWaitSeconds).to.equal(60);
        expect(await cluster.client("root").get("/services/late/web/scheme").string()).to.equal("http");
    });

    it("ServiceRegistration: gives up after the bound, naming the endpoints and the bound", async () => {
        expect(await refuses("127.0.5.93", 2379)).to.equal(true);
        const connection = { endpoints: ["https://127.0.5.93:2379"], tls: deployer, timeoutMs: 500, retries: 0 };
        const { inputs } = await serviceRegistrationProvider.check!({}, {
            resourceName: "never", ownerKey: "never-owner", connection, ...web, clusterWaitSeconds: 3,
            providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION,
        });
        const err = await failureOf(serviceRegistrationProvider.create(inputs));
        // https: the endpoints are named as given, TLS now (nothing listens, so no handshake happens).
        expect(err?.message).to.match(/^ServiceRegistration "never": etcd at \[https:\/\/127\.0\.5\.93:2379\] did not answer within the bound of 3 s \(clusterWaitSeconds=3; [2-9] probe\(s\)/);
        expect(err?.message).to.contain("no endpoint is reachable");
    });

    it("without clusterWaitSeconds a create still fails after the connection's own retries (no probe)", async () => {
        const connection = { endpoints: ["https://127.0.5.93:2379"], tls: deployer, timeoutMs: 500, retries: 0 };
        const { inputs } = await serviceRegistrationProvider.check!({}, {
            resourceName: "nowait", ownerKey: "nowait-owner", connection, ...web, providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION,
        });
        const err = await failureOf(serviceRegistrationProvider.create(inputs));
        expect(err?.message).to.contain("no endpoint is reachable").and.not.contain("clusterWaitSeconds");
    });

    it("check refuses a wait out of range, naming clusterWaitSeconds", async () => {
        const { failures } = await serviceRegistrationSetProvider.check!({}, {
            resourceName: "bad", ownerKey: "bad-owner", connection: { endpoints: ["https://127.0.5.93:2379"], tls: deployer }, services: [web], clusterWaitSeconds: 7200,
        });
        expect((failures ?? []).map((f) => f.property)).to.include("clusterWaitSeconds");
    });
});

describe("cluster wait: FleetUnit waits for a fleet API that starts late (conformance server, 127.0.6.30-31)", function () {
    this.timeout(60_000);
    const provider = fleetUnitProvider;
    const content = "[Service]\nExecStart=/bin/true\n";
    let server: FleetConformanceServer | undefined;
    afterEach(async () => {
        await server?.close();
        server = undefined;
    });

    it("create probes until fleet answers, then pushes the unit", async () => {
        expect(await refuses("127.0.6.30", 49153)).to.equal(true);
        const { inputs, failures } = await provider.check({}, { endpoint: "http://127.0.6.30:49153", name: "late.service", content, clusterWaitSeconds: 30, pollIntervalMs: 10, retryDelayMs: 5 });
        expect(failures).to.deep.equal([]);
        const creating = provider.create(inputs);
        let settled = false;
        creating.then(() => (settled = true), () => (settled = true));
        await new Promise((r) => setTimeout(r, 2000));
        expect(settled).to.equal(false);
        server = await FleetConformanceServer.start({ host: "127.0.6.30", port: 49153, tickMs: 5 });
        const created = await creating;
        expect(created.id).to.equal("late.service");
        expect(server.unit("late.service")).to.deep.include({ desiredState: "launched" });
    });

    it("gives up after the bound, naming the fleet endpoint and the bound", async () => {
        const { inputs } = await provider.check({}, { endpoint: "http://127.0.6.31:49153", name: "never.service", content, clusterWaitSeconds: 2, retryDelayMs: 5 });
        const err = await failureOf(provider.create(inputs));
        expect(err?.message).to.match(/^fleet unit "never.service": create failed: fleet API at http:\/\/127\.0\.6\.31:49153 did not answer within the bound of 2 s \(clusterWaitSeconds=2;/);
    });

    it("check refuses a wait out of range", async () => {
        const { failures } = await provider.check({}, { endpoint: "http://127.0.6.31:49153", name: "x.service", content, clusterWaitSeconds: -5 });
        expect((failures ?? []).map((f) => f.property)).to.include("clusterWaitSeconds");
    });
});
