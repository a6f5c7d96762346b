// Runs a local worker's router (the watcher, which runs HAProxy as its child) the way etcd is
// run (processes.ts): detached in its own session, a pid file, a log file, and found, checked and
// stopped strictly by pid. It is the local stand-in for systemd's `Restart=always RestartSec=1`
// of the router unit: a small shell loop restarts the watcher when it exits or is killed.
// spawnRouterProcess is the ONE place a router process is spawned locally (so the network
// namespace work only swaps its spawn). Runtime modules are required inside the functions:
// this module is serialized into the LocalMachine dynamic provider.

export interface RouterProcessSpec {
    machine: string;
    /** The machine's root; the pid and log files live there. */
    root: string;
    /** The watcher's argv (node and the bundled script). */
    argv: string[];
    env: Record<string, string>;
}

/** Marks the supervisor loop in its argv, so a pid is ours only when this is there too. */
export const ROUTER_SUPERVISOR = "coreos-router-supervisor";

const RESTART_LOOP = 'while :; do "$@"; echo "$(date -u +%FT%TZ) router exited ($?); restarting in 1 s (stand-in for systemd Restart=always)"; sleep 1; done';

export function routerPaths(root: string): { pidFile: string; logFile: string } {
    const path: typeof import("path") = require("path");
    return { pidFile: path.join(root, "router.pid"), logFile: path.join(root, "router.log") };
}

/** True only when `pid` is alive and is the router supervisor of `root` (pids get reused). */
export function isRouterProcess(pid: number | undefined, root: string): boolean {
    const fs: typeof import("fs") = require("fs");
    if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state === "Z" || state === "X") return false;
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv.includes(ROUTER_SUPERVISOR) && argv.some((a) => a.startsWith(root));
    } catch {
        return false;
    }
}

export function runningRouterPid(root: string, knownPid?: number): number | undefined {
    const fs: typeof import("fs") = require("fs");
    if (isRouterProcess(knownPid, root)) return knownPid;
    try {
        const fromFile = parseInt(fs.readFileSync(routerPaths(root).pidFile, "utf8").trim(), 10);
        return isRouterProcess(fromFile, root) ? fromFile : undefined;
    } catch {
        return undefined;
    }
}

/** Starts the router detached (its own session and process group), output appended to its log; returns the pid. */
export function spawnRouterProcess(spec: RouterProcessSpec): number {
    const fs: typeof import("fs") = require("fs");
    const childProcess: typeof import("child_process") = require("child_process");
    const paths = routerPaths(spec.root);
    fs.mkdirSync(spec.root, { recursive: true });
    const log = fs.openSync(paths.logFile, "a");
    fs.writeSync(log, `--- ${new Date().toISOString()} starting the router of ${spec.machine}\n`);
    let child: import("child_process").ChildProcess;
    try {
        child = childProcess.spawn("/bin/sh", ["-c", RESTART_LOOP, ROUTER_SUPERVISOR, ...spec.argv], {
            detached: true,
            stdio: ["ignore", log, log],
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin:/usr/sbin:/sbin", ...spec.env },
        });
    } finally {
        fs.closeSync(log);
    }
    child.on("error", () => undefined);
    if (child.pid === undefined) throw new Error(`machine ${spec.machine}: could not start the router`);
    child.unref();
    fs.writeFileSync(paths.pidFile, `${child.pid}\n`);
    return child.pid;
}

/**
 * Stops the router by its pid: SIGTERM to its process group (the loop, the watcher and the
 * HAProxy it runs), SIGKILL after `graceMs`. Does nothing unless the pid is that router.
 */
export async function stopRouterProcess(pid: number | undefined, root: string, graceMs = 5000): Promise<boolean> {
    if (!pid || !isRouterProcess(pid, root)) return false;
    const groupAlive = () => {
        try {
            process.kill(-pid, 0);
            return true;
        } catch {
            return false;
        }
    };
    process.kill(-pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupAlive()) process.kill(-pid, "SIGKILL");
    return true;
}
