// A real OpenSSH daemon for tunnel tests: throwaway config, host key and client key pair generated
// by ssh-keygen in a temp dir, listening on one loopback address. Stopped by the pid in its PidFile.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface TestSshd {
    host: string;
    port: number;
    username: string;
    /** OpenSSH-format private key accepted by the daemon (generated for this run). */
    privateKey: string;
    /** A second generated key the daemon does NOT accept, for refusal tests. */
    unauthorizedPrivateKey: string;
    pid: number;
    dir: string;
    stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";
const INSTALL_HINT = "run scripts/install-system-deps.sh (installs Debian's openssh-server)";

export function requireSshd(): void {
    if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} not found: tunnel tests need a real sshd; ${INSTALL_HINT}`);
    const keygen = spawnSync("sh", ["-c", "command -v ssh-keygen"], { encoding: "utf8" });
    if (keygen.status !== 0) throw new Error(`ssh-keygen not on PATH; ${INSTALL_HINT}`);
}

function keygen(file: string): void {
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "coreos-cluster-test", "-f", file], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** A free TCP port on the address, chosen by the kernel. */
export function freePort(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, host, () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

function waitForBanner(host: string, port: number, timeoutMs: number, child: ChildProcess, log: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            if (child.exitCode !== null) {
                reject(new Error(`sshd exited (code ${child.exitCode}):\n${safeRead(log)}`));
                return;
            }
            const socket = net.connect(port, host);
            socket.setTimeout(1000);
            socket.once("data", (data) => {
                socket.destroy();
                if (data.toString().startsWith("SSH-")) resolve();
                else retry();
            });
            socket.once("error", retry);
            socket.once("timeout", () => {
                socket.destroy();
                retry();
            });
        };
        const retry = () => {
            if (Date.now() > deadline) reject(new Error(`sshd did not answer on ${host}:${port} within ${timeoutMs} ms:\n${safeRead(log)}`));
            else setTimeout(attempt, 100);
        };
        attempt();
    });
}

function safeRead(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return "(no log)";
    }
}

export async function startSshd(opts: { host?: string; port?: number } = {}): Promise<TestSshd> {
    requireSshd();
    // sshd refuses to start without its privilege-separation directory.
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const host = opts.host ?? "127.0.0.1";
    const port = opts.port ?? (await freePort(host));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sshd-test-"));
    const hostKey = path.join(dir, "host_ed25519");
    const clientKey = path.join(dir, "client_ed25519");
    const strangerKey = path.join(dir, "stranger_ed25519");
    keygen(hostKey);
    keygen(clientKey);
    keygen(strangerKey);
    const authorizedKeys = path.join(dir, "authorized_keys");
    fs.writeFileSync(authorizedKeys, fs.readFileSync(`${clientKey}.pub`), { mode: 0o600 });
    const pidFile = path.join(dir, "sshd.pid");
    const logFile = path.join(dir, "sshd.log");
    const config = [
        `Port ${port}`,
        `ListenAddress ${host}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `PidFile ${pidFile}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "AllowTcpForwarding yes",
        "AllowStreamLocalForwarding yes",
        "LogLevel VERBOSE",
        "",
    ].join("\n");
    const configFile = path.join(dir, "sshd_config");
    fs.writeFileSync(configFile, config);

    const log = fs.openSync(logFile, "a");
    // -D: stay in the foreground so the exit is observable; the PidFile is still written.
    const child = spawn(SSHD, ["-D", "-e", "-f", configFile], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    const cleanupOnExit = () => {
        try {
            if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
        } catch {
            /* gone */
        }
    };
    process.on("exit", cleanupOnExit);
    try {
        await waitForBanner(host, port, 10000, child, logFile);
    } catch (err) {
        cleanupOnExit();
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
    }
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`sshd PidFile ${pidFile} holds no pid`);

    return {
        host,
        port,
        username: os.userInfo().username,
        privateKey: fs.readFileSync(clientKey, "utf8"),
        unauthorizedPrivateKey: fs.readFileSync(strangerKey, "utf8"),
        pid,
        dir,
        stop: async () => {
            const exited = new Promise<void>((resolve) => {
                if (child.exitCode !== null || child.signalCode !== null) resolve();
                else child.once("exit", () => resolve());
            });
            try {
                process.kill(pid, "SIGTERM");
            } catch {
                /* already gone */
            }
            await exited;
            process.removeListener("exit", cleanupOnExit);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
