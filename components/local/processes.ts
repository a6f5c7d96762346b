// Runs a local machine's etcd as a detached background process that outlives `pulumi up`,
// and finds, checks and stops it strictly by pid (other etcd processes on this host are
// never touched). Runtime modules are required inside the functions:
// provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import type { BootPlan } from "./boot";
import { shortRunDir } from "./router-boot";
import { httpGetInNamespace, listensInNamespace, ProbeTls, spawnInNamespace } from "./vpc/spawn";
import { fetchBundle } from "./tls-store";

/** Marks a folder as a local machine's root; only such folders are ever removed. */
export const ROOT_MARKER = ".coreos-cluster-local-machine";

export interface MachinePaths {
    pidFile: string;
    logFile: string;
    /** The environment etcd was started with, for people reading along (`set -a; . etcd.env`). */
    envFile: string;
    marker: string;
}

export function machinePaths(root: string): MachinePaths {
    const path: typeof import("path") = require("path");
    return {
        pidFile: path.join(root, "etcd.pid"),
        logFile: path.join(root, "etcd.log"),
        envFile: path.join(root, "etcd.env"),
        marker: path.join(root, ROOT_MARKER),
    };
}

/**
 * Creates the machine's root, runs the simulated TLS fetch (its bundle from the local secret store,
 * as coreos-tls-fetch.service would before etcd) and lays down its `write_files` (the data dir is left to etcd).
 */
export function prepareRoot(plan: BootPlan): void {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    const paths = machinePaths(plan.root);
    fs.mkdirSync(plan.root, { recursive: true });
    fs.writeFileSync(paths.marker, JSON.stringify({ machine: plan.machine, address: plan.address }) + "\n");
    if (plan.tlsFetch) {
        try {
            fetchBundle(plan.tlsFetch.bundle, plan.root, plan.tlsFetch.dir, plan.tlsFetch.etcdUserIds);
        } catch (err) {
            throw new Error(`machine ${plan.machine}: ${(err as Error).message}`);
        }
    }
    for (const file of plan.files) {
        fs.mkdirSync(path.dirname(file.localPath), { recursive: true });
        fs.writeFileSync(file.localPath, Buffer.from(file.contentBase64, "base64"), { mode: file.mode });
        fs.chmodSync(file.localPath, file.mode);
    }
    const envText = Object.entries(plan.env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n";
    fs.writeFileSync(paths.envFile, envText);
}

/** True only when `pid` is alive (not a zombie) AND is the etcd started for `dataDir` (pids get reused). */
export function isMachineEtcd(pid: number | undefined, dataDir: string): boolean {
    const fs: typeof import("fs") = require("fs");
    if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state === "Z" || state === "X") return false;
        const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
        if (argv0.split("/").pop() !== "etcd") return false;
        return fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`ETCD_DATA_DIR=${dataDir}`);
    } catch {
        return false;
    }
}

/** The pid of the machine's running etcd: the given one, else the pid file's, else undefined. */
export function runningPid(root: string, dataDir: string, knownPid?: number): number | undefined {
    const fs: typeof import("fs") = require("fs");
    if (isMachineEtcd(knownPid, dataDir)) return knownPid;
    try {
        const fromFile = parseInt(fs.readFileSync(machinePaths(root).pidFile, "utf8").trim(), 10);
        return isMachineEtcd(fromFile, dataDir) ? fromFile : undefined;
    } catch {
        return undefined;
    }
}

/** etcd's arguments: none for a member or v2 proxy (all in ETCD_*), `gateway start ...` for a worker's gateway. */
export function etcdArgs(plan: BootPlan): string[] {
    const g = plan.gateway;
    return g ? ["gateway", "start", `--endpoints=${g.endpoints}`, `--listen-addr=${g.listenAddr}`, `--retry-delay=${g.retryDelay}`] : [];
}

/**
 * Starts etcd detached (its own session), output appended to the machine's log; returns the pid.
 * With a namespace, etcd runs inside the machine's network namespace (the local VPC).
 */
export async function startEtcd(plan: BootPlan, namespace?: string): Promise<number> {
    const fs: typeof import("fs") = require("fs");
    const childProcess: typeof import("child_process") = require("child_process");
    const paths = machinePaths(plan.root);
    if (namespace) {
        try {
            return await spawnInNamespace({ namespace, command: "etcd", args: etcdArgs(plan), env: plan.env, logFile: paths.logFile, pidFile: paths.pidFile, label: `etcd for ${plan.machine} (${plan.mode}) on ${plan.address}` });
        } catch (err) {
            throw new Error(`machine ${plan.machine}: ${(err as Error).message} (is Debian's etcd-server installed? run scripts/install-system-deps.sh)`);
        }
    }
    const log = fs.openSync(paths.logFile, "a");
    fs.writeSync(log, `--- ${new Date().toISOString()} starting etcd for ${plan.machine} (${plan.mode}) on ${plan.address}\n`);
    let child: import("child_process").ChildProcess;
    try {
        child = childProcess.spawn("etcd", etcdArgs(plan), {
            detached: true,
            stdio: ["ignore", log, log],
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...plan.env },
        });
    } finally {
        fs.closeSync(log);
    }
    child.on("error", () => undefined);
    if (child.pid === undefined) {
        throw new Error(`machine ${plan.machine}: could not start etcd (is Debian's etcd-server installed? run scripts/install-system-deps.sh)`);
    }
    child.unref();
    fs.writeFileSync(paths.pidFile, `${child.pid}\n`);
    return child.pid;
}

function processGone(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch {
        return true;
    }
    // A dead child of this process may linger as a zombie until reaped.
    try {
        const fs: typeof import("fs") = require("fs");
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
    } catch {
        return true;
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops the machine's etcd by pid: SIGTERM, then SIGKILL after `graceMs`. Does nothing unless the pid is that etcd. */
export async function stopEtcd(pid: number | undefined, dataDir: string, graceMs = 10000): Promise<boolean> {
    if (!pid || !isMachineEtcd(pid, dataDir)) return false;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (!processGone(pid) && Date.now() < deadline) await sleep(50);
    if (!processGone(pid)) {
        process.kill(pid, "SIGKILL");
        const killDeadline = Date.now() + 5000;
        while (!processGone(pid) && Date.now() < killDeadline) await sleep(50);
        if (!processGone(pid)) throw new Error(`etcd pid ${pid} (${dataDir}) did not exit after SIGKILL`);
    }
    return true;
}

function httpGet(url: string, timeoutMs: number, namespace?: string, tls?: ProbeTls): Promise<{ status: number; body: string } | undefined> {
    // Inside the VPC the deployer cannot reach a machine: a machine's own namespace can (loopback).
    if (namespace) return httpGetInNamespace(namespace, url, timeoutMs, tls);
    const fs: typeof import("fs") = require("fs");
    const transport: typeof import("https") = url.startsWith("https:") ? require("https") : require("http");
    const tlsOptions = tls && url.startsWith("https:") ? { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key), agent: false } : {};
    return new Promise((resolve) => {
        const req = transport.get(url, { timeout: timeoutMs, ...tlsOptions }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(undefined));
    });
}

/** A member is healthy when `/health` says so (it has a leader, so a quorum is up). */
export async function memberHealthy(clientUrl: string, timeoutMs = 1500, namespace?: string, tls?: ProbeTls): Promise<boolean> {
    const res = await httpGet(`${clientUrl}/health`, timeoutMs, namespace, tls);
    if (!res || res.status !== 200) return false;
    try {
        return JSON.parse(res.body).health === "true";
    } catch {
        return false;
    }
}

/** A worker's local endpoint answers when a v2 read through it succeeds (the gateway carries the probe's TLS to a member). */
export async function proxyAnswers(clientUrl: string, timeoutMs = 1500, namespace?: string, tls?: ProbeTls): Promise<boolean> {
    const res = await httpGet(`${clientUrl}/v2/keys/?quorum=false`, timeoutMs, namespace, tls);
    return res !== undefined && res.status === 200;
}

/** Accepts TCP connections on the URL's host:port (etcd binds its listeners before it has a quorum). */
export function listening(url: string, timeoutMs = 1000, namespace?: string): Promise<boolean> {
    const net: typeof import("net") = require("net");
    const { hostname, port } = new URL(url);
    if (namespace) return listensInNamespace(namespace, hostname, Number(port));
    return new Promise((resolve) => {
        const socket = net.connect({ host: hostname, port: Number(port) });
        const done = (ok: boolean) => {
            socket.destroy();
            resolve(ok);
        };
        socket.setTimeout(timeoutMs, () => done(false));
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
    });
}

/**
 * True when process `pid` itself holds a listening TCP socket on the URL's address:port
 * (another process listening there, e.g. a second machine on the same address, does not count).
 */
export function ownsListener(pid: number, url: string): boolean {
    const fs: typeof import("fs") = require("fs");
    const { hostname, port } = new URL(url);
    const hexIp = hostname.split(".").map((o) => Number(o).toString(16).padStart(2, "0").toUpperCase()).reverse().join("");
    const local = `${hexIp}:${Number(port).toString(16).padStart(4, "0").toUpperCase()}`;
    try {
        const inodes = fs
            .readFileSync(`/proc/${pid}/net/tcp`, "utf8")
            .split("\n")
            .slice(1)
            .map((line) => line.trim().split(/\s+/))
            .filter((cols) => cols[1] === local && cols[3] === "0A")
            .map((cols) => `socket:[${cols[9]}]`);
        if (inodes.length === 0) return false;
        return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
            try {
                return inodes.includes(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
            } catch {
                return false;
            }
        });
    } catch {
        return false;
    }
}

/** The last lines of the machine's etcd log, for error messages. */
export function logTail(root: string, lines = 12): string {
    const fs: typeof import("fs") = require("fs");
    try {
        return fs.readFileSync(machinePaths(root).logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/**
 * Waits until the machine's etcd is up: listening itself on its client URL (members; a lone
 * member cannot be healthy before its peers start), plus answering v2 reads (proxies).
 * Fails early when the process dies.
 */
export async function waitStarted(plan: BootPlan, pid: number, timeoutMs: number, namespace?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (!isMachineEtcd(pid, plan.dataDir)) {
            throw new Error(`machine ${plan.machine}: etcd (pid ${pid}) exited while starting; log ${machinePaths(plan.root).logFile}:\n${logTail(plan.root)}`);
        }
        const up = plan.mode === "proxy" ? ownsListener(pid, plan.clientUrl) && (await proxyAnswers(plan.clientUrl, 1500, namespace, plan.probeTls)) : ownsListener(pid, plan.clientUrl);
        if (up) return;
        if (Date.now() > deadline) {
            const what = plan.mode === "proxy" ? "answer v2 reads (are the members up?)" : "listen";
            throw new Error(`machine ${plan.machine}: etcd (pid ${pid}) did not ${what} on ${plan.clientUrl} within ${timeoutMs} ms:\n${logTail(plan.root)}`);
        }
        await sleep(100);
    }
}

/** Removes a machine's root folder, but only one this platform created (it holds the marker). */
export function removeRoot(root: string): void {
    const fs: typeof import("fs") = require("fs");
    if (!fs.existsSync(root)) return;
    if (!fs.existsSync(machinePaths(root).marker)) {
        throw new Error(`refusing to remove ${root}: it is not a local machine's root (no ${ROOT_MARKER})`);
    }
    fs.rmSync(root, { recursive: true, force: true });
    // The router's short run dir, used when the root is too deep for a socket path (router-boot.ts).
    fs.rmSync(shortRunDir(root), { recursive: true, force: true });
    removeIfEmpty(require("path").dirname(root));
}

/** Removes a folder only if it is empty (the shared data dir once its last machine is gone). */
export function removeIfEmpty(dir: string): void {
    const fs: typeof import("fs") = require("fs");
    try {
        fs.rmdirSync(dir);
    } catch {
        // not empty, or already gone: either way nothing of ours is left to remove
    }
}
