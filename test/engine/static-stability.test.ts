// Static stability on the real local stack (issue 23, item 5): every etcd member is killed for longer
// than autohealing's initial delay plus its failure threshold, while a client calls `web` through the
// load balancer the whole time. Not one call fails, no worker leaves the rotation, none is recreated,
// and no router restarts; once `pulumi up` brings the members back, a change in etcd is routed again.
// Runs on a scratch copy of the project (fresh backend, the VPC on 10.213.27.0/24, the cluster renamed
// `estat`), so neither the developer's stack nor the other engine tests are touched.
// Fails (does not skip) when the engine is missing, unless COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { etcdctlTlsFlags } from "../support/engine-tls";
import { expect } from "chai";
import * as fs from "fs";
import { processPaths } from "../../components/local/machine-process";
import { readBalancerStatus } from "../../components/local/local-load-balancer-provider";
import { namespaceName } from "../../components/local/vpc/addressing";
import { execInNamespace } from "../../components/local/vpc/spawn";
import { autohealingHealthCheck } from "../../model/health-checks";
import { restarts, scratchLocalStack, viaLoadBalancer, waitFor, webThroughout } from "../support/scratch-local-stack";

const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

describe("static stability on the local stack: etcd away, nothing that works stops @engine", function () {
    this.timeout(20 * 60 * 1000);
    const stack = scratchLocalStack({ cluster: "estat", range: "10.213.27.", label: "static-stability" });

    it("@engine every member killed past autohealing's window: 0 failed requests, no worker out of rotation or recreated; changes flow once etcd is back", async function () {
        const outputs = await stack.up();
        const { cluster, scratch } = stack;
        const lb: string = outputs.loadBalancerIp;
        const resources = await cluster.resources();
        const members = resources.filter((r) => r.outputs?.mode === "member").map((r) => ({ name: r.urn.split("::").pop()!, pid: r.outputs!.pid as number }));
        const workers = resources
            .filter((r) => r.outputs?.mode === "proxy")
            .map((r) => ({ name: r.urn.split("::").pop()!, root: r.outputs!.root as string, address: r.outputs!.address as string }));
        // The LocalLoadBalancer (a dynamic resource): the one whose state carries the autohealing plan.
        const balancer = resources.find((r) => r.outputs?.autohealing !== undefined && typeof r.outputs?.root === "string");
        expect(balancer, "the local load balancer in the state").to.not.equal(undefined);
        expect(members.length).to.equal(3);
        expect(workers.length).to.be.greaterThan(1);
        const status = () => readBalancerStatus(balancer!.outputs!.root)!;
        const web = () => viaLoadBalancer(lb, "/x", "web.example.com");
        await waitFor("web through the load balancer", async () => /^web on /.test((await web()).body));
        await waitFor("every worker in rotation", async () => Object.values(status().backends).every((b) => b.loadBalancer.healthy), 90000);
        const routerLogs = () => workers.map((w) => fs.readFileSync(processPaths(w.root, "router").logFile, "utf8"));
        const restartsBefore = routerLogs().map(restarts);
        const recreationsBefore = Object.fromEntries(Object.entries(status().backends).map(([n, b]) => [n, b.recreations]));

        const outOfRotation = new Set<string>();
        let seen = { ok: 0, failures: [] as string[] };
        const client = webThroughout(lb, () => {
            for (const [name, b] of Object.entries(status().backends)) if (!b.loadBalancer.healthy) outOfRotation.add(name);
        });

        // Longer than a worker's autohealing window: its failures would count from the start (the initial
        // delay is long past) and unhealthyThreshold of them, checkIntervalSec apart, recreate it.
        const heal = autohealingHealthCheck({ platform: "local", healthCheck: { port: 10256, path: "/healthz" } } as never);
        const outageMs = (heal.unhealthyThreshold * heal.checkIntervalSec + 2 * heal.checkIntervalSec) * 1000;
        try {
            for (const m of members) process.kill(m.pid, "SIGKILL");
            await waitFor("every member dead", async () => members.every((m) => !alive(m.pid)));
            const start = Date.now();
            while (Date.now() - start < outageMs) {
                await new Promise((r) => setTimeout(r, 2000));
                expect(members.some((m) => alive(m.pid)), "the members stay down").to.equal(false);
            }
        } finally {
            seen = await client.stop();
        }
        expect(seen.failures, "failed requests to web through the load balancer during the outage").to.deep.equal([]);
        expect(seen.ok, "web was called throughout").to.be.greaterThan(50);
        expect([...outOfRotation], "workers taken out of rotation").to.deep.equal([]);
        expect(Object.fromEntries(Object.entries(status().backends).map(([n, b]) => [n, b.recreations])), "workers recreated by autohealing").to.deep.equal(recreationsBefore);
        expect(routerLogs().map(restarts), "no router restarted").to.deep.equal(restartsBefore);

        // etcd back: `pulumi up` restarts the members; a new host is routed.
        await cluster.up();
        const memberNs = namespaceName(outputs.etcdMemberNames[0]);
        const put = await execInNamespace(memberNs, "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...etcdctlTlsFlags(outputs, scratch), "--endpoints", outputs.etcdClientUrls.join(","), "put", `${outputs.servicesPrefix}/back/scheme`, "http"], 30000);
        expect(put.code, put.stderr).to.equal(0);
        const host = await execInNamespace(memberNs, "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...etcdctlTlsFlags(outputs, scratch), "--endpoints", outputs.etcdClientUrls.join(","), "put", `${outputs.servicesPrefix}/back/hosts/0`, `${workers[0].address}:8080`], 30000);
        expect(host.code, host.stderr).to.equal(0);
        await waitFor("a change after the outage routed through the load balancer", async () => {
            const res = await viaLoadBalancer(lb, "/back/y", lb);
            return res.status === 200 && res.body.includes(`on ${workers[0].address}:8080 /y`);
        });
    });
});
