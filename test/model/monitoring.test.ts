// Metrics (issue 24 item 4) as data: the monitoring range's rules, the metrics ports in the port
// table, the firewall's metrics rules, the flow check's monitoring flows, the rendered listeners
// and the local Prometheus's scrape config.
import { expect } from "chai";
import YAML from "yaml";
import { loadConfig, validateConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { firewallMatrix } from "../../model/firewall";
import { metricsEndpoints, monitoringRanges, scrapeTargets } from "../../model/monitoring";
import { prometheusConfigData, prometheusConfigText } from "../../model/prometheus-config";
import { ETCD_METRICS_PORT, ROUTER_METRICS_PORT } from "../../model/ports";
import { renderMachines } from "../../cloud-config";
import { etcdEnvironmentOf } from "../../cloud-config/inspect";
import { checkFlows, deriveFlows, routerEnvironmentOf } from "../../flow-check/flows";
import { renderHaproxyConfig } from "../../router/haproxy-config";
import { gcpRaw, localRaw } from "./raw-configs";

const problemsOf = (raw: Record<string, unknown>, stack = "dev") => validateConfig(raw, stack).problems;

describe("model/monitoring: metrics only from the monitoring range", () => {
    describe("monitoringRanges", () => {
        it("defaults to none on GCE (the metrics ports admitted from nowhere) and to the local Prometheus's own address locally", () => {
            expect(monitoringRanges(loadConfig(gcpRaw(), "dev"))).to.deep.equal([]);
            expect(monitoringRanges(loadConfig(localRaw(), "local"))).to.deep.equal([loadConfig(localRaw(), "local").local.firstAddress.replace(/\d+$/, "3/32")]);
            expect(monitoringRanges(loadConfig(gcpRaw({ monitoringRanges: ["10.20.0.0/24"] }), "dev"))).to.deep.equal(["10.20.0.0/24"]);
        });

        const cases: Array<{ what: string; raw: Record<string, unknown>; stack?: string; key: string; message: RegExp }> = [
            { what: "a malformed range", raw: gcpRaw({ monitoringRanges: ["10.20.0.0/24", "10.0.0.300/24"] }), key: "coreos-cluster:monitoringRanges[1]", message: /./ },
            { what: "a duplicate range", raw: gcpRaw({ monitoringRanges: ["10.20.0.0/24", "10.20.0.0/24"] }), key: "coreos-cluster:monitoringRanges[1]", message: /duplicate range/ },
            { what: "the world", raw: gcpRaw({ monitoringRanges: ["0.0.0.0/0"] }), key: "coreos-cluster:monitoringRanges", message: /opens the metrics ports to the internet: 0\.0\.0\.0\/0 admits 100%.*never the world/ },
            { what: "the world in halves", raw: gcpRaw({ monitoringRanges: ["0.0.0.0/1", "128.0.0.0/1"] }), key: "coreos-cluster:monitoringRanges", message: /opens the metrics ports to the internet/ },
            { what: "Google's load-balancer health checkers", raw: gcpRaw({ monitoringRanges: ["35.191.0.0/16"] }), key: "coreos-cluster:monitoringRanges[0]", message: /overlaps 35\.191\.0\.0\/16, a range of Google's load-balancer health checkers/ },
            { what: "the local load balancer's address", raw: localRaw({ monitoringRanges: ["10.213.10.0/24"] }), stack: "local", key: "coreos-cluster:monitoringRanges[0]", message: /overlaps 10\.213\.10\.2\/32, the local load balancer's address/ },
        ];
        for (const c of cases) {
            it(`refuses ${c.what}, naming the key`, () => {
                const problems = problemsOf(c.raw, c.stack);
                expect(problems.map((p) => p.key), JSON.stringify(problems)).to.include(c.key);
                expect(problems.find((p) => p.key === c.key)!.message).to.match(c.message);
            });
        }
    });

    describe("the metrics ports in the port table", () => {
        const cases: Array<{ raw: Record<string, unknown>; key: string; port: number; role: RegExp }> = [
            { raw: gcpRaw({ healthCheckPort: ROUTER_METRICS_PORT }), key: "coreos-cluster:healthCheckPort", port: ROUTER_METRICS_PORT, role: /HAProxy's Prometheus exporter \(router metrics \(port 8405\)\)/ },
            { raw: gcpRaw({ lbTcpPorts: [ETCD_METRICS_PORT] }), key: "coreos-cluster:lbTcpPorts[0]", port: ETCD_METRICS_PORT, role: /etcd's metrics listener \(etcd metrics \(port 2381\)\)/ },
            { raw: gcpRaw({ services: [{ name: "db", scheme: "tcp", hosts: ["10.10.0.20:5432"], host_port: ROUTER_METRICS_PORT }] }), key: "coreos-cluster:services[0].host_port", port: ROUTER_METRICS_PORT, role: /HAProxy's Prometheus exporter/ },
        ];
        for (const c of cases) {
            it(`refuses ${c.key} on port ${c.port}, naming both roles`, () => {
                const problem = problemsOf(c.raw).find((p) => p.key === c.key);
                expect(problem, c.key).to.not.equal(undefined);
                expect(problem!.message).to.match(new RegExp(`^port ${c.port} is `)).and.to.match(c.role).and.to.match(/every role needs a port of its own/);
            });
        }

        it("the router skips a service whose host_port in etcd takes the exporter's port, the others keep routing", () => {
            const keys = { "/services/a/scheme": "tcp", "/services/a/hosts/0": "10.10.0.20:9000", "/services/a/host_port": String(ROUTER_METRICS_PORT), "/services/web/scheme": "http", "/services/web/hosts/0": "10.10.0.21:8080" };
            const result = renderHaproxyConfig(keys, { prefix: "/services", httpPorts: [80], healthPort: 10256, memberAddresses: [], bindAddress: "0.0.0.0", runDir: "/run/x", metricsPort: ROUTER_METRICS_PORT });
            expect(result.services.map((s) => s.name)).to.deep.equal(["web"]);
            expect(result.skipped.map((s) => s.service)).to.deep.equal(["a"]);
            expect(result.ok && result.text).to.match(/frontend metrics\n    mode http\n    bind 0\.0\.0\.0:8405\n    no log\n    http-request use-service prometheus-exporter if \{ path \/metrics \}/);
        });
    });

    describe("firewall and flow check", () => {
        const monitored = loadConfig(gcpRaw({ monitoringRanges: ["10.20.0.0/24", "192.168.50.0/24"] }), "dev");
        const plan = planCluster(monitored);
        const rules = firewallMatrix(monitored, plan);
        const metricsRules = rules.filter((r) => r.allow.some((a) => (a.ports ?? []).some((p) => p === String(ETCD_METRICS_PORT) || p === String(ROUTER_METRICS_PORT))));

        it("admits etcd's 2381 on members and HAProxy's 8405 on workers from the monitoring ranges only, one rule per role", () => {
            expect(metricsRules.map((r) => ({ name: r.name, from: r.sourceRanges, tags: r.sourceTags, to: r.targetTags, allow: r.allow }))).to.deep.equal([
                { name: "demo-etcd-metrics", from: ["10.20.0.0/24", "192.168.50.0/24"], tags: undefined, to: ["demo-etcd"], allow: [{ protocol: "tcp", ports: ["2381"] }] },
                { name: "demo-router-metrics", from: ["10.20.0.0/24", "192.168.50.0/24"], tags: undefined, to: ["demo-worker"], allow: [{ protocol: "tcp", ports: ["8405"] }] },
            ]);
        });

        it("admits the metrics ports from nowhere without a monitoring range", () => {
            const plain = loadConfig(gcpRaw(), "dev");
            const all = firewallMatrix(plain, planCluster(plain));
            expect(all.filter((r) => r.name.endsWith("-metrics"))).to.deep.equal([]);
            expect(checkFlows(plain, deriveFlows(plain, planCluster(plain), renderMachines(plain, planCluster(plain))), all).problems).to.deep.equal([]);
        });

        it("the flow check derives the metrics flows from the rendered listeners, from the monitoring ranges only, and the matrix admits exactly them", () => {
            const flows = deriveFlows(monitored, plan, renderMachines(monitored, plan));
            const metrics = flows.filter((f) => f.dialer === "monitoring (Prometheus)");
            expect(metrics.map((f) => `${"ranges" in f.from ? f.from.ranges.join(",") : f.from.role}>${f.to}:${f.port}`).sort()).to.deep.equal([
                "10.20.0.0/24,192.168.50.0/24>etcd:2381",
                "10.20.0.0/24,192.168.50.0/24>worker:8405",
            ]);
            expect(checkFlows(monitored, flows, rules).problems).to.deep.equal([]);
        });

        it("names a metrics rule wider than the monitoring range as open for nothing, and a missing one as a broken flow", () => {
            const flows = deriveFlows(monitored, plan, renderMachines(monitored, plan));
            const wider = rules.map((r) => (r.name === "demo-router-metrics" ? { ...r, sourceRanges: ["10.0.0.0/8"] } : r));
            expect(checkFlows(monitored, flows, wider).problems.join("\n")).to.match(/open for no flow: rule demo-router-metrics lets 10\.0\.0\.0\/8 reach worker on tcp\/8405/);
            const missing = rules.filter((r) => r.name !== "demo-etcd-metrics");
            expect(checkFlows(monitored, flows, missing).problems.join("\n")).to.match(/not admitted by any firewall rule: monitoring \(Prometheus\): monitoringRanges \(10\.20\.0\.0\/24, 192\.168\.50\.0\/24\) -> etcd tcp\/2381/);
        });

        it("renders the listeners the flows come from: plain HTTP etcd metrics on the member's own address, the router's exporter port", () => {
            const machines = renderMachines(monitored, plan);
            for (const m of machines.filter((x) => x.role === "etcd")) expect(etcdEnvironmentOf(m.userData).ETCD_LISTEN_METRICS_URLS).to.equal("http://$private_ipv4:2381");
            for (const m of machines.filter((x) => x.role === "worker")) expect(routerEnvironmentOf(m.userData).ROUTER_METRICS_PORT).to.equal("8405");
        });

        it("Container Linux's etcd2 (2.3) has no metrics listener: no ETCD_LISTEN_METRICS_URLS, no etcd metrics rule", () => {
            const classic = loadConfig(gcpRaw({ osFlavor: "container-linux", osImage: "projects/p/global/images/own-coreos", monitoringRanges: ["10.20.0.0/24"] }), "dev");
            const p = planCluster(classic);
            expect(metricsEndpoints(classic).map((e) => e.job)).to.deep.equal(["haproxy"]);
            expect(firewallMatrix(classic, p).map((r) => r.name).filter((n) => n.endsWith("-metrics"))).to.deep.equal(["demo-router-metrics"]);
            const machines = renderMachines(classic, p);
            expect(checkFlows(classic, deriveFlows(classic, p, machines), firewallMatrix(classic, p)).problems).to.deep.equal([]);
        });
    });

    describe("the local Prometheus's scrape config", () => {
        const config = loadConfig(localRaw(), "local");
        const plan = planCluster(config);

        it("scrapes every member's etcd and every worker's HAProxy exporter, labelled by machine, as YAML the yaml library reads back", () => {
            const text = prometheusConfigText(scrapeTargets(config, plan), { cluster: config.name, scrapeIntervalSeconds: 5 });
            expect(text.startsWith("# Generated by coreos-cluster")).to.equal(true);
            const data = YAML.parse(text);
            expect(data).to.deep.equal(prometheusConfigData(scrapeTargets(config, plan), { cluster: config.name, scrapeIntervalSeconds: 5 }));
            const jobs = data.scrape_configs as Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[]; labels: Record<string, string> }> }>;
            expect(jobs.map((j) => j.job_name)).to.deep.equal(["etcd", "haproxy"]);
            expect(jobs[0].static_configs.map((s) => s.targets[0])).to.deep.equal(plan.members.map((m) => `${m.privateIp}:2381`));
            expect(jobs[1].static_configs.map((s) => s.targets[0])).to.deep.equal(plan.workers.map((w) => `${w.privateIp}:8405`));
            expect(jobs[1].static_configs.map((s) => s.labels.machine)).to.deep.equal(plan.workers.map((w) => w.name));
            for (const j of jobs) expect(j.metrics_path).to.equal("/metrics");
        });
    });
});
