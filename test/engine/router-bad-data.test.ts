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
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { processPaths } from "../../components/local/machine-process";
import { namespaceName } from "../../components/local/vpc/addressing";
import { namespaces, records, removeVpc } from "../../components/local/vpc/netns";
import { execInNamespace } from "../../components/local/vpc/spawn";
import { Engine, engineTestsDisabled, findEngine, makeProjectCopy, ProjectCopy, PulumiStack, replaceInStrings, runCommand, scriptEnv } from "../support/engine";

const STACK_RANGE = "10.213.10.";
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

/** GET through the load balancer, from the root namespace (where a client outside the VPC stands). */
function viaLoadBalancer(lb: string, pathname: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(`http://${lb}${pathname}`, { agent: false, timeout: 10000, headers: { host } }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${pathname} via ${lb}: timeout`)));
        req.on("error", reject);
    });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined && value !== false) return value as T;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

const restarts = (log: string) => (log.match(/exited \(\d+\); restarting/g) ?? []).length;

describe("router survives bad data on the local stack (real engine, real etcd, real HAProxy) @engine", function () {
    this.timeout(20 * 60 * 1000);
    let engine: Engine;
    let scratch: string;
    let project: ProjectCopy;
    let cluster: PulumiStack;
    let up = false;

    const ownNamespaces = () => namespaces().filter((n) => n.startsWith(`ccl-${TEST_CLUSTER}-`));
    const ownRecords = () => records().filter((r) => scratch !== undefined && r.dataDir.startsWith(scratch + path.sep));

    function localSh(args: string[], allowFailure = false) {
        const env = scriptEnv(engine, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
        return runCommand("bash", [path.join(project.dir, "scripts", "local.sh"), ...args], { cwd: project.dir, env, timeoutMs: 10 * 60 * 1000, allowFailure });
    }

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        engine = findEngine();
        expect(ownNamespaces(), `namespaces of the ${TEST_CLUSTER} cluster left by another run`).to.deep.equal([]);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-test-"));
        project = makeProjectCopy({
            into: scratch,
            stackConfig: {
                local: (doc) => {
                    const moved = replaceInStrings(doc, STACK_RANGE, TEST_RANGE);
                    return { ...moved, config: { ...moved.config, "coreos-cluster:clusterName": TEST_CLUSTER } };
                },
            },
        });
        const config = YAML.parse(fs.readFileSync(path.join(project.dir, "Pulumi.local.yaml"), "utf8")).config;
        expect(JSON.stringify(config)).to.not.contain(STACK_RANGE);
        cluster = new PulumiStack({ engine, backendDir: path.join(project.dir, ".pulumi-local"), transpileOnly: true, projectRoot: project.dir, projectDir: project.dir, stack: "local" });
    });

    after(async function () {
        if (!cluster) return;
        this.timeout(10 * 60 * 1000);
        const problems: string[] = [];
        if (up) {
            const run = await localSh(["destroy"], true);
            if (run.code !== 0) problems.push(`destroy exited ${run.code}: ${run.stderr.slice(-2000)}`);
        }
        for (const record of ownRecords()) problems.push(`VPC ${record.bridge} still existed after destroy; removed: ${(await removeVpc(record)).join(", ")}`);
        if (problems.length) process.stderr.write(`router bad-data engine test cleanup:\n  ${problems.join("\n  ")}\n`);
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("@engine bad services in etcd: 0 failed requests through the load balancer, each one reported on every worker, no watcher restarts", async function () {
        const run = await localSh([]);
        up = true;
        cluster.env.COREOS_LOCAL_SSH_KEY = fs.readFileSync(path.join(project.dir, ".local-machines", "deployer", "id_ed25519"), "utf8");
        expect(run.stdout).to.match(/Current stack outputs/);
        const outputs = await cluster.outputs();
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
        const web = () => viaLoadBalancer(lb, "/x", "web.example.com");
        await waitFor("web through the load balancer", async () => /^web on /.test((await web()).body));
        const logs = () => workers.map((w) => fs.readFileSync(processPaths(w.root, "router").logFile, "utf8"));
        const restartsBefore = logs().map(restarts);

        let running = true;
        let ok = 0;
        const failures: string[] = [];
        const client = (async () => {
            while (running) {
                try {
                    const res = await web();
                    if (res.status === 200 && /^web on 10\.213\.26\.1[34]:8080 \/x/.test(res.body)) ok++;
                    else failures.push(`${res.status} ${res.body.trim().slice(0, 200)}`);
                } catch (err) {
                    failures.push((err as Error).message);
                }
            }
        })();

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
            for (const b of bad) for (const [field, value] of Object.entries(b.keys)) await put(`${prefix}/${b.service}/${field}`, value);
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
            running = false;
            await client;
        }
        expect(failures, "failed requests to web through the load balancer").to.deep.equal([]);
        expect(ok, "web was called throughout").to.be.greaterThan(20);
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
