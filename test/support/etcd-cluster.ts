// Real etcd clusters for tests: Debian's etcd 3.4 started from ETCD_* environment variables
// (the same variables coreos-cloudinit writes), one loopback IP per member, data in a temp dir.
// Processes are stopped strictly by the pids this module spawned: other engineers run etcd too.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";

export interface EtcdTestMember {
    name: string;
    ip: string;
    clientUrl: string;
    peerUrl: string;
    /** Pid of the running process; undefined while the member is stopped. */
    pid: number | undefined;
    dataDir: string;
    logFile: string;
}

export interface EtcdTestCluster {
    endpoints: string[];
    members: EtcdTestMember[];
    /** Folder holding every member's data and log; removed by stop(). */
    root: string;
    stopMember(index: number): Promise<void>;
    /** Restarts a stopped member from its data dir; waits for health unless told not to (no quorum yet). */
    startMember(index: number, opts?: { waitHealthy?: boolean }): Promise<void>;
    stop(): Promise<void>;
}

export interface StartEtcdClusterOptions {
    size: number;
    /** IPv4 loopback address of member 0; member i gets the address + i. */
    firstAddress: string;
    enableV2?: boolean;
    /** Parent folder of the temp dir (default os.tmpdir()). */
    dataRoot?: string;
    clientPort?: number;
    peerPort?: number;
    /** Milliseconds to wait for every member to be healthy (default 30000). */
    startTimeoutMs?: number;
    /**
     * Serve clients over TLS (peers stay plain): PEM text of the CA, the server certificate (with the
     * members' IPs as SANs) and key; with `clientCertAuth`, clients need a certificate signed by the
     * CA, and `clientCert`/`clientKey` are what the harness's own health checks present.
     */
    tls?: { ca: string; cert: string; key: string; clientCertAuth?: boolean; clientCert?: string; clientKey?: string };
    /**
     * Per-member certificates, overriding tls.cert/key: `cert`/`key` for the client port and, with
     * `peerCert`/`peerKey`, mutual TLS on the peer port too (peer client-certificate auth, tls.ca trusted).
     */
    memberTls?: Array<{ cert: string; key: string; peerCert?: string; peerKey?: string }>;
}

const INSTALL_HINT = "run scripts/install-system-deps.sh (installs Debian's etcd-server and etcd-client)";

/** Throws a clear error when the etcd binaries are not installed, instead of a confusing spawn ENOENT later. */
export function requireEtcdBinaries(searchPath: string | undefined = process.env.PATH): void {
    for (const binary of ["etcd", "etcdctl"]) {
        const found = spawnSync("/bin/sh", ["-c", `command -v ${binary}`], { encoding: "utf8", env: { PATH: searchPath ?? "" } });
        if (found.status !== 0 || !found.stdout.trim()) {
            throw new Error(`'${binary}' is not on PATH: tests that need real etcd cannot run; ${INSTALL_HINT}`);
        }
    }
}

export function addToIPv4(address: string, offset: number): string {
    const parts = address.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
        throw new Error(`not an IPv4 address: ${address}`);
    }
    const value = ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3] + offset;
    return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** GET <clientUrl>/health; true only when the member reports health (it has a leader). */
export function memberIsHealthy(clientUrl: string, timeoutMs = 1000, tls?: { ca: string; clientCert?: string; clientKey?: string }): Promise<boolean> {
    const transport = clientUrl.startsWith("https:") ? https : http;
    const tlsOptions = tls ? { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } : {};
    return new Promise((resolve) => {
        const req = transport.get(`${clientUrl}/health`, { timeout: timeoutMs, ...tlsOptions }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk) => (body += chunk));
            res.on("end", () => {
                try {
                    resolve(res.statusCode === 200 && JSON.parse(body).health === "true");
                } catch {
                    resolve(false);
                }
            });
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Safety net: if the test process dies without calling stop(), do not leave orphan members behind.
const livePids = new Set<number>();
const liveRoots = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
    if (exitHookInstalled) return;
    exitHookInstalled = true;
    process.on("exit", () => {
        for (const p of livePids) {
            try {
                process.kill(p, "SIGKILL");
            } catch {
                /* already gone */
            }
        }
        for (const root of liveRoots) fs.rmSync(root, { recursive: true, force: true });
    });
}
function trackPid(pid: number): void {
    livePids.add(pid);
    installExitHook();
}

/** The same safety net for another etcd this process started (a worker's proxy): killed if the test process exits first. */
export function killOnExit(child: { pid?: number; once(event: "exit", listener: () => void): unknown }): void {
    const pid = child.pid;
    if (pid === undefined) return;
    trackPid(pid);
    child.once("exit", () => livePids.delete(pid));
}

export async function startEtcdCluster(opts: StartEtcdClusterOptions): Promise<EtcdTestCluster> {
    requireEtcdBinaries();
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new Error(`cluster size must be >= 1, got ${opts.size}`);
    const clientPort = opts.clientPort ?? 2379;
    const peerPort = opts.peerPort ?? 2380;
    const root = fs.mkdtempSync(path.join(opts.dataRoot ?? os.tmpdir(), "etcd-test-"));
    liveRoots.add(root);
    installExitHook();
    const token = `test-${path.basename(root)}`;
    const clientScheme = opts.tls ? "https" : "http";
    const tlsFiles: Record<string, string> = {};
    if (opts.tls) {
        for (const [name, text] of [["ca.pem", opts.tls.ca], ["server.pem", opts.tls.cert], ["server-key.pem", opts.tls.key]]) {
            tlsFiles[name] = path.join(root, name);
            fs.writeFileSync(tlsFiles[name], text, { mode: 0o600 });
        }
    }

    const members: EtcdTestMember[] = [];
    for (let i = 0; i < opts.size; i++) {
        const ip = addToIPv4(opts.firstAddress, i);
        const name = `member-${i}`;
        const peerTls = opts.memberTls?.[i]?.peerCert !== undefined;
        members.push({
            name,
            ip,
            clientUrl: `${clientScheme}://${ip}:${clientPort}`,
            peerUrl: `${peerTls ? "https" : "http"}://${ip}:${peerPort}`,
            pid: undefined,
            dataDir: path.join(root, name),
            logFile: path.join(root, `${name}.log`),
        });
    }
    const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const processes: (ChildProcess | undefined)[] = members.map(() => undefined);

    const launch = (i: number, state: "new" | "existing") => {
        const m = members[i];
        const log = fs.openSync(m.logFile, "a");
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            ETCD_NAME: m.name,
            ETCD_DATA_DIR: m.dataDir,
            ETCD_INITIAL_ADVERTISE_PEER_URLS: m.peerUrl,
            ETCD_LISTEN_PEER_URLS: m.peerUrl,
            ETCD_LISTEN_CLIENT_URLS: m.clientUrl,
            ETCD_ADVERTISE_CLIENT_URLS: m.clientUrl,
            ETCD_INITIAL_CLUSTER: initialCluster,
            ETCD_INITIAL_CLUSTER_STATE: state,
            ETCD_INITIAL_CLUSTER_TOKEN: token,
            ETCD_ENABLE_V2: opts.enableV2 ? "true" : "false",
        };
        if (opts.tls) {
            env.ETCD_CERT_FILE = tlsFiles["server.pem"];
            env.ETCD_KEY_FILE = tlsFiles["server-key.pem"];
            env.ETCD_TRUSTED_CA_FILE = tlsFiles["ca.pem"];
            env.ETCD_CLIENT_CERT_AUTH = opts.tls.clientCertAuth ? "true" : "false";
            const own = opts.memberTls?.[i];
            if (own) {
                const file = (suffix: string, text: string) => {
                    const f = path.join(root, `${m.name}-${suffix}.pem`);
                    fs.writeFileSync(f, text, { mode: 0o600 });
                    return f;
                };
                env.ETCD_CERT_FILE = file("server", own.cert);
                env.ETCD_KEY_FILE = file("server-key", own.key);
                if (own.peerCert && own.peerKey) {
                    env.ETCD_PEER_CERT_FILE = file("peer", own.peerCert);
                    env.ETCD_PEER_KEY_FILE = file("peer-key", own.peerKey);
                    env.ETCD_PEER_TRUSTED_CA_FILE = tlsFiles["ca.pem"];
                    env.ETCD_PEER_CLIENT_CERT_AUTH = "true";
                }
            }
        }
        const child = spawn("etcd", [], { env, stdio: ["ignore", log, log] });
        fs.closeSync(log);
        if (child.pid === undefined) throw new Error(`could not start etcd member ${m.name}; ${INSTALL_HINT}`);
        processes[i] = child;
        m.pid = child.pid;
        trackPid(child.pid);
        child.on("exit", () => {
            if (child.pid !== undefined) livePids.delete(child.pid);
            if (processes[i] === child) {
                processes[i] = undefined;
                m.pid = undefined;
            }
        });
    };

    const logTail = (m: EtcdTestMember) => {
        try {
            return fs.readFileSync(m.logFile, "utf8").split("\n").slice(-15).join("\n");
        } catch {
            return "(no log)";
        }
    };

    const waitHealthy = async (indexes: number[], timeoutMs: number) => {
        const deadline = Date.now() + timeoutMs;
        const pending = new Set(indexes);
        while (pending.size > 0) {
            for (const i of [...pending]) {
                if (processes[i] === undefined) {
                    throw new Error(`etcd member ${members[i].name} (${members[i].ip}) exited while starting:\n${logTail(members[i])}`);
                }
                if (await memberIsHealthy(members[i].clientUrl, 1000, opts.tls)) pending.delete(i);
            }
            if (pending.size === 0) break;
            if (Date.now() > deadline) {
                const names = [...pending].map((i) => members[i].name).join(", ");
                throw new Error(`etcd members not healthy after ${timeoutMs} ms: ${names}\n${logTail(members[[...pending][0]])}`);
            }
            await sleep(100);
        }
    };

    const stopProcess = async (i: number) => {
        const child = processes[i];
        if (!child || child.pid === undefined) return;
        const exited = new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once("exit", () => resolve());
        });
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => {
            try {
                if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
            } catch {
                /* already gone */
            }
        }, 5000);
        await exited;
        clearTimeout(timer);
    };

    const cluster: EtcdTestCluster = {
        endpoints: members.map((m) => m.clientUrl),
        members,
        root,
        stopMember: async (i) => stopProcess(i),
        startMember: async (i, startOpts) => {
            if (processes[i]) return;
            launch(i, "existing");
            if (startOpts?.waitHealthy ?? true) await waitHealthy([i], opts.startTimeoutMs ?? 30000);
        },
        stop: async () => {
            await Promise.all(members.map((_, i) => stopProcess(i)));
            fs.rmSync(root, { recursive: true, force: true });
            liveRoots.delete(root);
        },
    };

    try {
        members.forEach((_, i) => launch(i, "new"));
        await waitHealthy(members.map((_, i) => i), opts.startTimeoutMs ?? 30000);
    } catch (err) {
        await cluster.stop();
        throw err;
    }
    return cluster;
}
