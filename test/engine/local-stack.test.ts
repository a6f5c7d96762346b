// The `local` stack end to end on the real Pulumi engine: up on a fresh backend, no-change preview,
// a killed member noticed by refresh and restarted by up, the example consumer stack, and destroy.
// Runs on a scratch copy of the project (fresh DIY backend, the VPC moved to 10.213.11.0/24 and the
// cluster renamed, so its namespaces and bridge are its own) so a developer's own `npm run local`
// stack is never touched. Up and destroy go through scripts/local.sh (what `npm run local` runs)
// inside that copy. The test stands where the deployer stands, in the root namespace: it sees the
// machines only as the VPC lets it (sshd), and checks them from inside their own namespaces.
// Fails (does not skip) when the engine is missing, unless COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as net from "net";
import { namespaceName } from "../../components/local/vpc/addressing";
import { namespaces, records, removeVpc } from "../../components/local/vpc/netns";
import { execInNamespace } from "../../components/local/vpc/spawn";
import { sweepOrphanVpcs } from "../../components/local/cleanup";
import { etcdPasswordFromKey } from "../../model/etcd-auth";
import { TLS_DIR } from "../../model/pki-delivery";
import { SUMMARY_TITLE } from "../../scripts/local/summary";
import { withUnpackedBundles } from "../../components/services/bundled-provider";
import {
    Engine,
    engineTestsDisabled,
    findEngine,
    makeProjectCopy,
    parseJsonOutput,
    ProjectCopy,
    PulumiStack,
    replaceInStrings,
    rewriteStackFile,
    RunResult,
    runCommand,
    scriptEnv,
    StateResource,
} from "../support/engine";

const STACK_RANGE = "10.213.10.";
const TEST_RANGE = "10.213.11.";
/** The copy's cluster name: its machines' namespaces (ccl-<name>-etcd-0, ...) and bridge are its own. */
const TEST_CLUSTER = "elocal";
const APP_DIR = path.join("examples", "app-stack");

interface Machine {
    name: string;
    pid?: number;
    running: boolean;
    clientUrl: string;
    mode: "member" | "proxy";
    root: string;
    dataDir: string;
}

interface ServiceConfig {
    name: string;
    scheme: string;
    hosts: string[];
    host_port?: number;
}

function machinesOf(resources: StateResource[]): Record<string, Machine> {
    const found: Record<string, Machine> = {};
    for (const r of resources) {
        const o = r.outputs ?? {};
        if (o.mode !== "member" && o.mode !== "proxy") continue;
        const name = r.urn.split("::").pop()!;
        found[name] = { name, pid: o.pid, running: o.running, clientUrl: o.clientUrl, mode: o.mode, root: o.root, dataDir: o.dataDir };
    }
    return found;
}

/** Read from /proc independently of the code under test: `pid` is a live etcd serving `dataDir`. */
function isLiveEtcd(pid: number, dataDir: string): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3))) return false;
        const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
        return path.basename(argv0) === "etcd" && fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`ETCD_DATA_DIR=${dataDir}`);
    } catch {
        return false;
    }
}

/** Client certificate files (mutual TLS) the test presents; set once the stack's consumer credential is known. */
interface TlsFiles {
    ca: string;
    cert: string;
    key: string;
}
let credential: TlsFiles | undefined;

/** etcdctl (v3) run inside a machine's namespace, as a process on that machine would run it, with the test's credential. */
async function etcdctl(namespace: string, args: string[], tls: TlsFiles | undefined = credential): Promise<{ code: number; output: string }> {
    const tlsArgs = tls ? [`--cacert=${tls.ca}`, `--cert=${tls.cert}`, `--key=${tls.key}`] : [];
    const r = await execInNamespace(namespace, "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...tlsArgs, ...args], 30000);
    return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

/** `etcdctl endpoint health` on one member from inside it, a few tries (a loaded machine commits slowly). */
async function memberHealth(namespace: string, url: string): Promise<{ code: number; output: string }> {
    let last = { code: 1, output: "" };
    for (let attempt = 0; attempt < 3; attempt++) {
        last = await etcdctl(namespace, ["--endpoints", url, "--command-timeout=10s", "endpoint", "health"]);
        if (last.code === 0) return last;
        await new Promise((r) => setTimeout(r, 2000));
    }
    return last;
}

/** An HTTP(S) GET made from inside a machine's namespace (curl), with the test's credential. */
async function httpGet(namespace: string, url: string, tls: TlsFiles | undefined = credential): Promise<{ status: number; body: string }> {
    const tlsArgs = tls ? ["--cacert", tls.ca, "--cert", tls.cert, "--key", tls.key] : [];
    const r = await execInNamespace(namespace, "curl", ["-s", "-m", "10", ...tlsArgs, "-w", "\n%{http_code}", url], 15000);
    if (r.code !== 0) throw new Error(`GET ${url} from ${namespace} failed (curl ${r.code}): ${r.stderr}`);
    const cut = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

/** Every key under a prefix, read on a member from inside its namespace. */
async function keysUnder(namespace: string, endpoints: string[], prefix: string): Promise<Record<string, string>> {
    const r = await etcdctl(namespace, ["--endpoints", endpoints.join(","), "get", "--prefix", prefix, "-w", "json"]);
    if (r.code !== 0) throw new Error(`etcdctl get --prefix ${prefix} in ${namespace}: ${r.output}`);
    const kvs: Array<{ key: string; value: string }> = JSON.parse(r.output).kvs ?? [];
    return Object.fromEntries(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
}

/** What the root namespace (the deployer) gets when it dials address:port: a banner, a connection, or nothing. */
function dialFromRoot(address: string, port: number, timeoutMs = 3000): Promise<"banner" | "connected" | "no-answer" | "refused"> {
    return new Promise((resolve) => {
        const socket = net.connect(port, address);
        let connected = false;
        const done = (r: "banner" | "connected" | "no-answer" | "refused") => {
            socket.destroy();
            resolve(r);
        };
        socket.setTimeout(timeoutMs, () => done(connected ? "connected" : "no-answer"));
        socket.once("connect", () => (connected = true));
        socket.once("data", () => done("banner"));
        socket.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED" ? "refused" : "no-answer"));
    });
}

function expectedServiceKeys(prefix: string, service: ServiceConfig): Record<string, string> {
    const keys: Record<string, string> = { [`${prefix}/${service.name}/scheme`]: service.scheme };
    service.hosts.forEach((host, i) => (keys[`${prefix}/${service.name}/hosts/${i}`] = host));
    if (service.host_port !== undefined) keys[`${prefix}/${service.name}/host_port`] = String(service.host_port);
    return keys;
}

/** Every file (not folder) below `dir`, relative to it. */
function filesUnder(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? filesUnder(path.join(dir, entry.name)).map((f) => path.join(entry.name, f)) : [entry.name],
    );
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

describe("local stack on the real Pulumi engine @engine", function () {
    this.timeout(15 * 60 * 1000);

    let engine: Engine;
    let scratch: string;
    let project: ProjectCopy;
    let cluster: PulumiStack;
    let app: PulumiStack;
    let clusterConfig: Record<string, any>;
    let appConfig: Record<string, any>;
    const startedPids = new Map<number, string>(); // pid -> data dir, every etcd the stack ever started
    const passed = new Set<string>();
    let clusterDestroyed = false;
    let vpcRecord: ReturnType<typeof records>[number] | undefined;
    let appDeployed = false;

    const step = (name: string) => passed.add(name);
    const requireStep = (name: string) => {
        if (!passed.has(name)) throw new Error(`not run: the earlier step "${name}" did not pass`);
    };
    const cfg = (key: string) => clusterConfig[`coreos-cluster:${key}`];

    /** scripts/local.sh of the scratch copy: it works on the folder it is started from. */
    function localSh(args: string[], allowFailure = false): Promise<RunResult> {
        const env = scriptEnv(engine, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
        return runCommand("bash", [path.join(project.dir, "scripts", "local.sh"), ...args], { cwd: project.dir, env, timeoutMs: 10 * 60 * 1000, allowFailure });
    }

    async function recordMachines(): Promise<Record<string, Machine>> {
        const machines = machinesOf(await cluster.resources());
        for (const m of Object.values(machines)) if (m.pid) startedPids.set(m.pid, m.dataDir);
        return machines;
    }

    /** The namespace of member i (outputs' order), where its own health is asked. */
    const memberNs = (outputs: Record<string, any>, i: number) => namespaceName(outputs.etcdMemberNames[i]);
    /** Our own VPC's namespaces (the copy's cluster name), whatever else exists on the host. */
    const ownNamespaces = () => namespaces().filter((n) => n.startsWith(`ccl-${TEST_CLUSTER}-`));
    const deployerKeyFile = () => path.join(project.dir, String(cfg("localDataDir")), "deployer", "id_ed25519");

    async function expectAllMembersHealthy(outputs: Record<string, any>): Promise<void> {
        const urls: string[] = outputs.etcdClientUrls;
        expect(urls, "etcdClientUrls output").to.have.length(cfg("etcdCount"));
        for (const [i, url] of urls.entries()) {
            expect(url.startsWith(`https://${TEST_RANGE}`), `${url} is in the engine tests' range, over TLS`).to.equal(true);
            const health = await memberHealth(memberNs(outputs, i), url);
            expect(health.code, `etcdctl endpoint health ${url}:\n${health.output}`).to.equal(0);
            expect(health.output).to.match(/is healthy/);
        }
    }

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        engine = findEngine();
        try {
            childProcess.execFileSync("etcd", ["--version"], { stdio: "ignore" });
            childProcess.execFileSync("etcdctl", ["version"], { stdio: "ignore", env: { ...process.env, ETCDCTL_API: "3" } });
        } catch {
            throw new Error("etcd/etcdctl not found: run scripts/install-system-deps.sh (Debian's etcd-server and etcd-client)");
        }
        // A killed earlier run left its VPC (and the machines in it): the sweep removes it by record.
        for (const line of await sweepOrphanVpcs()) process.stderr.write(`engine test: swept ${line}\n`);
        expect(ownNamespaces(), "no namespace of this test's cluster before it starts").to.deep.equal([]);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-test-"));
        const toTestRange = (doc: Record<string, any>) => replaceInStrings(doc, STACK_RANGE, TEST_RANGE);
        const toTestCluster = (doc: Record<string, any>) => {
            const moved = toTestRange(doc);
            return { ...moved, config: { ...moved.config, "coreos-cluster:clusterName": TEST_CLUSTER } };
        };
        project = makeProjectCopy({ into: scratch, stackConfig: { local: toTestCluster }, copyDirs: [APP_DIR] });
        rewriteStackFile(path.join(project.dir, APP_DIR, "Pulumi.local.yaml"), toTestRange);
        clusterConfig = YAML.parse(fs.readFileSync(path.join(project.dir, "Pulumi.local.yaml"), "utf8")).config;
        appConfig = YAML.parse(fs.readFileSync(path.join(project.dir, APP_DIR, "Pulumi.local.yaml"), "utf8")).config;
        // The copy must not reach the developer's stack: every address moved, data in the scratch copy.
        expect(JSON.stringify([clusterConfig, appConfig])).not.to.contain(STACK_RANGE);
        expect(String(cfg("localFirstAddress")).startsWith(TEST_RANGE)).to.equal(true);
        expect(path.isAbsolute(String(cfg("localDataDir")))).to.equal(false);

        // Where scripts/local.sh keeps the state of the copy; the helper reads and drives the same backend.
        const backendDir = path.join(project.dir, ".pulumi-local");
        expect(fs.existsSync(backendDir), "the copy starts without a backend").to.equal(false);
        // npm test type-checks the program already; ts-node only transpiles here.
        const common = { engine, backendDir, transpileOnly: true, projectRoot: project.dir };
        cluster = new PulumiStack({ ...common, projectDir: project.dir, stack: "local" });
        app = new PulumiStack({ ...common, projectDir: path.join(project.dir, APP_DIR), stack: "local" });
    });

    after(async function () {
        if (!cluster) return;
        this.timeout(10 * 60 * 1000);
        const problems: string[] = [];
        if (appDeployed) await app.destroy([], { allowFailure: true }).catch((e) => problems.push(String(e)));
        if (!clusterDestroyed) await cluster.destroy([], { allowFailure: true }).catch((e) => problems.push(String(e)));
        // Last resort, strictly by pid: whatever etcd this run started that is still alive.
        for (const [pid, dataDir] of startedPids) {
            if (isLiveEtcd(pid, dataDir)) {
                problems.push(`etcd pid ${pid} (${dataDir}) still ran after destroy; killed`);
                process.kill(pid, "SIGKILL");
            }
        }
        // And the VPC, by its record (the namespaces' processes with it).
        for (const record of records().filter((r) => r.dataDir.startsWith(scratch + path.sep))) {
            problems.push(`VPC ${record.bridge} still existed after destroy; removed: ${(await removeVpc(record)).join(", ")}`);
        }
        if (problems.length) process.stderr.write(`engine test cleanup:\n  ${problems.join("\n  ")}\n`);
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("@engine npm run local (pulumi up --stack local) on a fresh backend boots a healthy cluster with proxies, service keys and unit files", async function () {
        const run = await localSh([]);
        expect(run.stderr).to.contain("creating stack 'local'");
        // scripts/local.sh made the deployer's key; the stack and the consumer take it from the environment.
        expect(run.stderr).to.contain("generated the deployer's tunnel key");
        expect(fs.statSync(deployerKeyFile()).mode & 0o077, "the key is private to its owner").to.equal(0);
        const key = fs.readFileSync(deployerKeyFile(), "utf8");
        cluster.env.COREOS_LOCAL_SSH_KEY = key;
        app.env.COREOS_LOCAL_SSH_KEY = key;
        expect(run.stdout).to.contain(SUMMARY_TITLE);
        const outputs = await cluster.outputs();
        expect(outputs.platform).to.equal("local");
        expect(outputs.etcdMemberIps).to.have.length(cfg("etcdCount"));
        expect(outputs.etcdPeerUrls.every((u: string) => u.startsWith("https://")), "peer URLs over TLS").to.equal(true);
        expect(Object.keys(outputs.certificateExpiries)).to.include.members(["router", "deployer", "consumer", `${outputs.etcdMemberNames[0]}-server`]);
        // The consumer's credential (what other stacks get): a CA certificate, its certificate and key, never a CA key.
        const consumer = outputs.consumerCredentials as { ca: string; cert: string; key: string };
        expect(Object.keys(consumer).sort()).to.deep.equal(["ca", "cert", "key"]);
        expect(consumer.ca).to.match(/BEGIN CERTIFICATE/).and.not.match(/PRIVATE KEY/);
        const credDir = fs.mkdtempSync(path.join(scratch, "consumer-"));
        credential = { ca: path.join(credDir, "ca.pem"), cert: path.join(credDir, "consumer.pem"), key: path.join(credDir, "consumer-key.pem") };
        for (const [file, text] of [[credential.ca, consumer.ca], [credential.cert, consumer.cert], [credential.key, consumer.key]]) fs.writeFileSync(file, text, { mode: 0o600 });

        const machines = await recordMachines();
        const members = Object.values(machines).filter((m) => m.mode === "member");
        const proxies = Object.values(machines).filter((m) => m.mode === "proxy");
        expect(members.map((m) => m.name).sort()).to.deep.equal([...outputs.etcdMemberNames].sort());
        expect(proxies).to.have.length(cfg("localWorkers"));
        for (const m of Object.values(machines)) {
            expect(m.pid, `${m.name} pid in state`).to.be.a("number");
            expect(isLiveEtcd(m.pid!, m.dataDir), `${m.name} (pid ${m.pid}) is a live etcd`).to.equal(true);
            expect(m.root.startsWith(project.dir + path.sep), `${m.name} root ${m.root} is inside the scratch copy`).to.equal(true);
        }

        await expectAllMembersHealthy(outputs);
        const list = await etcdctl(memberNs(outputs, 0), ["--endpoints", outputs.etcdClientUrls.join(","), "member", "list", "-w", "json"]);
        expect(list.code, list.output).to.equal(0);
        expect(JSON.parse(list.output).members.map((m: any) => m.name).sort()).to.deep.equal([...outputs.etcdMemberNames].sort());

        // Each machine runs in its own namespace, all of them recorded as one VPC.
        vpcRecord = records().find((r) => r.dataDir.startsWith(project.dir + path.sep));
        expect(vpcRecord, "the VPC's record").to.not.equal(undefined);
        expect(vpcRecord!.subnet).to.equal(`${TEST_RANGE}0/24`);
        // (and the load balancer's and the local Prometheus's: docs/metrics.md)
        expect(ownNamespaces().sort()).to.deep.equal([...Object.keys(machines).map(namespaceName), namespaceName(`${TEST_CLUSTER}-lb`), namespaceName(`${TEST_CLUSTER}-prometheus`)].sort());

        // Each worker's gateway answers on its own loopback and carries the client's TLS to the members.
        const leader = await httpGet(memberNs(outputs, 0), `${outputs.etcdClientUrls[0]}/v2/keys/?quorum=false`);
        for (const proxy of proxies) {
            expect(proxy.clientUrl).to.equal("https://127.0.0.1:2379");
            const res = await httpGet(namespaceName(proxy.name), `${proxy.clientUrl}/v2/keys/?quorum=false`);
            expect(res.status, `${proxy.name} at ${proxy.clientUrl}: ${res.body}`).to.equal(200);
            expect(JSON.parse(res.body).node.dir).to.equal(true);
            expect(JSON.parse(res.body).node.nodes ?? []).to.deep.equal(JSON.parse(leader.body).node.nodes ?? []);
        }

        // The configured services, exactly, read back with etcd3 (and through a proxy from the v2 mirror).
        const services: ServiceConfig[] = cfg("services") ?? [];
        expect(services.length, "the local stack config registers services").to.be.greaterThan(0);
        const prefix = outputs.servicesPrefix;
        for (const service of services) {
            const want = expectedServiceKeys(prefix, service);
            expect(await keysUnder(memberNs(outputs, 0), outputs.etcdClientUrls, `${prefix}/${service.name}/`), `service ${service.name}`).to.deep.equal(want);
            if (cfg("mirrorToV2") === true) {
                const [key, value] = Object.entries(want)[0];
                const res = await httpGet(namespaceName(proxies[0].name), `${proxies[0].clientUrl}/v2/keys${key}`);
                expect(res.status, `v2 ${key} through ${proxies[0].name}`).to.equal(200);
                expect(JSON.parse(res.body).node.value).to.equal(value);
            }
        }

        // No fleetd here: fleet units are validated and written as files.
        const unitsDir = path.join(project.dir, String(cfg("localDataDir")), "fleet-units");
        for (const unit of (cfg("fleetUnits") ?? []) as Array<{ name: string }>) {
            expect(fs.existsSync(path.join(unitsDir, unit.name)), `unit file ${unit.name} in ${unitsDir}`).to.equal(true);
        }
        step("up");
    });

    it("@engine the deployer stands outside the VPC: etcd's ports give it nothing, the tunnel member's sshd answers", async function () {
        requireStep("up");
        const outputs = await cluster.outputs();
        // Defect 1 of issue 14: the providers could never dial the members' private 2379 directly.
        for (const ip of outputs.etcdMemberIps as string[]) {
            expect(await dialFromRoot(ip, 2379), `root namespace -> ${ip}:2379`).to.equal("no-answer");
            expect(await dialFromRoot(ip, 2380), `root namespace -> ${ip}:2380`).to.equal("no-answer");
        }
        // The way in that the stack configures, as a GCE stack would: SSH to a member.
        // localVpc: the consumers' tunnels, like the stack's own, dial the host only through this VPC's bridge.
        expect(outputs.sshTunnel).to.deep.equal({ host: cfg("sshTunnel").host, port: 22, username: "root", localVpc: `${TEST_RANGE}0/24` });
        expect(await dialFromRoot(outputs.sshTunnel.host, 22), "the tunnel member's sshd").to.equal("banner");
        // The load balancer is the one other door: its frontend at .2 forwards the HTTP ports to healthy workers.
        expect(outputs.loadBalancerIp).to.equal(`${TEST_RANGE}2`);
        let answer = "";
        for (let attempt = 0; attempt < 20 && !/^web on /.test(answer); attempt++) {
            if (attempt > 0) await new Promise((r) => setTimeout(r, 1000));
            const r = childProcess.spawnSync("curl", ["-s", "-m", "3", "-H", "Host: web.example.com", `http://${outputs.loadBalancerIp}/`], { encoding: "utf8" });
            answer = r.status === 0 ? r.stdout : "";
        }
        expect(answer, "web through the load balancer, from the deployer").to.match(new RegExp(`^web on ${TEST_RANGE.replace(/\./g, "\\.")}1[34]:8080`));
        // The key stays out of the state; the state holds it only encrypted.
        const state = withUnpackedBundles(JSON.stringify(await cluster.resources()));
        const keyBody = fs.readFileSync(deployerKeyFile(), "utf8").split("\n")[1];
        expect(state).to.not.contain(keyBody);
        step("outside");
    });

    it("@engine the trust boundary: no answer without TLS, no TLS without a certificate, nothing on a worker's loopback without one, the router reads /services and cannot write it", async function () {
        requireStep("up");
        const outputs = await cluster.outputs();
        const machines = await recordMachines();
        const worker = Object.values(machines).find((m) => m.mode === "proxy")!;
        const workerNs = namespaceName(worker.name);
        const curl = (ns: string, args: string[]) => execInNamespace(ns, "curl", ["-s", "-m", "5", "-w", "\n%{http_code}", ...args], 15000);
        const ca = credential!.ca;
        for (const ip of outputs.etcdMemberIps as string[]) {
            // From a worker: plain HTTP on the client port gets no HTTP answer at all (etcd speaks only TLS there) ...
            const plain = await curl(workerNs, [`http://${ip}:2379/health`]);
            expect(plain.code, `plain HTTP ${ip}:2379 from ${worker.name}: ${plain.stdout}`).to.not.equal(0);
            expect(plain.stdout.trim().split("\n").pop(), "no HTTP status").to.equal("000");
            // ... and TLS without a client certificate is refused in the handshake.
            const noCert = await curl(workerNs, ["--cacert", ca, `https://${ip}:2379/health`]);
            expect(noCert.code, `TLS without a certificate ${ip}:2379: ${noCert.stdout}`).to.not.equal(0);
            // The peer port is not even reachable from a worker (members only: no worker needs it).
            for (const args of [[`http://${ip}:2380/members`], ["--cacert", ca, `https://${ip}:2380/members`]]) {
                const r = await curl(workerNs, args);
                expect(r.code, `${args.join(" ")} from ${worker.name}`).to.not.equal(0);
            }
        }
        // From another member (the peer port's only clients): plain HTTP and TLS without a certificate get nothing on 2380 either.
        const [first, second] = outputs.etcdMemberIps as string[];
        const memberNs0 = memberNs(outputs, 0);
        const peerPlain = await curl(memberNs0, [`http://${second}:2380/members`]);
        expect(peerPlain.code, `plain HTTP ${second}:2380 from a member`).to.not.equal(0);
        expect(peerPlain.stdout.trim().split("\n").pop()).to.equal("000");
        const peerNoCert = await curl(memberNs0, ["--cacert", ca, `https://${second}:2380/members`]);
        expect(peerNoCert.code, `TLS without a certificate ${second}:2380 from a member`).to.not.equal(0);
        const clientNoCert = await curl(memberNs0, ["--cacert", ca, `https://${first}:2379/health`]);
        expect(clientNoCert.code, "TLS without a certificate on a member's own client port").to.not.equal(0);

        // The worker's loopback 2379 (its etcd gateway) gives nothing without credentials.
        const loopPlain = await curl(workerNs, ["http://127.0.0.1:2379/v2/keys/"]);
        expect(loopPlain.code, "plain HTTP on the worker's loopback").to.not.equal(0);
        const loopNoCert = await curl(workerNs, ["--cacert", ca, "https://127.0.0.1:2379/v2/keys/"]);
        expect(loopNoCert.code, "TLS without a certificate on the worker's loopback").to.not.equal(0);

        // The router's identity, as the worker holds it (fetched from the local secret store): reads /services, cannot write it.
        const tlsDir = path.join(worker.root, TLS_DIR);
        const router = ["--cacert", path.join(tlsDir, "ca.pem"), "--cert", path.join(tlsDir, "router.pem"), "--key", path.join(tlsDir, "router-key.pem")];
        const password = etcdPasswordFromKey("router", fs.readFileSync(path.join(tlsDir, "router-key.pem"), "utf8"));
        const member = outputs.etcdClientUrls[0];
        const auth = await curl(workerNs, [...router, "-d", JSON.stringify({ name: "router", password }), `${member}/v3/auth/authenticate`]);
        const token = JSON.parse(auth.stdout.slice(0, auth.stdout.lastIndexOf("\n"))).token as string;
        expect(token, `authenticate as router: ${auth.stdout}`).to.be.a("string");
        const b64 = (t: string) => Buffer.from(t).toString("base64");
        const prefix = outputs.servicesPrefix;
        const read = await curl(workerNs, [...router, "-H", `Authorization: ${token}`, "-d", JSON.stringify({ key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) }), `${member}/v3/kv/range`]);
        expect(read.stdout.trim().split("\n").pop(), `router reads ${prefix}: ${read.stdout}`).to.equal("200");
        expect(JSON.parse(read.stdout.slice(0, read.stdout.lastIndexOf("\n"))).kvs.length, "service keys the router sees").to.be.greaterThan(0);
        const write = await curl(workerNs, [...router, "-H", `Authorization: ${token}`, "-d", JSON.stringify({ key: b64(`${prefix}/intruder/scheme`), value: b64("http") }), `${member}/v3/kv/put`]);
        expect(write.stdout, "router writes /services").to.match(/permission denied/);
        expect(await keysUnder(memberNs0, outputs.etcdClientUrls, `${prefix}/intruder/`), "nothing was written").to.deep.equal({});
        // Without its token the router's certificate (no CN) is nobody: the JSON gateway answers nothing of the keys.
        const anonymous = await curl(workerNs, [...router, "-d", JSON.stringify({ key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) }), `${member}/v3/kv/range`]);
        expect(anonymous.stdout).to.not.match(/"kvs"/);
        step("trust");
    });

    it("@engine a second pulumi preview --expect-no-changes reports no changes", async function () {
        requireStep("up");
        const result = await cluster.preview(["--expect-no-changes", "--json"], { allowFailure: true });
        expect(result.code, `preview --expect-no-changes exited ${result.code}:\n${result.stderr}`).to.equal(0);
        const summary = parseJsonOutput(result.stdout).changeSummary;
        expect(Object.keys(summary)).to.deep.equal(["same"]);
        step("no-changes");
    });

    it("@engine a killed member shows in pulumi refresh, pulumi up restarts it and the cluster is healthy again", async function () {
        requireStep("up");
        const outputs = await cluster.outputs();
        const victimName: string = outputs.etcdMemberNames[1];
        const victim = (await recordMachines())[victimName];
        expect(isLiveEtcd(victim.pid!, victim.dataDir)).to.equal(true);
        process.kill(victim.pid!, "SIGKILL");
        await waitUntil(`etcd pid ${victim.pid} is dead`, () => !isLiveEtcd(victim.pid!, victim.dataDir));
        const down = await etcdctl(namespaceName(victimName), ["--endpoints", victim.clientUrl, "--command-timeout=3s", "endpoint", "health"]);
        expect(down.code, "the killed member no longer answers").to.not.equal(0);

        const refresh = await cluster.refresh(["--json"]);
        const events = refresh.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        const drift = events
            .map((e) => e.resOutputsEvent?.metadata)
            .find((m) => m && m.op === "update" && m.urn.endsWith(`::${victimName}`));
        expect(drift, `refresh reports ${victimName} changed:\n${refresh.stdout.slice(-3000)}`).to.not.equal(undefined);
        expect(drift.new.outputs.running).to.equal(false);
        expect(drift.new.outputs.pid).to.equal(undefined);
        expect(drift.old.outputs.pid).to.equal(victim.pid);
        const afterRefresh = (await recordMachines())[victimName];
        expect(afterRefresh.running, "state after refresh").to.equal(false);

        await cluster.up();
        const restarted = (await recordMachines())[victimName];
        expect(restarted.running).to.equal(true);
        expect(restarted.pid).to.be.a("number").and.not.equal(victim.pid);
        expect(isLiveEtcd(restarted.pid!, restarted.dataDir)).to.equal(true);
        await expectAllMembersHealthy(outputs);
        // It rejoined as the same member with its data (no new member was added).
        const list = await etcdctl(memberNs(outputs, 0), ["--endpoints", outputs.etcdClientUrls.join(","), "member", "list", "-w", "json"]);
        expect(JSON.parse(list.output).members.map((m: any) => m.name).sort()).to.deep.equal([...outputs.etcdMemberNames].sort());
        step("restart");
    });

    it("@engine the example consumer stack deploys against the outputs and its service key appears", async function () {
        requireStep("up");
        const outputs = await cluster.outputs();
        await app.ensure();
        appDeployed = true;
        await app.up();
        const appOutputs = await app.outputs();
        expect(appOutputs.etcdClientUrls).to.deep.equal(outputs.etcdClientUrls);
        const service: ServiceConfig = {
            name: appConfig["coreos-app-example:service"],
            scheme: appConfig["coreos-app-example:scheme"],
            hosts: appConfig["coreos-app-example:hosts"],
        };
        const want = expectedServiceKeys(outputs.servicesPrefix, service);
        expect(appOutputs.serviceKeyPrefix).to.equal(`${outputs.servicesPrefix}/${service.name}`);
        expect(await keysUnder(memberNs(outputs, 0), outputs.etcdClientUrls, `${appOutputs.serviceKeyPrefix}/`)).to.deep.equal(want);
        expect([...appOutputs.ownedKeys].sort()).to.deep.equal(Object.keys(want).sort());
        step("app");
    });

    it("@engine pulumi destroy (consumer, then cluster) leaves no process and no data behind", async function () {
        requireStep("up");
        const outputs = await cluster.outputs();
        if (appDeployed) {
            // The cluster refuses to go first: the consumer could no longer delete its keys.
            const refused = await localSh(["destroy"], true);
            expect(refused.code, refused.stderr).to.not.equal(0);
            expect(refused.stderr).to.contain("organization/coreos-app-example/local");
            await expectAllMembersHealthy(outputs);

            await app.destroy();
            appDeployed = false;
            expect(await app.resources(), "consumer state after destroy").to.deep.equal([]);
            expect(await keysUnder(memberNs(outputs, 0), outputs.etcdClientUrls, `${outputs.servicesPrefix}/${appConfig["coreos-app-example:service"]}/`)).to.deep.equal({});
        }
        const machines = await recordMachines();
        expect(Object.keys(machines).length).to.be.greaterThan(0);
        await localSh(["destroy"]);
        clusterDestroyed = true;
        expect(await cluster.resources(), "cluster state after destroy").to.deep.equal([]);
        for (const [pid, dataDir] of startedPids) {
            expect(isLiveEtcd(pid, dataDir), `etcd pid ${pid} (${dataDir}) is stopped`).to.equal(false);
        }
        for (const m of Object.values(machines)) expect(fs.existsSync(m.root), `${m.root} removed`).to.equal(false);
        const dataDir = path.join(project.dir, String(cfg("localDataDir")));
        expect(filesUnder(dataDir), `files left in ${dataDir}`).to.deep.equal([]);
        // The VPC went with it: no namespace, bridge, nftables table or record of it is left.
        expect(ownNamespaces(), "namespaces left").to.deep.equal([]);
        expect(records().filter((r) => r.dataDir.startsWith(project.dir)), "VPC records left").to.deep.equal([]);
        const links = JSON.parse(childProcess.execFileSync("ip", ["-j", "link", "show"], { encoding: "utf8" })).map((l: { ifname: string }) => l.ifname);
        expect(links, "the VPC's bridge").to.not.include(vpcRecord!.bridge);
        expect(childProcess.execFileSync("nft", ["list", "tables"], { encoding: "utf8" }), "the VPC's root guard table").to.not.contain(vpcRecord!.rootGuardTable);
    });
});
