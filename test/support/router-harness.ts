// A real router on loopback for tests and benchmarks: Debian's etcd (a member and a worker's v2
// proxy), the bundled watcher (router/bundle.ts, the very script the user-data ships) started by
// the local platform's spawnRouterProcess, Debian's HAProxy as its child, and small real backends.
// Everything is stopped by the pids started here.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { routerScript } from "../../router/bundle";
import { runningProcessPid, spawnMachineProcess, stopMachineProcess } from "../../components/local/machine-process";
import { EtcdTestCluster, startEtcdCluster } from "./etcd-cluster";

export interface RouterHarness {
    etcd: EtcdTestCluster;
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
    /** Member at this address, the worker's proxy at +1... given explicitly. */
    memberAddress: string;
    proxyAddress: string;
    /** The router's (worker's) address. */
    address: string;
    httpPorts?: number[];
    healthPort?: number;
    dnsPort?: number;
    settleMs?: number;
}

export async function startRouterHarness(opts: RouterHarnessOptions): Promise<RouterHarness> {
    const etcd = await startEtcdCluster({ size: 1, firstAddress: opts.memberAddress, enableV2: true });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-router-"));
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
        await waitFor("the worker's etcd proxy", async () => (await httpGet(`${proxyUrl}/v2/keys/?quorum=false`)).status === 200);
    };
    const stopProxy = async () => {
        if (!proxy?.pid || proxy.exitCode !== null) return;
        const p = proxy;
        p.kill("SIGTERM");
        await new Promise((r) => p.once("exit", r));
    };
    await startProxy();
    const env: Record<string, string> = {
        ROUTER_PREFIX: "/services",
        ROUTER_ETCD_ENDPOINTS: etcd.endpoints.join(","),
        ROUTER_ETCD_PROXY: proxyUrl,
        ROUTER_BIND: opts.address,
        ROUTER_HTTP_PORTS: (opts.httpPorts ?? [80, 443]).join(","),
        ROUTER_HEALTH_PORT: String(opts.healthPort ?? 10256),
        ROUTER_HEALTH_PATH: "/healthz",
        ROUTER_DNS_PORT: String(opts.dnsPort ?? 53),
        ROUTER_CONFIG_DIR: path.join(root, "etc", "coreos-router"),
        ROUTER_RUN_DIR: path.join(root, "run", "coreos-router"),
        ROUTER_SETTLE_MS: String(opts.settleMs ?? 100),
    };
    let pid: number | undefined;
    const harness: RouterHarness = {
        etcd,
        proxyUrl,
        address: opts.address,
        root,
        env,
        supervisorPid: () => runningProcessPid(root, "router", pid),
        start() {
            pid = spawnMachineProcess({ machine: "test-worker", root, name: "router", argv: [process.execPath, script], env });
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
            fs.rmSync(root, { recursive: true, force: true });
        },
    };
    return harness;
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

export function haproxyMasterPid(harness: RouterHarness): number | undefined {
    try {
        return parseInt(fs.readFileSync(path.join(harness.env.ROUTER_RUN_DIR, "haproxy.pid"), "utf8").trim(), 10);
    } catch {
        return undefined;
    }
}
