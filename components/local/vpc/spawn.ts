// The one way a process is started inside a local machine: detached (its own session, outliving
// `pulumi up`), in the machine's network namespace through `ip netns exec`, output appended to a
// log file, pid written to a pid file. Used for etcd, sshd and the health/load-balancer processes;
// HAProxy, the watcher and dnsmasq go through it too. Runtime modules are required inside functions.
import { tool } from "./netns";
import { judgeProcess, procStateLetter, ProcessView } from "../../../model/process-view";

export interface SpawnSpec {
    namespace: string;
    command: string;
    args?: string[];
    /** The full environment (nothing is inherited but PATH). */
    env?: Record<string, string>;
    logFile: string;
    pidFile?: string;
    cwd?: string;
    /** What the log's start line says. */
    label?: string;
}

/** What `/proc/<pid>` says of a process started through `ip netns exec`: still the launcher, mid-exec, the command, or gone. */
export type LaunchState = "launcher" | "exec-ing" | "command" | "gone";

/** Pure: the launch state from what /proc says of the pid (model/process-view.ts). */
export function launchState(view: ProcessView, launcherPath: string): LaunchState {
    if (view.kind !== "running") return view.kind;
    const argv0 = view.argv[0] ?? "";
    if (argv0 === launcherPath || argv0.split("/").pop() === "ip") return "launcher";
    return "command";
}

function procView(pid: number): ProcessView {
    const fs: typeof import("fs") = require("fs");
    try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return judgeProcess(cmdline, procStateLetter(fs.readFileSync(`/proc/${pid}/stat`, "utf8")));
    } catch {
        return judgeProcess(undefined, undefined);
    }
}

/**
 * Starts `command` in `namespace` and returns its pid once `ip netns exec` has exec'ed into it
 * (the pid stays the same, so pid checks can name the command itself). Throws when it cannot start.
 */
export async function spawnInNamespace(spec: SpawnSpec): Promise<number> {
    const fs: typeof import("fs") = require("fs");
    const childProcess: typeof import("child_process") = require("child_process");
    const ipPath = tool("ip");
    if (!fs.existsSync(`/run/netns/${spec.namespace}`)) throw new Error(`cannot start ${spec.command}: network namespace ${spec.namespace} does not exist`);
    const log = fs.openSync(spec.logFile, "a");
    fs.writeSync(log, `--- ${new Date().toISOString()} starting ${spec.label ?? spec.command} in namespace ${spec.namespace}\n`);
    let child: import("child_process").ChildProcess;
    try {
        child = childProcess.spawn(ipPath, ["netns", "exec", spec.namespace, spec.command, ...(spec.args ?? [])], {
            detached: true,
            stdio: ["ignore", log, log],
            cwd: spec.cwd,
            env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...(spec.env ?? {}) },
        });
    } finally {
        fs.closeSync(log);
    }
    child.on("error", () => undefined);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${ipPath} netns exec ${spec.namespace} ${spec.command}`);
    child.unref();
    // `ip netns exec` sets up the namespace, then execs the command in the same pid.
    const deadline = Date.now() + 5000;
    for (;;) {
        const view = procView(pid);
        const state = launchState(view, ipPath);
        if (state === "gone" || child.exitCode !== null) {
            throw new Error(`${spec.command} in namespace ${spec.namespace} exited at once; see ${spec.logFile}`);
        }
        if (state === "command") break;
        if (Date.now() > deadline) throw new Error(`ip netns exec ${spec.namespace} did not start ${spec.command} within 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (spec.pidFile) fs.writeFileSync(spec.pidFile, `${pid}\n`);
    return pid;
}

/** Runs a short command in a namespace and returns its stdout (probes: curl, etcdctl, reading /proc/net/tcp). */
export function execInNamespace(namespace: string, command: string, args: string[], timeoutMs = 10000): Promise<{ code: number; stdout: string; stderr: string }> {
    const childProcess: typeof import("child_process") = require("child_process");
    return new Promise((resolve) => {
        childProcess.execFile(tool("ip"), ["netns", "exec", namespace, command, ...args], { timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

/** Files of a client certificate (mutual TLS): the trust bundle, the certificate, its key. */
export interface ProbeTls {
    ca: string;
    cert: string;
    key: string;
}

/** An HTTP(S) GET from inside a namespace (curl), as a machine of the VPC would make it; with `tls`, presenting that client certificate. */
export async function httpGetInNamespace(namespace: string, url: string, timeoutMs = 1500, tls?: ProbeTls): Promise<{ status: number; body: string } | undefined> {
    const tlsArgs = tls ? ["--cacert", tls.ca, "--cert", tls.cert, "--key", tls.key] : [];
    const r = await execInNamespace(namespace, "curl", ["-s", "-m", String(timeoutMs / 1000), ...tlsArgs, "-w", "\n%{http_code}", url], timeoutMs + 2000);
    if (r.code !== 0) return undefined;
    const cut = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
}

/** True when something in the namespace listens on address:port (or on the wildcard). */
export async function listensInNamespace(namespace: string, address: string, port: number): Promise<boolean> {
    const r = await execInNamespace(namespace, "cat", ["/proc/net/tcp"], 5000);
    const hex = (a: string) => a.split(".").map((o) => Number(o).toString(16).padStart(2, "0").toUpperCase()).reverse().join("");
    const portHex = port.toString(16).padStart(4, "0").toUpperCase();
    const wanted = [`${hex(address)}:${portHex}`, `00000000:${portHex}`];
    return r.stdout.split("\n").slice(1).some((line) => {
        const cols = line.trim().split(/\s+/);
        return cols[3] === "0A" && wanted.includes(cols[1]);
    });
}
