// Metrics on GCE under the SDK's mocks (issue 24 item 4): with a monitoring range, etcd's 2381 on the
// members and HAProxy's exporter 8405 on the workers are admitted from that range only (no tag, not
// the world, not the load balancer's probers); without one, from nowhere. The flow check runs on
// the user-data and the firewall rules the mocked program registered.
import { expect } from "chai";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { roleTag } from "../../../model/plan";
import { FirewallRuleSpec } from "../../../model/firewall";
import { ETCD_METRICS_PORT, ROUTER_METRICS_PORT } from "../../../model/ports";
import { etcdEnvironmentOf } from "../../../cloud-config";
import { checkFlows, deriveFlows, FlowMachine, routerEnvironmentOf } from "../../../flow-check/flows";
import { GCE, ProgramRun, REPO_ROOT, byType, one, portsOf, runProgram } from "../../support/mocks";

const MONITORING = ["10.30.0.0/24", "192.168.7.0/28"];
const METRICS_PORTS = [ETCD_METRICS_PORT, ROUTER_METRICS_PORT];

/** The firewall rules as the mocked program registered them, as the matrix's specs. */
function registeredRules(run: ProgramRun): FirewallRuleSpec[] {
    return byType(run.resources, GCE.firewall).map((r) => ({
        name: r.inputs.name,
        description: r.inputs.description,
        direction: r.inputs.direction,
        ...(r.inputs.sourceRanges ? { sourceRanges: r.inputs.sourceRanges } : {}),
        ...(r.inputs.sourceTags ? { sourceTags: r.inputs.sourceTags } : {}),
        targetTags: r.inputs.targetTags,
        allow: r.inputs.allows.map((a: { protocol: FirewallRuleSpec["allow"][number]["protocol"]; ports?: string[] }) => ({ protocol: a.protocol, ...(a.ports ? { ports: a.ports } : {}) })),
    }));
}

/** The machines' user-data as the mocked VMs and the workers' template carry it. */
function registeredMachines(run: ProgramRun): FlowMachine[] {
    return [
        ...byType(run.resources, GCE.instance).map((i) => ({ name: i.inputs.name, role: "etcd" as const, userData: i.inputs.metadata["user-data"] })),
        ...byType(run.resources, GCE.template).map((t) => ({ name: "worker", role: "worker" as const, userData: t.inputs.metadata["user-data"] })),
    ];
}

describe("metrics on GCE under mocks: the metrics ports only from the monitoring range", function () {
    const base = readStackFile("dev", REPO_ROOT);
    const monitoredRaw = { ...base, monitoringRanges: MONITORING };
    const config = loadConfig(monitoredRaw, "dev");
    const plan = planCluster(config);
    let monitored: ProgramRun;
    let plain: ProgramRun;

    before(async function () {
        // Loading and running the whole program under mocks takes a while on a busy machine.
        this.timeout(300_000);
        monitored = await runProgram({ stack: "dev", config: monitoredRaw, fresh: "all" });
        plain = await runProgram({ stack: "dev", config: base, fresh: "program" });
    });

    it("every member serves etcd's metrics listener and every worker HAProxy's exporter (the rendered user-data)", () => {
        const machines = registeredMachines(monitored);
        expect(machines.filter((m) => m.role === "etcd")).to.have.length(config.etcd.count);
        for (const m of machines.filter((x) => x.role === "etcd")) expect(etcdEnvironmentOf(m.userData).ETCD_LISTEN_METRICS_URLS, m.name).to.equal(`http://$private_ipv4:${ETCD_METRICS_PORT}`);
        for (const m of machines.filter((x) => x.role === "worker")) expect(routerEnvironmentOf(m.userData).ROUTER_METRICS_PORT).to.equal(String(ROUTER_METRICS_PORT));
    });

    it("admits 2381 on members and 8405 on workers from the monitoring ranges only: no tag, no other range, no other role", () => {
        const rules = byType(monitored.resources, GCE.firewall).map((r) => r.inputs);
        const admitting = (port: number) => rules.filter((r) => portsOf(r.allows).includes(port));
        const etcdRule = one(admitting(ETCD_METRICS_PORT));
        const routerRule = one(admitting(ROUTER_METRICS_PORT));
        expect(etcdRule).to.deep.include({ name: `${config.name}-etcd-metrics`, sourceRanges: MONITORING, targetTags: [roleTag(config.name, "etcd")] });
        expect(routerRule).to.deep.include({ name: `${config.name}-router-metrics`, sourceRanges: MONITORING, targetTags: [roleTag(config.name, "worker")] });
        for (const r of [etcdRule, routerRule]) {
            expect(r.sourceTags ?? [], r.name).to.deep.equal([]);
            expect(portsOf(r.allows), r.name).to.have.length(1);
        }
        // No other rule lets anyone reach a metrics port.
        for (const r of rules.filter((x) => x !== etcdRule && x !== routerRule)) {
            expect(portsOf(r.allows).filter((p) => METRICS_PORTS.includes(p)), r.name).to.deep.equal([]);
            expect(r.allows.every((a: { ports?: string[] }) => a.ports !== undefined), `${r.name} admits every port of a protocol`).to.equal(true);
        }
    });

    it("passes the flow check on what was registered: the metrics flows come from the monitoring ranges and nothing else is open", () => {
        const flows = deriveFlows(config, plan, registeredMachines(monitored));
        const metrics = flows.filter((f) => f.dialer === "monitoring (Prometheus)");
        expect(metrics.map((f) => `${f.to}:${f.port}`).sort()).to.deep.equal([`etcd:${ETCD_METRICS_PORT}`, `worker:${ROUTER_METRICS_PORT}`]);
        for (const f of metrics) expect("ranges" in f.from && f.from.ranges).to.deep.equal(MONITORING);
        expect(checkFlows(config, flows, registeredRules(monitored)).problems).to.deep.equal([]);
    });

    it("without a monitoring range (the dev stack as shipped) admits the metrics ports from nowhere, and the flow check agrees", () => {
        const rules = byType(plain.resources, GCE.firewall).map((r) => r.inputs);
        expect(rules.filter((r) => portsOf(r.allows).some((p) => METRICS_PORTS.includes(p))).map((r) => r.name)).to.deep.equal([]);
        const plainConfig = loadConfig(base, "dev");
        expect(checkFlows(plainConfig, deriveFlows(plainConfig, planCluster(plainConfig), registeredMachines(plain)), registeredRules(plain)).problems).to.deep.equal([]);
    });
});
