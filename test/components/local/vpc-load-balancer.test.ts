// The local load balancer and autohealing for real: a VPC of real namespaces and nftables from the
// firewall matrix, one etcd member and two workers booted from their rendered user-data (router,
// HAProxy, demo backends), and the balancer process in its own namespace. The plans are the
// shared ones with shorter intervals and delays (inputs of the resource), so the test runs in
// seconds; the mechanism is the one `npm run local` runs.
import { expect } from "chai";
import * as fs from "fs";
import { renderMachines } from "../../../cloud-config";
import { LocalTls, localTls } from "../../support/local-tls";
import { firewallMatrix, loadBalancedPorts } from "../../../model/firewall";
import { autohealingHealthCheck, loadBalancerHealthCheck } from "../../../model/health-checks";
import { localMachineSpecs } from "../../../components/local/local-cluster";
import { bootFreshMachine, shutdownMachine, LocalMachineState } from "../../../components/local/machine-lifecycle";
import { localLoadBalancerProvider, LocalLoadBalancerInputs } from "../../../components/local/local-load-balancer";
import { readBalancerStatus } from "../../../components/local/local-load-balancer-provider";
import { balancerDigest, balancerEntry } from "../../../components/local/balancer/bundle";
import { runningPid } from "../../../components/local/processes";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { applyRulesets, ensureVpc, readRecord, removeVpc } from "../../../components/local/vpc/netns";
import { execInNamespace } from "../../../components/local/vpc/spawn";
import { stopMachineProcess, runningProcessPid } from "../../../components/local/machine-process";
import { requireRoot, scratchDir, sweepTestVpcs, vpcFixture, vpcTestConfig } from "./vpc-support";
import * as path from "path";

const FIRST = "10.213.21.10";

async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const got = await probe();
        if (got !== undefined && got !== false) return got;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

describe("local load balancer: healthy workers only, the shared health checks through the firewall, autohealing (real netns, nft, etcd, HAProxy)", function () {
    this.timeout(180000);
    const config = vpcTestConfig("vpclb", {
        local: { firstAddress: FIRST, workers: 2, dataDir: ".x" },
        services: [{ name: "web", scheme: "http", hosts: ["10.213.21.11:8080", "10.213.21.12:8080"] }],
    } as never);
    const { plan, vpc } = vpcFixture(config);
    const matrix = firewallMatrix(config, plan);
    const machines = renderMachines(config, plan);
    let dataDir: string;
    let specs: ReturnType<typeof localMachineSpecs>;
    let tls: LocalTls;
    const states: Record<string, LocalMachineState> = {};
    let lbState: (LocalLoadBalancerInputs & { pid?: number }) | undefined;
    const fast = {
        health: { ...loadBalancerHealthCheck(config), checkIntervalSec: 1, timeoutSec: 1 },
        autohealing: { ...autohealingHealthCheck(config), checkIntervalSec: 1, timeoutSec: 1, unhealthyThreshold: 3, initialDelaySec: 4 },
    };
    // For the failing-`up` cases: autohealing would rightly recreate workers whose probes fail (as a
    // GCE group does when the firewall drops its checks); these cases are about the balancer only.
    const patient = { ...fast.autohealing, initialDelaySec: 600 };
    const lbInputs = (over: Partial<LocalLoadBalancerInputs> = {}): LocalLoadBalancerInputs => ({
        name: "vpclb-ingress",
        namespace: vpc.probeNamespace,
        address: vpc.probeAddress,
        ports: loadBalancedPorts(config),
        backends: plan.workers.map((w) => ({ name: w.name, address: w.privateIp as string, root: specs.find((s) => s.name === w.name)!.root })),
        ...fast,
        root: path.join(dataDir, "vpclb-ingress"),
        entry: balancerEntry(),
        scriptSha256: balancerDigest(),
        readyTimeoutSeconds: 30,
        providerVersion: "test",
        ...over,
    });
    // The deployer, outside the VPC, asks the load balancer's address as a client on the internet would.
    const viaLoadBalancer = () => {
        const r = require("child_process").spawnSync("curl", ["-s", "-m", "2", "-H", "Host: web.example.com", `http://${vpc.probeAddress}/`], { encoding: "utf8" });
        return r.status === 0 ? (r.stdout as string) : undefined;
    };

    before(async function () {
        requireRoot();
        await sweepTestVpcs();
        dataDir = scratchDir();
        ensureVpc(vpc, vpcRulesets(vpc, matrix, config), { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) }, dataDir);
        specs = localMachineSpecs(config, plan, machines, dataDir, vpc);
        tls = localTls(config, plan, dataDir);
        for (const spec of specs) states[spec.name] = await bootFreshMachine({ ...spec, providerVersion: "test", tlsStore: tls.tlsStoreOf(spec) });
    });

    after(async function () {
        if (lbState) await localLoadBalancerProvider.delete!(lbState.name, lbState);
        for (const state of Object.values(states)) await shutdownMachine(state).catch(() => undefined);
        const record = readRecord(vpc.bridge);
        if (record) await removeVpc(record);
        if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("a worker that nothing answers the health check on fails `up`, naming the check, and leaves no balancer running (defect 3)", async function () {
        const inputs = lbInputs({ health: { ...fast.health, path: "/not-served" }, autohealing: patient, readyTimeoutSeconds: 5, root: path.join(dataDir, "unserved") });
        let error: Error | undefined;
        await localLoadBalancerProvider.create!(inputs).catch((err) => (error = err));
        expect(error?.message).to.match(/no traffic would reach 2 worker\(s\)/);
        expect(error?.message, error?.message).to.contain(`GET http://${plan.workers[0].privateIp}:${config.healthCheck.port}/not-served from ${vpc.probeAddress} last saw 404`);
        expect(error?.message).to.match(/healthCheckPort\/healthCheckPath/).and.to.contain("<cluster>-health-check firewall rule");
        expect(runningProcessPid(inputs.root, "load-balancer")).to.equal(undefined);
    });

    it("without the health-check firewall rule the probes are dropped and `up` fails the same way", async function () {
        const rule = matrix.find((r) => r.sourceRanges?.some((s) => s.startsWith("35.191.")))!;
        expect(rule, "the probers' rule").to.not.equal(undefined);
        applyRulesets(vpcRulesets(vpc, matrix.filter((r) => r !== rule), config));
        try {
            let error: Error | undefined;
            await localLoadBalancerProvider.create!(lbInputs({ autohealing: patient, readyTimeoutSeconds: 5, root: path.join(dataDir, "dropped") })).catch((err) => (error = err));
            expect(error?.message).to.match(/no traffic would reach 2 worker\(s\).*last saw (timeout|nothing yet)/);
        } finally {
            applyRulesets(vpcRulesets(vpc, matrix, config));
        }
    });

    it("with the matrix, `up` waits for both workers to pass and the deployer reaches the service at loadBalancerIp", async function () {
        // The service keys the providers would seed (no engine here), written on a member.
        const member = vpc.machines.find((m) => m.role === "etcd")!;
        // As the deployer would: mutual TLS with its identity (auth is not on without the engine's EtcdAccess).
        const creds = path.join(dataDir, "deployer-creds");
        fs.mkdirSync(creds, { recursive: true, mode: 0o700 });
        const id = tls.identity("deployer");
        for (const [f, t] of [["ca.pem", id.ca], ["cert.pem", id.cert], ["key.pem", id.key]]) fs.writeFileSync(path.join(creds, f), t, { mode: 0o600 });
        const put = (key: string, value: string) =>
            execInNamespace(member.namespace, "etcdctl", [`--cacert=${creds}/ca.pem`, `--cert=${creds}/cert.pem`, `--key=${creds}/key.pem`, "--endpoints", `https://${member.address}:2379`, "put", key, value]);
        for (const [key, value] of [["/services/web/scheme", "http"], ["/services/web/hosts/0", "10.213.21.11:8080"], ["/services/web/hosts/1", "10.213.21.12:8080"]]) {
            expect((await put(key, value)).code, key).to.equal(0);
        }
        const created = await localLoadBalancerProvider.create!(lbInputs());
        lbState = created.outs;
        expect(created.outs.ip).to.equal(vpc.probeAddress);
        const status = readBalancerStatus(lbInputs().root)!;
        expect(Object.values(status.backends).map((b) => b.loadBalancer.healthy)).to.deep.equal([true, true]);
        expect(await eventually("the routers to serve web", () => (/^web on /.test(viaLoadBalancer() ?? "") ? viaLoadBalancer() : undefined), 15000)).to.match(/^web on 10\.213\.21\.1[12]:8080/);
        // A port the balancer does not forward is closed on its address (its namespace admits only the forwarded ones).
        const closed = await execInNamespace(vpc.machines[0].namespace, "curl", ["-s", "-m", "2", `http://${vpc.probeAddress}:${config.healthCheck.port}/`]);
        expect(closed.code).to.not.equal(0);
    });

    it("takes a sick worker out of rotation: every request succeeds through the other", async function () {
        const sick = specs.find((s) => s.name === plan.workers[0].name)!;
        await stopMachineProcess(runningProcessPid(sick.root, "router"), sick.root, "router", 2000);
        await eventually("worker-0 unhealthy", () => readBalancerStatus(lbInputs().root)?.backends[sick.name].loadBalancer.healthy === false || undefined, 10000);
        const answers = Array.from({ length: 8 }, () => viaLoadBalancer());
        expect(answers.every((a) => a !== undefined), JSON.stringify(answers)).to.equal(true);
    });

    it("autohealing recreates the sick worker from its template once its failures outlast the initial delay", async function () {
        const sick = specs.find((s) => s.name === plan.workers[0].name)!;
        const before = runningPid(sick.root, states[sick.name].dataDir);
        const status = await eventually("the recreation", () => {
            const s = readBalancerStatus(lbInputs().root)?.backends[sick.name];
            return s && s.recreations >= 1 && !s.recreating && s.loadBalancer.healthy ? s : undefined;
        }, 60000);
        expect(status.lastRecreation?.ok, JSON.stringify(status.lastRecreation)).to.equal(true);
        const after = runningPid(sick.root, states[sick.name].dataDir);
        expect(after, "a new etcd proxy").to.be.a("number").and.not.equal(before);
        expect(runningProcessPid(sick.root, "router"), "a new router").to.be.a("number");
        // The healthy worker was left alone.
        expect(readBalancerStatus(lbInputs().root)!.backends[plan.workers[1].name].recreations).to.equal(0);
        expect(viaLoadBalancer()).to.match(/^web on /);
    });
});
