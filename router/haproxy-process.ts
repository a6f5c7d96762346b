// HAProxy as the watcher's child, in master-worker mode (-W) with a master socket (-S):
// a reload is SIGUSR2 to the master, which starts new workers from the file on disk while
// the old ones hand over their listeners (expose-fd listeners) and finish their connections.
// The watcher is HAProxy's supervisor on both platforms; a master left behind by a killed
// watcher is adopted by pid (checked against /proc), not started twice.
import * as childProcess from "child_process";
import * as fs from "fs";
import * as net from "net";

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

/** True when `pid` is alive (not a zombie) and is an HAProxy master running `configFile`. */
export function isOurHaproxy(pid: number | undefined, configFile: string): boolean {
    if (!pid || !Number.isInteger(pid) || pid <= 0) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        if (state === "Z" || state === "X") return false;
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return argv[0].split("/").pop() === "haproxy" && argv.includes("-W") && argv.includes(configFile);
    } catch {
        return false;
    }
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
            if (isOurHaproxy(pid, this.paths.configFile)) {
                this.pid = pid;
                this.log(`haproxy: adopted the running master (pid ${pid})`);
                return true;
            }
        } catch {
            // no pid file: nothing to adopt
        }
        return false;
    }

    alive(): boolean {
        return isOurHaproxy(this.pid, this.paths.configFile);
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
