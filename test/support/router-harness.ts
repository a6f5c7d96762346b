// A real router for tests and benchmarks: Debian's etcd (a member and a worker's v2 proxy), the
// bundled watcher (router/bundle.ts, the very script the user-data ships) started by the local
// platform's spawnMachineProcess with only the capabilities the router container keeps
// (model/router-contract.ts, through router-boot.ts's setpriv prefix), Debian's HAProxy as its
// child, and small real backends.
// Addresses: the router refuses service hosts on loopback (model/service-hosts.ts), so every part
// lives on a private /24 of the suite's own, held by a bridge with no ports in the root namespace
// ("ccl" prefix, recorded like a local VPC so a sweep removes it); traffic never leaves this machine.
// Everything is stopped by the pids started here.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { routerScript } from "../../router/bundle";
import { runningProcessPid, spawnMachineProcess, stopMachineProcess } from "../../components/local/machine-process";
import { routerPrivilegeArgv } from "../../components/local/router-boot";
import { shortHash } from "../../components/local/vpc/addressing";
import { hostOverlaps, readRecord, REGISTRY_DIR, removeVpc, run, testRunPid, tool, VpcRecord } from "../../components/local/vpc/netns";
import { testRunLives } from "../../components/local/cleanup";
import { cidrContains, formatIpv4, LOOPBACK, parseIpv4 } from "../../model/ipv4";
import { ROUTER_DEFAULTS, ROUTER_ENV } from "../../model/router-contract";
import { EtcdTestCluster, killOnExit, startEtcdCluster } from "./etcd-cluster";

export interface RouterHarness {
    etcd: EtcdTestCluster;
    /** The bridge holding the suite's addresses. */
    bridge: string;
    proxyUrl: string;
    address: string;
    root: string;
    env: Record<string, string>;
    supervisorPid(): number | undefined;
    start(): void;
    stop(): Promise<void>;
    startProxy(): Promise<void>;
    stopProxy(): Promise<void>;
    close(): Promise<void>;
    /** The watcher's log (and HAProxy's, its child) so far. */
    log(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15000, everyMs = 50): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const value = await probe();
            if (value !== undefined && value !== false) return value as T;
        } catch (err) {
            last = err;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
        await sleep(everyMs);
    }
}

export function httpGet(url: string, host?: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { agent: false, timeout: timeoutMs, headers: host ? { host } : {} }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${url}: timeout`)));
        req.on("error", reject);
    });
}

export function tcpRead(host: string, port: number, timeoutMs = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host, port });
        let data = "";
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`tcp ${host}:${port}: timeout`)));
        socket.on("data", (c) => {
            data += c.toString();
            if (data.includes("\n")) socket.end();
        });
        socket.on("close", () => resolve(data));
        socket.on("error", reject);
    });
}

/** An HTTP backend answering `<label> <path>` and a TCP one answering `<label>\n`. */
export async function startBackends(specs: Array<{ kind: "http" | "tcp"; host: string; port: number; label: string }>): Promise<{ close(): Promise<void> }> {
    const servers: Array<http.Server | net.Server> = [];
    for (const spec of specs) {
        const server =
            spec.kind === "http"
                ? http.createServer((req, res) => res.end(`${spec.label} ${req.url}\n`))
                : net.createServer((socket) => socket.end(`${spec.label}\n`));
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(spec.port, spec.host, () => resolve());
        });
        servers.push(server);
    }
    return {
        async close() {
            for (const s of servers) {
                (s as http.Server).closeAllConnections?.();
                await new Promise((r) => s.close(() => r(undefined)));
            }
        },
    };
}

export interface RouterHarnessOptions {
    /** The etcd member's address; every address must be in one private /24 of the suite's own (not loopback). */
    memberAddress: string;
    /** The worker's etcd v2 proxy. */
    proxyAddress: string;
    /** The router's (worker's) address. */
    address: string;
    /** Addresses the backends listen on, all put on the bridge (default: .20 to .39 of the /24). */
    backendAddresses?: string[];
    httpPorts?: number[];
    healthPort?: number;
    dnsPort?: number;
    settleMs?: number;
    /** Where the router reads and watches etcd (default: the member itself), e.g. a fault-injecting proxy in front of it. */
    etcdEndpoints?: string[];
}

/** The name of the bridge a harness makes for this /24. */
export function harnessBridge(subnet: string): string {
    return `cclr-${shortHash(`router-harness/${subnet}`)}`;
}

/** The bridge of the /24 holding `addresses`, with them on it, recorded like a local VPC; what a killed run left is removed first. */
async function addressBridge(addresses: string[], dataDir: string): Promise<VpcRecord> {
    const values = addresses.map((a) => {
        const v = parseIpv4(a);
        if (v === undefined) throw new Error(`router harness: ${a} is not an IPv4 address`);
        return v;
    });
    const network = values[0] - (values[0] % 256);
    const subnet = `${formatIpv4(network)}/24`;
    if (values.some((v) => cidrContains(LOOPBACK, v))) {
        throw new Error("router harness: the router refuses service hosts on loopback (model/service-hosts.ts); give the suite a private /24 such as 10.213.14.0/24");
    }
    if (values.some((v) => v - (v % 256) !== network)) throw new Error(`router harness: every address must be in ${subnet}: ${addresses.join(", ")}`);
    const bridge = harnessBridge(subnet);
    const owner = testRunPid() ?? process.pid;
    // Another test run on this machine (another checkout, CI beside a developer's run) holding the
    // same /24 keeps it: removing its bridge mid-test would fail that run's tests at random.
    const inUse = (record: VpcRecord) => new Error(`router harness: ${subnet} (bridge ${bridge}) is in use by another test run that is still running (pid ${record.testRunPid}, since ${record.createdAt}); run one test run at a time on a machine. Nothing was created`);
    const recordFile = path.join(REGISTRY_DIR, `${bridge}.json`);
    const record: VpcRecord = { bridge, subnet, namespaces: [], rootGuardTable: `${bridge.replace(/-/g, "_")}_guard`, dataDir, createdAt: new Date().toISOString(), testRunPid: owner };
    const existing = readRecord(bridge);
    if (existing && existing.testRunPid !== undefined && existing.testRunPid !== owner && testRunLives(existing.testRunPid)) throw inUse(existing);
    // What a killed or failed run left, an unreadable record too: removed before this run takes the /24.
    if (existing || fs.existsSync(recordFile)) await removeVpc(existing ?? { ...record, dataDir: "" });
    const overlaps = hostOverlaps(subnet, bridge);
    if (overlaps.length > 0) throw new Error(`router harness: ${subnet} is in use on this host (${overlaps.join(", ")}); nothing was created`);
    // Recorded before it exists, so a run killed halfway is still swept (components/local/cleanup.ts --vpcs).
    // Linked into place whole: of two runs that find no record, exactly one takes the /24, and no
    // reader ever sees half a record. (Two runs finding the same stale record at the same moment
    // could still race on its removal; they are the rare case this does not cover.)
    fs.mkdirSync(REGISTRY_DIR, { recursive: true });
    const draft = `${recordFile}.${process.pid}.tmp`;
    fs.writeFileSync(draft, JSON.stringify(record, null, 2) + "\n");
    try {
        fs.linkSync(draft, recordFile);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") throw inUse(readRecord(bridge) ?? record);
        throw err;
    } finally {
        fs.rmSync(draft, { force: true });
    }
    const ip = (args: string[]) => run(tool("ip"), args);
    ip(["link", "add", bridge, "type", "bridge"]);
    for (const a of [...new Set(addresses)]) ip(["addr", "add", `${a}/24`, "dev", bridge]);
    ip(["link", "set", bridge, "up"]);
    return record;
}

export async function startRouterHarness(opts: RouterHarnessOptions): Promise<RouterHarness> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-router-"));
    const base = opts.address.split(".").slice(0, 3).join(".");
    const backends = opts.backendAddresses ?? Array.from({ length: 20 }, (_, i) => `${base}.${20 + i}`);
    const record = await addressBridge([opts.address, opts.memberAddress, opts.proxyAddress, ...backends], root);
    let etcd: EtcdTestCluster;
    try {
        etcd = await startEtcdCluster({ size: 1, firstAddress: opts.memberAddress, enableV2: true });
    } catch (err) {
        await removeVpc(record);
        fs.rmSync(root, { recursive: true, force: true });
        throw err;
    }
    const script = path.join(root, "opt", "coreos-router", "router.js");
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(script, routerScript());
    const proxyUrl = `http://${opts.proxyAddress}:2379`;
    let proxy: ChildProcess | undefined;
    const startProxy = async () => {
        const dataDir = fs.mkdtempSync(path.join(root, "proxy-"));
        proxy = spawn("etcd", [], {
            stdio: ["ignore", fs.openSync(path.join(root, "proxy.log"), "a"), fs.openSync(path.join(root, "proxy.log"), "a")],
            env: {
                PATH: process.env.PATH,
                ETCD_PROXY: "on",
                ETCD_DATA_DIR: dataDir,
                ETCD_INITIAL_CLUSTER: `${etcd.members[0].name}=${etcd.members[0].peerUrl}`,
                ETCD_LISTEN_CLIENT_URLS: proxyUrl,
            },
        });
        killOnExit(proxy);
        await waitFor("the worker's etcd proxy", async () => (await httpGet(`${proxyUrl}/v2/keys/?quorum=false`)).status === 200);
    };
    const stopProxy = async () => {
        if (!proxy?.pid || proxy.exitCode !== null) return;
        const p = proxy;
        p.kill("SIGTERM");
        await new Promise((r) => p.once("exit", r));
    };
    await startProxy();
    const E = ROUTER_ENV;
    const env: Record<string, string> = {
        [E.prefix]: "/services",
        [E.etcdEndpoints]: (opts.etcdEndpoints ?? etcd.endpoints).join(","),
        [E.etcdProxy]: proxyUrl,
        [E.bind]: opts.address,
        [E.httpPorts]: (opts.httpPorts ?? [80, 443]).join(","),
        [E.healthPort]: String(opts.healthPort ?? 10256),
        [E.healthPath]: "/healthz",
        [E.dnsPort]: String(opts.dnsPort ?? ROUTER_DEFAULTS.dnsPort),
        [E.configDir]: path.join(root, "etc", "coreos-router"),
        [E.runDir]: path.join(root, "run", "coreos-router"),
        [E.settleMs]: String(opts.settleMs ?? ROUTER_DEFAULTS.settleMs),
    };
    let pid: number | undefined;
    const harness: RouterHarness = {
        etcd,
        bridge: record.bridge,
        proxyUrl,
        address: opts.address,
        root,
        env,
        supervisorPid: () => runningProcessPid(root, "router", pid),
        start() {
            pid = spawnMachineProcess({ machine: "test-worker", root, name: "router", argv: [...routerPrivilegeArgv(), process.execPath, script], env });
        },
        async stop() {
            await stopMachineProcess(runningProcessPid(root, "router", pid), root, "router");
        },
        startProxy,
        stopProxy,
        async close() {
            await harness.stop();
            await stopProxy();
            await etcd.stop();
            await removeVpc(record);
            fs.rmSync(root, { recursive: true, force: true });
        },
        log: () => {
            try {
                return fs.readFileSync(path.join(root, "router.log"), "utf8");
            } catch {
                return "";
            }
        },
    };
    return harness;
}

/** The router's health answer at `address` (its health port, 10256 by default): the HTTP status and the parsed JSON. */
export async function routerHealth<Body = any>(address: string, port = 10256): Promise<{ status: number; body: Body }> {
    const res = await httpGet(`http://${address}:${port}/healthz`, undefined, 10000);
    return { status: res.status, body: JSON.parse(res.body) as Body };
}

/** The pid of the supervisor loop's current watcher (its one child). */
export function watcherPid(supervisorPid: number): number | undefined {
    try {
        const children = fs.readFileSync(`/proc/${supervisorPid}/task/${supervisorPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        return children.find((c) => fs.readFileSync(`/proc/${c}/cmdline`, "utf8").includes("router.js"));
    } catch {
        return undefined;
    }
}

/** The master's pid from HAProxy's own pid file; undefined while the file is missing or being rewritten (a reload). */
export function haproxyMasterPid(harness: RouterHarness): number | undefined {
    try {
        const pid = parseInt(fs.readFileSync(path.join(harness.env.ROUTER_RUN_DIR, "haproxy.pid"), "utf8").trim(), 10);
        return Number.isInteger(pid) ? pid : undefined;
    } catch {
        return undefined;
    }
}

/** The master's pid once the pid file reads whole (it is rewritten on every reload). */
export async function settledHaproxyMasterPid(harness: RouterHarness): Promise<number> {
    return waitFor("HAProxy's pid file", async () => haproxyMasterPid(harness));
}

/** HAProxy's processes: the master and its workers (a reload adds a worker; old ones leave once their connections end). */
export function haproxyProcesses(harness: RouterHarness): number[] {
    const master = haproxyMasterPid(harness);
    if (master === undefined) return [];
    try {
        const workers = fs.readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        return [master, ...workers].sort((a, b) => a - b);
    } catch {
        return [];
    }
}

/** One command on HAProxy's admin socket (the test runs as root, as the watcher does), e.g. `show servers state`. */
export function haproxyCommand(harness: RouterHarness, command: string, timeoutMs = 2000): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(path.join(harness.env.ROUTER_RUN_DIR, "haproxy.sock"));
        let data = "";
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${command}: no answer`)));
        socket.on("data", (c) => (data += c));
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
        socket.write(`${command}\n`);
    });
}

/** The hosts each backend serves now, from HAProxy itself (`show servers state`): servers not in maintenance, as `ip:port`. */
export async function servedHosts(harness: RouterHarness): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const line of (await haproxyCommand(harness, "show servers state")).split("\n")) {
        // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ... srv_port (field 19)
        const f = line.trim().split(" ");
        if (f.length < 19 || !/^\d+$/.test(f[0])) continue;
        const admin = Number(f[6]);
        if (admin & 0x23) continue; // in maintenance (forced, inherited or from resolution): serves nothing
        out.set(f[1], [...(out.get(f[1]) ?? []), `${f[4]}:${f[18]}`].sort());
    }
    return out;
}
