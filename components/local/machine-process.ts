// Runs a local machine's long-lived processes besides etcd (the router's watcher, which runs
// HAProxy as its child; the demo backends) the way etcd is run (processes.ts): detached in its
// own session, a pid file, a log file, and found, checked and stopped strictly by pid. It is the
// local stand-in for systemd's `Restart=always RestartSec=1`: a small shell loop restarts the
// program when it exits or is killed. spawnMachineProcess is the ONE place these are spawned
// (the network-namespace work only swaps its spawn). Runtime modules are required inside the
// functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import { tool } from "./vpc/netns";

export interface MachineProcessSpec {
    machine: string;
    /** The machine's root; `<name>.pid` and `<name>.log` live there. */
    root: string;
    /** router | demo-backends: names the pid and log files and marks the process. */
    name: string;
    /** The program's argv (e.g. node and the bundled router.js). */
    argv: string[];
    env: Record<string, string>;
    /** The machine's network namespace in the local VPC: the program runs there, as on its VM. */
    namespace?: string;
}

const RESTART_LOOP = 'while :; do "$@"; echo "$(date -u +%FT%TZ) exited ($?); restarting in 1 s (stand-in for systemd Restart=always)"; sleep 1; done';

/** Marks the supervisor loop in its argv, so a pid is ours only when this is there too. */
export function supervisorMark(name: string): string {
    return `coreos-local-${name}`;
}

export function processPaths(root: string, name: string): { pidFile: string; logFile: string } {
    const path: typeof import("path") = require("path");
    return { pidFile: path.join(root, `${name}.pid`), logFile: path.join(root, `${name}.log`) };
}

/** True only when `pid` is alive and is the `name` supervisor of `root` (pids get reused). */
export function isMachineProcess(pid: number | undefined, root: string, name: string): boolean {
    const fs: typeof import("fs") = require("fs");
    if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state === "Z" || state === "X") return false;
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv.includes(supervisorMark(name)) && argv.some((a) => a.startsWith(root));
    } catch {
        return false;
    }
}

export function runningProcessPid(root: string, name: string, knownPid?: number): number | undefined {
    const fs: typeof import("fs") = require("fs");
    if (isMachineProcess(knownPid, root, name)) return knownPid;
    try {
        const fromFile = parseInt(fs.readFileSync(processPaths(root, name).pidFile, "utf8").trim(), 10);
        return isMachineProcess(fromFile, root, name) ? fromFile : undefined;
    } catch {
        return undefined;
    }
}

/** Starts the program detached (its own session and process group), output appended to its log; returns the pid. */
export function spawnMachineProcess(spec: MachineProcessSpec): number {
    const fs: typeof import("fs") = require("fs");
    const childProcess: typeof import("child_process") = require("child_process");
    const paths = processPaths(spec.root, spec.name);
    fs.mkdirSync(spec.root, { recursive: true });
    const log = fs.openSync(paths.logFile, "a");
    fs.writeSync(log, `--- ${new Date().toISOString()} starting ${spec.name} of ${spec.machine}\n`);
    let child: import("child_process").ChildProcess;
    try {
        // `ip netns exec` execs the shell in place: the pid, its session and its group stay the same.
        const loop = ["/bin/sh", "-c", RESTART_LOOP, supervisorMark(spec.name), ...spec.argv];
        const [command, ...args] = spec.namespace === undefined ? loop : [tool("ip"), "netns", "exec", spec.namespace, ...loop];
        child = childProcess.spawn(command, args, {
            detached: true,
            stdio: ["ignore", log, log],
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin:/usr/sbin:/sbin", ...spec.env },
        });
    } finally {
        fs.closeSync(log);
    }
    child.on("error", () => undefined);
    if (child.pid === undefined) throw new Error(`machine ${spec.machine}: could not start ${spec.name}`);
    child.unref();
    fs.writeFileSync(paths.pidFile, `${child.pid}\n`);
    return child.pid;
}

/**
 * Stops the program by its pid: SIGTERM to its process group (the loop, the program and its
 * children, e.g. the router's HAProxy), SIGKILL after `graceMs`. Does nothing unless the pid is ours.
 */
export async function stopMachineProcess(pid: number | undefined, root: string, name: string, graceMs = 5000): Promise<boolean> {
    if (!pid || !isMachineProcess(pid, root, name)) return false;
    process.kill(-pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (groupRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (groupRunning(pid)) process.kill(-pid, "SIGKILL");
    return true;
}

/**
 * True while a process of group `pgid` still runs. A zombie does not count: once the provider that
 * started the group has exited, its processes are init's to reap, and init may take a second or
 * more (kill(-pgid, 0) succeeds until then), although nothing of the group runs any more.
 */
export function groupRunning(pgid: number): boolean {
    const fs: typeof import("fs") = require("fs");
    try {
        process.kill(-pgid, 0);
    } catch {
        return false;
    }
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // After the command's closing parenthesis: state, ppid, pgrp, ...
            const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(pgrp) === pgid && state !== "Z" && state !== "X") return true;
        } catch {
            // gone while listing
        }
    }
    return false;
}
