// The `local` stack end to end on the real Pulumi engine: up on a fresh backend, no-change preview,
// a killed member noticed by refresh and restarted by up, the example consumer stack, and destroy.
// Runs on a scratch copy of the project (fresh DIY backend, config moved to 127.0.11.x, the engine
// tests' loopback range) so a developer's own `npm run local` stack is never touched. Up and destroy
// go through scripts/local.sh (what `npm run local` runs) inside that copy.
// Fails (does not skip) when the engine is missing, unless COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { Etcd3 } from "etcd3";
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

const STACK_RANGE = "127.0.10.";
const TEST_RANGE = "127.0.11.";
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

function etcdctl(args: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
        childProcess.execFile("etcdctl", args, { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30000 }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0;
            resolve({ code, output: `${stdout}${stderr}` });
        });
    });
}

/** `etcdctl endpoint health` on one member, a few tries (a loaded machine commits slowly). */
async function memberHealth(url: string): Promise<{ code: number; output: string }> {
    let last = { code: 1, output: "" };
    for (let attempt = 0; attempt < 3; attempt++) {
        last = await etcdctl(["--endpoints", url, "--command-timeout=10s", "endpoint", "health"]);
        if (last.code === 0) return last;
        await new Promise((r) => setTimeout(r, 2000));
    }
    return last;
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout: 10000 }, (res) => {
            let body = "";
            res.setEncoding("utf8").on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
        req.on("error", reject);
    });
}

async function keysUnder(endpoints: string[], prefix: string): Promise<Record<string, string>> {
    const client = new Etcd3({ hosts: endpoints, dialTimeout: 10000 });
    try {
        return await client.getAll().prefix(prefix).strings();
    } finally {
        client.close();
    }
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

    async function expectAllMembersHealthy(outputs: Record<string, any>): Promise<void> {
        const urls: string[] = outputs.etcdClientUrls;
        expect(urls, "etcdClientUrls output").to.have.length(cfg("etcdCount"));
        for (const url of urls) {
            expect(url.startsWith(`http://${TEST_RANGE}`), `${url} is in the engine tests' range`).to.equal(true);
            const health = await memberHealth(url);
            expect(health.code, `etcdctl endpoint health ${url}:\n${health.output}`).to.equal(0);
            expect(health.output).to.match(/is healthy/);
        }
    }

    before(function () {
        if (engineTestsDisabled()) return this.skip();
        engine = findEngine();
        try {
            childProcess.execFileSync("etcd", ["--version"], { stdio: "ignore" });
            childProcess.execFileSync("etcdctl", ["version"], { stdio: "ignore", env: { ...process.env, ETCDCTL_API: "3" } });
        } catch {
            throw new Error("etcd/etcdctl not found: run scripts/install-system-deps.sh (Debian's etcd-server and etcd-client)");
        }
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-test-"));
        const toTestRange = (doc: Record<string, any>) => replaceInStrings(doc, STACK_RANGE, TEST_RANGE);
        project = makeProjectCopy({ into: scratch, stackConfig: { local: toTestRange }, copyDirs: [APP_DIR] });
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
        if (problems.length) process.stderr.write(`engine test cleanup:\n  ${problems.join("\n  ")}\n`);
        fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("@engine npm run local (pulumi up --stack local) on a fresh backend boots a healthy cluster with proxies, service keys and unit files", async function () {
        const run = await localSh([]);
        expect(run.stderr).to.contain("creating stack 'local'");
        expect(run.stdout).to.match(/Current stack outputs/);
        const outputs = await cluster.outputs();
        expect(outputs.platform).to.equal("local");
        expect(outputs.etcdMemberIps).to.have.length(cfg("etcdCount"));

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
        const list = await etcdctl(["--endpoints", outputs.etcdClientUrls.join(","), "member", "list", "-w", "json"]);
        expect(list.code, list.output).to.equal(0);
        expect(JSON.parse(list.output).members.map((m: any) => m.name).sort()).to.deep.equal([...outputs.etcdMemberNames].sort());

        // Each worker's proxy answers on its own address and forwards to the members.
        const leader = await httpGet(`${outputs.etcdClientUrls[0]}/v2/keys/?quorum=false`);
        for (const proxy of proxies) {
            expect(proxy.clientUrl.startsWith(`http://${TEST_RANGE}`)).to.equal(true);
            const res = await httpGet(`${proxy.clientUrl}/v2/keys/?quorum=false`);
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
            expect(await keysUnder(outputs.etcdClientUrls, `${prefix}/${service.name}/`), `service ${service.name}`).to.deep.equal(want);
            if (cfg("mirrorToV2") === true) {
                const [key, value] = Object.entries(want)[0];
                const res = await httpGet(`${proxies[0].clientUrl}/v2/keys${key}`);
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
        const down = await etcdctl(["--endpoints", victim.clientUrl, "--command-timeout=3s", "endpoint", "health"]);
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
        const list = await etcdctl(["--endpoints", outputs.etcdClientUrls.join(","), "member", "list", "-w", "json"]);
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
        expect(await keysUnder(outputs.etcdClientUrls, `${appOutputs.serviceKeyPrefix}/`)).to.deep.equal(want);
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
            expect(await keysUnder(outputs.etcdClientUrls, `${outputs.servicesPrefix}/${appConfig["coreos-app-example:service"]}/`)).to.deep.equal({});
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
        for (const url of outputs.etcdClientUrls as string[]) {
            const health = await etcdctl(["--endpoints", url, "--command-timeout=2s", "endpoint", "health"]);
            expect(health.code, `${url} no longer answers`).to.not.equal(0);
        }
    });
});
