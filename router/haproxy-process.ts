// HAProxy as the watcher's child, in master-worker mode (-W) with a master socket (-S):
// a reload is SIGUSR2 to the master, which starts new workers from the file on disk while
// the old ones hand over their listeners (expose-fd listeners) and finish their connections.
// The watcher is HAProxy's supervisor on both platforms; a master left behind by a killed
// watcher is adopted by pid (checked against /proc), not started twice.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as net from "net";
import { judgeProcess, procStateLetter, ProcessView } from "../model/process-view";

export interface HaproxyPaths {
    binary: string;
    configFile: string;
    pidFile: string;
    masterSocket: string;
}

/** `haproxy -c`: undefined when the file is valid, else HAProxy's own words. */
export function checkConfig(binary: string, file: string): Promise<string | undefined> {
    return new Promise((resolve) => {
        childProcess.execFile(binary, ["-c", "-f", file], { timeout: 10000 }, (err, stdout, stderr) => {
            if (!err) return resolve(undefined);
            const text = `${stderr}${stdout}`.trim().split("\n").filter((l) => /ALERT|error|Error/.test(l)).slice(0, 5).join(" | ");
            resolve(text || err.message);
        });
    });
}

/**
 * Whether `view` (model/process-view.ts) is an HAProxy master running `configFile`: "ours",
 * "exec-ing" (a master re-executes itself on every reload, SIGUSR2, and shows an empty cmdline
 * meanwhile: the same pid, still ours), "other" or "gone".
 */
export function haproxyState(view: ProcessView, configFile: string): "ours" | "exec-ing" | "other" | "gone" {
    if (view.kind !== "running") return view.kind;
    const argv = view.argv;
    return argv[0].split("/").pop() === "haproxy" && argv.includes("-W") && argv.includes(configFile) ? "ours" : "other";
}

function processView(pid: number): ProcessView {
    try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return judgeProcess(cmdline, procStateLetter(fs.readFileSync(`/proc/${pid}/stat`, "utf8")));
    } catch {
        return judgeProcess(undefined, undefined);
    }
}

/** The state of `pid` as an HAProxy master of `configFile` ("gone" for no pid). */
export function haproxyStateOf(pid: number | undefined, configFile: string): ReturnType<typeof haproxyState> {
    if (!pid || !Number.isInteger(pid) || pid <= 0) return "gone";
    return haproxyState(processView(pid), configFile);
}

/** The `node` of the config the running workers serve (`show info` on the admin socket), or undefined. */
export function servingConfigId(statsSocket: string, timeoutMs = 1000): Promise<string | undefined> {
    return new Promise((resolve) => {
        const socket = net.connect(statsSocket);
        let data = "";
        socket.setTimeout(timeoutMs, () => socket.destroy());
        socket.on("data", (c) => (data += c));
        socket.on("close", () => resolve(/^node: cfg-([0-9a-f]+)$/m.exec(data)?.[1]));
        socket.on("error", () => undefined);
        socket.write("show info\n");
    });
}

export class HaproxyMaster {
    pid: number | undefined;
    /** Why the last start failed or the master died, for the health detail. */
    lastExit: string | undefined;

    constructor(private readonly paths: HaproxyPaths, private readonly log: (line: string) => void) {}

    /** Takes over a master a previous watcher left running. */
    adopt(): boolean {
        try {
            // HAProxy rewrites its pid file when it reloads: an empty read is a file being written, read again.
            let pid = NaN;
            for (let attempt = 0; attempt < 20 && !Number.isInteger(pid); attempt++) {
                if (attempt > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
                pid = parseInt(fs.readFileSync(this.paths.pidFile, "utf8").trim(), 10);
            }
            // A master caught re-executing itself (a reload) shows its command a moment later.
            let state = haproxyStateOf(pid, this.paths.configFile);
            for (let attempt = 0; attempt < 40 && state === "exec-ing"; attempt++) {
                Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
                state = haproxyStateOf(pid, this.paths.configFile);
            }
            if (state === "ours") {
                this.pid = pid;
                this.log(`haproxy: adopted the running master (pid ${pid})`);
                return true;
            }
        } catch {
            // no pid file: nothing to adopt
        }
        return false;
    }

    /** The master started or adopted here still runs: also while it re-executes itself for a reload. */
    alive(): boolean {
        const state = haproxyStateOf(this.pid, this.paths.configFile);
        return state === "ours" || state === "exec-ing";
    }

    start(): void {
        const { binary, configFile, pidFile, masterSocket } = this.paths;
        const child = childProcess.spawn(binary, ["-W", "-S", `${masterSocket},mode,600`, "-f", configFile, "-p", pidFile], { stdio: ["ignore", "inherit", "inherit"] });
        child.on("error", (err) => (this.lastExit = `could not start ${binary}: ${err.message}`));
        child.on("exit", (code, signal) => {
            this.lastExit = `haproxy master (pid ${child.pid}) exited (${signal ?? `code ${code}`})`;
            this.log(this.lastExit);
        });
        this.pid = child.pid;
        this.log(`haproxy: started master pid ${child.pid} with ${configFile}`);
    }

    /** Hitless: the master re-reads the config file and replaces its workers. */
    reload(): void {
        if (this.pid && this.alive()) process.kill(this.pid, "SIGUSR2");
    }

    stop(): void {
        if (this.pid && this.alive()) process.kill(this.pid, "SIGTERM");
    }
}
