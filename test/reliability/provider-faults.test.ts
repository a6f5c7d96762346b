// Faults at the provider level (issue 7), with real processes:
//   - etcd (127.0.13.40-42), secured as in production (test/support/secure-etcd.ts: mutual TLS on
//     both ports, v3 auth on; the provider connects as `deployer`, the test observes as `root`,
//     and the prefixes are folders of /services, the only place `deployer` may write): one member down for a whole create/update/delete cycle; quorum lost
//     during an update and a create: the error says so and names every endpoint, existing keys
//     keep their old values, nothing new appears, and the very same operation converges once the
//     members return (no manual step). (test/components/etcd/etcd-client.test.ts covers the basic
//     failover and quorum messages; this adds updates, retries after recovery and full listings.)
//   - fleet (conformance server, 127.0.13.31): 503s and hangs are retried a bounded number of
//     times, then create fails clearly, and the server holds no unit (nothing half-created).
//   - local platform (127.0.13.50-53): a killed worker proxy is noticed by read and restored by update.
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../support/secure-etcd";
import { FleetConformanceServer } from "../support/fleet-conformance-server";
import { EtcdConnectionArgs } from "../../components/etcd/etcd-client";
import { serviceRegistrationProvider as provider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../components/services/service-registration";
import { checkFleetUnit, createFleetUnit, FleetUnitState } from "../../components/fleet/fleet-unit";
import { renderMachines } from "../../cloud-config";
import { planCluster } from "../../model/plan";
import { loadConfig } from "../../model/validate";
import { waitClusterReady } from "../../components/local/cluster-readiness-provider";
import { LocalMachineInputs, LocalMachineState, localMachineProvider } from "../../components/local/local-machine";
import { isMachineEtcd } from "../../components/local/processes";
import { localMachineSpecs } from "../../components/local/local-cluster";
import { localTls } from "../support/local-tls";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("reliability: ServiceRegistration through etcd member faults (127.0.13.40-42)", function () {
    this.timeout(180_000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let connection: EtcdConnectionArgs;
    const everything = () => etcd.getAll().prefix("/").strings();

    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.13.40" });
        connection = cluster.connection("deployer", { timeoutMs: 1500, retries: 1 });
        expect(connection.endpoints.every((e) => e.startsWith("https://"))).to.equal(true);
    });
    beforeEach(() => {
        // root sees every key (the listings below compare the whole keyspace).
        etcd = cluster.client("root", { dialTimeout: 5000 });
    });
    afterEach(async () => {
        etcd.close();
        for (let i = 0; i < cluster.members.length; i++) await cluster.startMember(i);
    });
    after(async () => {
        await cluster?.stop();
    });

    async function checked(name: string, fields: Record<string, unknown>) {
        const result = await provider.check!({}, { resourceName: name, connection, providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION, ...fields });
        expect(result.failures ?? []).to.deep.equal([]);
        return result.inputs as Record<string, any>;
    }

    it("the provider holds the deployer's grants only: a write outside the services prefix is refused, naming the credentials, and writes nothing", async () => {
        // Proves the cluster under the faults below is the secured one (auth on, deployer not root).
        const before = await everything();
        const inputs = await checked("outside", { service: "outside", scheme: "http", hosts: ["10.13.9.1:80"], prefix: "/elsewhere" });
        const err = await provider.create(inputs).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/rejected the credentials/);
        expect(err?.message).to.match(/permission denied/);
        expect(await everything()).to.deep.equal(before);
    });

    it("one member down from the start: create, update, read and delete all succeed by failover", async () => {
        await cluster.stopMember(0);
        const inputs = await checked("one-down", { service: "one-down", scheme: "tcp", hosts: ["10.13.0.1:80"], hostPort: 7001, prefix: "/services/r1" });
        const { id, outs } = await provider.create(inputs);
        const news = { ...inputs, hosts: ["10.13.0.1:80", "10.13.0.2:80"] };
        const updated = await provider.update!(id, outs, news);
        const read = await provider.read!(id, updated.outs);
        expect(read.props!.hosts).to.deep.equal(["10.13.0.1:80", "10.13.0.2:80"]);
        expect(await etcd.getAll().prefix("/services/r1/").strings()).to.deep.equal({
            "/services/r1/one-down/scheme": "tcp",
            "/services/r1/one-down/hosts/0": "10.13.0.1:80",
            "/services/r1/one-down/hosts/1": "10.13.0.2:80",
            "/services/r1/one-down/host_port": "7001",
        });
        await provider.delete!(id, updated.outs);
        expect(await etcd.getAll().prefix("/services/r1/").keys()).to.deep.equal([]);
        expect(await etcd.getAll().prefix("/coreos-cluster/owners/services/r1/").keys()).to.deep.equal([]);
    });

    it("quorum lost during an update and a create: both fail naming every endpoint; old keys kept, nothing new; both converge once the members return", async () => {
        const existing = await checked("kept", { service: "kept", scheme: "http", hosts: ["10.13.1.1:80", "10.13.1.2:80"], prefix: "/services/r2" });
        const created = await provider.create(existing);
        const before = await everything();

        await cluster.stopMember(0);
        await cluster.stopMember(2);
        const shrink = { ...existing, hosts: ["10.13.1.9:80"] };
        const fresh = await checked("fresh", { service: "fresh", scheme: "http", hosts: ["10.13.2.1:80"], prefix: "/services/r2" });
        const errors: Error[] = [];
        await provider.update!(created.id, created.outs, shrink).catch((e) => errors.push(e));
        await provider.create(fresh).catch((e) => errors.push(e));
        expect(errors).to.have.length(2);
        for (const err of errors) {
            expect(err.message).to.match(/lost quorum/);
            for (const endpoint of cluster.endpoints) expect(err.message).to.contain(endpoint);
            expect(err.message).to.contain("1500 ms timeout per call");
        }
        expect(errors[0].message).to.contain('ServiceRegistration "kept"');
        expect(errors[1].message).to.contain('ServiceRegistration "fresh"');

        await cluster.startMember(0);
        await cluster.startMember(2);
        // A proposal that timed out must not land later: give a straggler time, then compare everything.
        await sleep(2000);
        expect(await everything(), "no partial write while quorum was lost").to.deep.equal(before);

        // The same operations, unchanged, now converge.
        const updated = await provider.update!(created.id, created.outs, shrink);
        const again = await provider.create(fresh);
        expect(await etcd.getAll().prefix("/services/r2/").strings()).to.deep.equal({
            "/services/r2/kept/scheme": "http",
            "/services/r2/kept/hosts/0": "10.13.1.9:80",
            "/services/r2/fresh/scheme": "http",
            "/services/r2/fresh/hosts/0": "10.13.2.1:80",
        });
        await provider.delete!(created.id, updated.outs);
        await provider.delete!(again.id, again.outs);
        expect(await etcd.getAll().prefix("/services/r2/").keys()).to.deep.equal([]);
    });

    it("a create whose result the engine never recorded, recovered by id (refresh --import-pending-creates / import): read restores the owned keys, update and delete work", async () => {
        // The engine was killed after create wrote to etcd: state has only the pending create's inputs and
        // the id, which the owner marker names. Recovery reads by that id with those inputs.
        const inputs = await checked("lost", { service: "lost", scheme: "http", hosts: ["10.13.3.1:80", "10.13.3.2:80"], prefix: "/services/r3" });
        const { id, outs } = await provider.create(inputs);
        const marker = JSON.parse((await etcd.get("/coreos-cluster/owners/services/r3/lost").string())!);
        expect(marker.owner).to.equal(id);

        const recovered = (await provider.read!(id, inputs)).props as Record<string, any>;
        expect(recovered.ownedKeys, "ownership comes back from the marker").to.have.members(outs.ownedKeys);
        const updated = await provider.update!(id, recovered, { ...inputs, hosts: ["10.13.3.1:80"] });
        await provider.delete!(id, updated.outs);
        expect(await etcd.getAll().prefix("/services/r3/").strings(), "delete removes every key it wrote").to.deep.equal({});
        expect(await etcd.get("/coreos-cluster/owners/services/r3/lost").string()).to.equal(null);
    });
});

describe("reliability: FleetUnit against a fleet API that answers 503 or hangs (conformance server, 127.0.13.31)", function () {
    this.timeout(120_000);
    let fleet: FleetConformanceServer;

    before(async () => {
        fleet = await FleetConformanceServer.start({ host: "127.0.13.31" });
    });
    beforeEach(() => {
        fleet.faults.splice(0);
        for (const name of fleet.unitNames()) fleet.removeByHand(name);
    });
    after(async () => {
        await fleet?.close();
    });

    function state(name: string, extra: Record<string, unknown> = {}): FleetUnitState {
        const checked = checkFleetUnit({}, {
            endpoint: fleet.endpoint,
            name,
            options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }],
            requestTimeoutMs: 500,
            retries: 2,
            retryDelayMs: 50,
            waitTimeoutSeconds: 10,
            pollIntervalMs: 50,
            ...extra,
        });
        expect(checked.failures ?? []).to.deep.equal([]);
        return checked.inputs as FleetUnitState;
    }

    const puts = (name: string) => fleet.requests.filter((r) => r.method === "PUT" && r.path.endsWith(`/units/${name}`)).length;

    it("503 on every PUT: 3 attempts (retries: 2), then a clear failure, and no unit in fleet", async () => {
        fleet.faults.push({ kind: "unavailable", method: "PUT" });
        let err: Error | undefined;
        await createFleetUnit(state("down.service")).catch((e) => (err = e));
        expect(err?.message).to.contain('fleet unit "down.service": create failed');
        expect(err?.message).to.match(/failed after 3 attempts/);
        expect(err?.message).to.contain("HTTP 503");
        expect(puts("down.service")).to.equal(3);
        expect(fleet.unitNames()).to.deep.equal([]);
    });

    it("a PUT that never answers: bounded by the request timeout and retries, then a clear failure, and no unit", async () => {
        fleet.faults.push({ kind: "hang", method: "PUT" });
        let err: Error | undefined;
        await createFleetUnit(state("hung.service", { retries: 1 })).catch((e) => (err = e));
        expect(err?.message).to.contain('fleet unit "hung.service": create failed');
        expect(err?.message).to.match(/failed after 2 attempts/);
        expect(err?.message).to.contain("no answer within 500 ms");
        expect(puts("hung.service")).to.equal(2);
        expect(fleet.unitNames()).to.deep.equal([]);
    });

    it("the unit was stored but fleet's state API then answers 503: create fails and rolls the unit back", async () => {
        fleet.faults.push({ kind: "unavailable", method: "GET", path: "/state" });
        let err: Error | undefined;
        await createFleetUnit(state("half.service")).catch((e) => (err = e));
        expect(err?.message).to.contain('fleet unit "half.service": create failed');
        expect(puts("half.service"), "the unit was pushed").to.equal(1);
        expect(fleet.requests.some((r) => r.method === "DELETE" && r.path.endsWith("/units/half.service")), "and rolled back").to.equal(true);
        expect(fleet.unitNames()).to.deep.equal([]);
    });

    it("two 503s then success: retries absorb a short outage and the unit is launched", async () => {
        fleet.faults.push({ kind: "unavailable", method: "PUT", times: 2 });
        const created = await createFleetUnit(state("blip.service"));
        expect(created.id).to.equal("blip.service");
        expect(fleet.unit("blip.service")?.currentState).to.equal("launched");
        expect(puts("blip.service")).to.equal(3);
    });
});

describe("reliability: a killed worker proxy on the local platform (127.0.13.50-53)", function () {
    this.timeout(180_000);
    let root: string;
    let states: LocalMachineState[] = [];
    const startedPids = new Map<number, string>();

    function inputsFor(): LocalMachineInputs[] {
        // Machines on their own, on loopback: validated on a VPC address, then moved (a stack cannot ask for loopback).
        const validated = loadConfig({ platform: "local", clusterName: "rel", localFirstAddress: "10.213.13.50", localWorkers: 1, osImage: "image" }, "local");
        const config = { ...validated, local: { ...validated.local, firstAddress: "127.0.13.50" } };
        const plan = planCluster(config);
        // Mutual TLS: each machine fetches its bundle from the local secret store; the probes use the deployer's identity.
        const tls = localTls(config, plan, root);
        client = tls.identity("deployer");
        return localMachineSpecs(config, plan, renderMachines(config, plan), root).map((spec) => ({ ...spec, providerVersion: "test", tlsStore: tls.tlsStoreOf(spec) }));
    }
    let client: { ca: string; cert: string; key: string } | undefined;

    function v2Get(url: string): Promise<number> {
        return new Promise((resolve) => {
            const transport: typeof http = url.startsWith("https:") ? require("https") : http;
            const req = transport.get(`${url}/v2/keys/?quorum=false`, { timeout: 3000, ...(client ? { ca: client.ca, cert: client.cert, key: client.key, agent: false } : {}) }, (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
            });
            req.on("timeout", () => req.destroy());
            req.on("error", () => resolve(0));
        });
    }

    before(async () => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-local-"));
        const inputs = inputsFor();
        const create = async (i: LocalMachineInputs) => (await localMachineProvider.create(i)).outs as LocalMachineState;
        states = await Promise.all(inputs.filter((i) => i.role === "etcd").map(create));
        states.push(...(await Promise.all(inputs.filter((i) => i.role === "worker").map(create))));
        for (const s of states) startedPids.set(s.pid!, s.dataDir);
        await waitClusterReady({
            cluster: "rel",
            memberClientUrls: states.filter((s) => s.role === "etcd").map((s) => s.clientUrl),
            proxyUrls: states.filter((s) => s.role === "worker").map((s) => s.clientUrl),
            memberProbeTls: states.filter((s) => s.role === "etcd").map((s) => s.probeTls),
            proxyProbeTls: states.filter((s) => s.role === "worker").map((s) => s.probeTls),
            pids: [],
            timeoutSeconds: 60,
            providerVersion: "test",
        });
    });
    after(async () => {
        for (const s of states) await localMachineProvider.delete!(s.name, s).catch(() => undefined);
        for (const [pid, dataDir] of startedPids) if (isMachineEtcd(pid, dataDir)) process.kill(pid, "SIGKILL");
        if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    it("read reports the killed proxy not running, diff asks for an in-place update, update brings it back serving", async () => {
        const proxy = states.find((s) => s.role === "worker")!;
        expect(proxy.mode).to.equal("proxy");
        expect(await v2Get(proxy.clientUrl)).to.equal(200);
        process.kill(proxy.pid!, "SIGKILL");
        for (let i = 0; i < 100 && isMachineEtcd(proxy.pid, proxy.dataDir); i++) await sleep(100);
        expect(await v2Get(proxy.clientUrl), "the proxy no longer answers").to.equal(0);

        const read = (await localMachineProvider.read!(proxy.name, proxy)).props as LocalMachineState;
        expect(read.running).to.equal(false);
        expect(read).to.not.have.property("pid");
        const { pid: _p, running: _r, clientUrl: _c, dataDir: _d, logFile: _l, mode: _m, ignored: _i, ...inputs } = read;
        const diff = await localMachineProvider.diff!(proxy.name, read, inputs);
        expect(diff.changes).to.equal(true);
        expect(diff.replaces).to.deep.equal([]);

        const updated = (await localMachineProvider.update!(proxy.name, read, inputs)).outs as LocalMachineState;
        startedPids.set(updated.pid!, updated.dataDir);
        states = states.map((s) => (s.name === proxy.name ? updated : s));
        expect(updated.running).to.equal(true);
        expect(updated.pid).to.not.equal(proxy.pid);
        expect(isMachineEtcd(updated.pid, updated.dataDir)).to.equal(true);
        expect(await v2Get(updated.clientUrl), "the restored proxy serves again").to.equal(200);
    });
});
