// Issue 22, "the router survives bad data", on the real local stack (real Pulumi engine, real etcd,
// real HAProxy, every machine in its own namespace behind the firewall, the load balancer in front):
// bad services are written into etcd while a client calls `web` through the load balancer the whole
// time. Not one call fails, every worker's health JSON lists each bad service with its reason, and
// no watcher restarts; services named like an object's built-in properties route.
// Runs on a scratch copy of the project (fresh backend, the VPC on 10.213.26.0/24, the cluster renamed
// `ebad`), so neither the developer's stack nor the other engine test is touched.
// Fails (does not skip) when the engine is missing, unless COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { etcdctlTlsFlags } from "../support/engine-tls";
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { processPaths } from "../../components/local/machine-process";
import { namespaceName } from "../../components/local/vpc/addressing";
import { execInNamespace } from "../../components/local/vpc/spawn";
import { keepCalling } from "../support/keep-calling";
import { restarts, scratchLocalStack, viaLoadBalancer, waitFor } from "../support/scratch-local-stack";

const TEST_RANGE = "10.213.26.";
const TEST_CLUSTER = "ebad";

interface Worker {
    name: string;
    namespace: string;
    address: string;
    root: string;
}

interface WorkerHealth {
    status: number;
    body: { config: { loaded: boolean; services?: string[]; skipped?: Array<{ service: string; problems: string[] }> }; problem?: unknown };
}

/** The worker's health check, asked from inside its own namespace (as its own probe would). */
async function workerHealth(w: Worker): Promise<WorkerHealth | undefined> {
    const r = await execInNamespace(w.namespace, "curl", ["-s", "-m", "10", "-w", "\n%{http_code}", `http://${w.address}:10256/healthz`], 15000);
    if (r.code !== 0) return undefined;
    const cut = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(cut + 1)), body: JSON.parse(r.stdout.slice(0, cut)) };
}

describe("router survives bad data on the local stack (real engine, real etcd, real HAProxy) @engine", function () {
    this.timeout(20 * 60 * 1000);
    const stack = scratchLocalStack({ cluster: TEST_CLUSTER, range: TEST_RANGE, label: "router bad-data" });

    it("@engine bad services in etcd: 0 failed requests through the load balancer, each one reported on every worker, no watcher restarts", async function () {
        const outputs = await stack.up();
        const { cluster, scratch } = stack;
        const lb: string = outputs.loadBalancerIp;
        expect(lb.startsWith(TEST_RANGE)).to.equal(true);
        const workers: Worker[] = (await cluster.resources())
            .filter((r) => r.outputs?.mode === "proxy")
            .map((r) => {
                const name = r.urn.split("::").pop()!;
                return { name, namespace: namespaceName(name), address: r.outputs!.address as string, root: r.outputs!.root };
            });
        expect(workers.length).to.be.greaterThan(1);
        const memberNs = namespaceName(outputs.etcdMemberNames[0]);
        const put = async (key: string, value: string) => {
            const r = await execInNamespace(memberNs, "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...etcdctlTlsFlags(outputs, scratch), "--endpoints", outputs.etcdClientUrls.join(","), "put", key, value], 30000);
            expect(r.code, `etcdctl put ${key}: ${r.stderr}`).to.equal(0);
        };
        const putTogether = async (entries: Array<[string, string]>) => {
            // etcdctl txn reads its request from stdin: no compares, a blank line, the puts, a blank line, no failure ops.
            const request = path.join(scratch, `txn-${process.pid}-${Date.now()}.txt`);
            fs.writeFileSync(request, ["", ...entries.map(([key, value]) => `put ${key} ${value}`), "", ""].join("\n") + "\n");
            const etcdctl = ["/usr/bin/env", "ETCDCTL_API=3", "etcdctl", ...etcdctlTlsFlags(outputs, scratch), "--endpoints", outputs.etcdClientUrls.join(","), "txn"];
            const r = await execInNamespace(memberNs, "/bin/sh", ["-c", 'request=$0; exec "$@" < "$request"', request, ...etcdctl], 30000);
            fs.rmSync(request, { force: true });
            expect(r.code, `etcdctl txn ${entries.map(([k]) => k).join(", ")}: ${r.stderr}`).to.equal(0);
            expect(r.stdout, "the transaction committed").to.match(/^SUCCESS/);
        };
        const web = () => viaLoadBalancer(lb, "/x", "web.example.com");
        await waitFor("web through the load balancer", async () => /^web on /.test((await web()).body));
        const logs = () => workers.map((w) => fs.readFileSync(processPaths(w.root, "router").logFile, "utf8"));
        const restartsBefore = logs().map(restarts);

        const client = keepCalling(async () => {
            const res = await web();
            return (res.status === 200 && /^web on 10\.213\.26\.1[34]:8080 \/x/.test(res.body)) || `${res.status} ${res.body.trim().slice(0, 200)}`;
        });
        let seen = { ok: 0, failures: [] as string[] };

        const prefix: string = outputs.servicesPrefix;
        const worker0 = workers[0].address;
        const bad: Array<{ service: string; keys: Record<string, string>; reason: RegExp }> = [
            { service: "metadata", keys: { scheme: "http", "hosts/0": "169.254.169.254:80" }, reason: /link-local/ },
            { service: "member", keys: { scheme: "http", "hosts/0": `${outputs.etcdMemberIps[0]}:8080` }, reason: /etcd member/ },
            { service: "loop", keys: { scheme: "http", "hosts/0": "127.0.0.1:2379" }, reason: /loopback/ },
            { service: "squat", keys: { scheme: "tcp", host_port: "6379", "hosts/0": `${worker0}:8080` }, reason: /redis registered it first/ },
            { service: "sshport", keys: { scheme: "tcp", host_port: "22", "hosts/0": `${worker0}:8080` }, reason: /system port/ },
            { service: "Bad_Name", keys: { scheme: "http" }, reason: /is not a service name/ },
            { service: "valueof", keys: { scheme: "udp" }, reason: /must be http or tcp/ },
        ];
        try {
            // Each bad service in one transaction, as a deployer writes a service: the router then sees
            // it whole, never a half-written state with a problem of its own (reported on its own line).
            for (const b of bad) await putTogether(Object.entries(b.keys).map(([field, value]) => [`${prefix}/${b.service}/${field}`, value]));
            for (const name of ["constructor", "hasownproperty", "tostring"]) {
                await put(`${prefix}/${name}/scheme`, "http");
                await put(`${prefix}/${name}/hosts/0`, `${worker0}:8080`);
            }
            for (const w of workers) {
                const h = await waitFor(`${w.name} reports every bad service`, async () => {
                    const res = await workerHealth(w);
                    const skipped = res?.body.config.skipped ?? [];
                    return bad.every((b) => skipped.some((s) => s.service === b.service)) ? res : undefined;
                });
                for (const b of bad) {
                    const entry = h!.body.config.skipped!.find((s) => s.service === b.service)!;
                    expect(entry.problems.some((p) => b.reason.test(p)), `${w.name} ${b.service}: ${entry.problems.join(" | ")}`).to.equal(true);
                }
            }
            for (const name of ["constructor", "hasownproperty", "tostring"]) {
                await waitFor(`${name} routed through the load balancer`, async () => {
                    const res = await viaLoadBalancer(lb, `/${name}/y`, lb);
                    return res.status === 200 && res.body.includes(`on ${worker0}:8080 /y`);
                });
            }
        } finally {
            seen = await client.stop();
        }
        expect(seen.failures, "failed requests to web through the load balancer").to.deep.equal([]);
        expect(seen.ok, "web was called throughout").to.be.greaterThan(20);
        for (const w of workers) {
            const h = (await workerHealth(w))!;
            expect(h.status, `${w.name}: bad services never fail the worker`).to.equal(200);
            expect(h.body.problem, w.name).to.equal(undefined);
            expect(h.body.config.services, w.name).to.include.members(["constructor", "hasownproperty", "redis", "tostring", "web"]);
        }
        const after = logs();
        expect(after.map(restarts), "no watcher restarted").to.deep.equal(restartsBefore);
        for (const [i, log] of after.entries()) {
            for (const b of bad) expect(log.split(`skipping service ${b.service},`).length - 1, `${workers[i].name} logs ${b.service} once`).to.equal(1);
        }
    });
});
