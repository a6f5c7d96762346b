// @engine Metrics on a real local stack (issue 24 item 4): Debian's Prometheus, run by the local
// platform in its own namespace of the VPC (the monitoring range's stand-in), scrapes every member's
// etcd metrics listener and every worker's HAProxy exporter through the firewall; every target is up,
// and a query answers each member's leader status and each worker's backend state. The metrics ports
// answer the Prometheus namespace, not the load balancer's. Its own scratch stack on 10.213.32.0/24
// (test/support/scratch-local-stack.ts); every wait is bounded, no timing is asserted.
import { expect } from "chai";
import * as http from "http";
import type { LocalView } from "../../model/local-view";
import { ETCD_METRICS_PORT, ROUTER_METRICS_PORT } from "../../model/ports";
import { httpGetInNamespace } from "../../components/local/vpc/spawn";
import { scratchLocalStack, waitFor } from "../support/scratch-local-stack";

const CLUSTER = "emet";
const RANGE = "10.213.32.";

/** GET from this machine (the deployer, which the Prometheus namespace admits) as JSON. */
function getJson(url: string): Promise<any> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { agent: false, timeout: 10000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 300)}`))));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url}: timeout`)));
        req.on("error", reject);
    });
}

interface Sample {
    metric: Record<string, string>;
    value: [number, string];
}

describe("metrics on the real local stack: Prometheus scrapes every member and worker @engine", function () {
    this.timeout(15 * 60 * 1000);
    const s = scratchLocalStack({ cluster: CLUSTER, range: RANGE, label: "local-metrics" });
    let view: LocalView;
    let url: string;
    const query = async (promql: string): Promise<Sample[]> => {
        const r = await getJson(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
        expect(r.status, promql).to.equal("success");
        return r.data.result as Sample[];
    };

    before(async function () {
        const outputs = await s.up();
        view = outputs.localCluster;
        url = outputs.prometheusUrl;
    });

    it("says where Prometheus's UI is: a stack output and the summary's line, on .3 of the VPC", () => {
        expect(url).to.equal(`http://${RANGE}3:9090`);
        expect(view.prometheus?.url).to.equal(url);
        expect(s.upRun!.stdout).to.contain(`Metrics: ${url}/`);
    });

    it("reports every target up: etcd on every member, HAProxy's exporter on every worker", async () => {
        const members = view.machines.filter((m) => m.role === "etcd");
        const workers = view.machines.filter((m) => m.role === "worker");
        const expected = [...members.map((m) => `etcd ${m.address}:${ETCD_METRICS_PORT}`), ...workers.map((w) => `haproxy ${w.address}:${ROUTER_METRICS_PORT}`)].sort();
        const targets = await waitFor(
            "every scrape target up",
            async () => {
                const r = await getJson(`${url}/api/v1/targets?state=active`);
                const active = r.data.activeTargets as Array<{ labels: Record<string, string>; health: string; lastError: string }>;
                return active.length === expected.length && active.every((t) => t.health === "up") ? active : undefined;
            },
            180000,
        ).catch(async (err) => {
            const r = await getJson(`${url}/api/v1/targets?state=active`).catch(() => ({ data: { activeTargets: [] } }));
            throw new Error(`${(err as Error).message}: ${JSON.stringify(r.data.activeTargets.map((t: any) => [t.labels.instance, t.health, t.lastError]))}`);
        });
        expect(targets.map((t) => `${t.labels.job} ${t.labels.instance}`).sort()).to.deep.equal(expected);
        expect(new Set(targets.map((t) => t.labels.machine))).to.deep.equal(new Set(view.machines.map((m) => m.name)));
    });

    it("answers each member's leader status: every member has a leader, exactly one is it", async () => {
        const members = view.machines.filter((m) => m.role === "etcd").map((m) => m.name).sort();
        const hasLeader = await waitFor("etcd_server_has_leader for every member", async () => {
            const r = await query("etcd_server_has_leader");
            return r.length === members.length ? r : undefined;
        }, 60000);
        expect(hasLeader.map((x) => x.metric.machine).sort()).to.deep.equal(members);
        for (const x of hasLeader) expect(x.value[1], x.metric.machine).to.equal("1");
        const isLeader = await query("etcd_server_is_leader");
        expect(isLeader.map((x) => x.metric.machine).sort()).to.deep.equal(members);
        expect(isLeader.filter((x) => x.value[1] === "1"), "one leader").to.have.length(1);
    });

    it("answers each worker's backend state: every worker's web backend UP, each server of it UP", async () => {
        const workers = view.machines.filter((m) => m.role === "worker").map((m) => m.name).sort();
        const web = view.services.find((s) => s.name === "web")!;
        const backends = await waitFor("haproxy_backend_status of http_web UP on every worker", async () => {
            const r = await query('haproxy_backend_status{proxy="http_web",state="UP"} == 1');
            return r.length === workers.length ? r : undefined;
        }, 60000);
        expect(backends.map((x) => x.metric.machine).sort()).to.deep.equal(workers);
        const servers = await waitFor("haproxy_server_status of every web host UP on every worker", async () => {
            const r = await query('haproxy_server_status{proxy="http_web",state="UP"} == 1');
            return r.length === workers.length * web.hosts.length ? r : undefined;
        }, 60000);
        for (const w of workers) expect(servers.filter((x) => x.metric.machine === w), w).to.have.length(web.hosts.length);
    });

    it("admits the metrics ports from the monitoring range only: the load balancer's namespace is refused", async () => {
        const member = view.machines.find((m) => m.role === "etcd")!;
        const worker = view.machines.find((m) => m.role === "worker")!;
        const prometheusNs = view.prometheus!.namespace;
        // From the Prometheus namespace: answered (etcd's /health too, plain HTTP without a certificate).
        expect((await httpGetInNamespace(prometheusNs, `http://${member.address}:${ETCD_METRICS_PORT}/health`, 5000))?.status).to.equal(200);
        expect((await httpGetInNamespace(prometheusNs, `http://${worker.address}:${ROUTER_METRICS_PORT}/metrics`, 5000))?.status).to.equal(200);
        // From the load balancer's namespace (and its health checker): dropped by the firewall.
        expect(await httpGetInNamespace(view.loadBalancer.namespace, `http://${member.address}:${ETCD_METRICS_PORT}/metrics`, 2000)).to.equal(undefined);
        expect(await httpGetInNamespace(view.loadBalancer.namespace, `http://${worker.address}:${ROUTER_METRICS_PORT}/metrics`, 2000)).to.equal(undefined);
    });
});
