// LocalSshd: Debian's OpenSSH daemon inside a member's namespace, the deployer's only way into the
// local VPC (as IAP to a member's port 22 is on GCE). It listens on the member's VPC address,
// the firewall admits it from sshSourceRanges (the deployer stands for them), and it accepts the
// public keys it is given: the deployer's (derived from sshTunnel.privateKey) and sshAuthorizedKeys.
// Tunnels only: no shell, no TTY. Runtime modules are required inside functions.
//
// The provider's side of LocalSshd (local-sshd.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import { spawnInNamespace } from "./vpc/spawn";
import { vpcRouteProblem } from "../etcd/vpc-route-guard";

export const SSHD_MARKER = ".coreos-cluster-local-sshd";

export interface LocalSshdInputs {
    name: string;
    namespace: string;
    address: string;
    port: number;
    /** Folder of the daemon's config, host key, pid and log (under the stack's data dir). */
    root: string;
    /** Public key lines (never a private key). */
    authorizedKeys: string[];
    providerVersion: string;
}

export interface LocalSshdState extends LocalSshdInputs {
    pid?: number;
    running: boolean;
    /** "SHA256:..." of the host key, as `ssh-keygen -lf` prints it (for pinning). */
    hostKeySha256: string;
}

function files(root: string) {
    const path: typeof import("path") = require("path");
    return {
        config: path.join(root, "sshd_config"),
        hostKey: path.join(root, "ssh_host_ed25519_key"),
        authorizedKeys: path.join(root, "authorized_keys"),
        pidFile: path.join(root, "sshd.pid"),
        logFile: path.join(root, "sshd.log"),
        marker: path.join(root, SSHD_MARKER),
    };
}

/** True when pid is a live sshd started with this root's config. */
export function isLocalSshd(pid: number | undefined, root: string): boolean {
    const fs: typeof import("fs") = require("fs");
    if (!pid) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2))) return false;
        // sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f <config> [listener] ..."), so
        // its argv is read as one line.
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
        return /(^|\/)sshd\b/.test(cmdline) && cmdline.includes(` ${files(root).config}`);
    } catch {
        return false;
    }
}

function runningPid(root: string, known?: number): number | undefined {
    const fs: typeof import("fs") = require("fs");
    if (isLocalSshd(known, root)) return known;
    try {
        const pid = parseInt(fs.readFileSync(files(root).pidFile, "utf8"), 10);
        return isLocalSshd(pid, root) ? pid : undefined;
    } catch {
        return undefined;
    }
}

function hostKeyFingerprint(root: string): string {
    const fs: typeof import("fs") = require("fs");
    const crypto: typeof import("crypto") = require("crypto");
    const blob = Buffer.from(fs.readFileSync(`${files(root).hostKey}.pub`, "utf8").trim().split(/\s+/)[1], "base64");
    return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Waits for the SSH banner from the root namespace: the deployer's own path in, through the firewall. */
function waitForBanner(host: string, port: number, timeoutMs: number): Promise<void> {
    const net: typeof import("net") = require("net");
    // The VPC is always the /24 of its machines (addressing.ts): never dial it past its bridge.
    const problem = vpcRouteProblem(host, `${host.split(".").slice(0, 3).join(".")}.0/24`);
    if (problem) return Promise.reject(new Error(`sshd on ${host}:${port}: refusing to dial it from the root namespace: ${problem}`));
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            const socket = net.connect(port, host);
            socket.setTimeout(1000);
            const retry = () => {
                socket.destroy();
                if (Date.now() > deadline) {
                    reject(new Error(`sshd on ${host}:${port} gives the deployer no SSH banner within ${timeoutMs} ms (does coreos-cluster:sshSourceRanges admit it? the firewall's <cluster>-ssh rule is its only way in)`));
                } else setTimeout(attempt, 100);
            };
            socket.once("data", (d) => {
                socket.destroy();
                if (String(d).startsWith("SSH-")) resolve();
                else retry();
            });
            socket.once("error", retry);
            socket.once("timeout", retry);
        };
        attempt();
    });
}

async function start(inputs: LocalSshdInputs): Promise<number> {
    const fs: typeof import("fs") = require("fs");
    const childProcess: typeof import("child_process") = require("child_process");
    const f = files(inputs.root);
    fs.mkdirSync(inputs.root, { recursive: true, mode: 0o700 });
    fs.writeFileSync(f.marker, `${inputs.name}\n`);
    if (!fs.existsSync(f.hostKey)) {
        const r = childProcess.spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `${inputs.name}-host`, "-f", f.hostKey], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`${inputs.name}: ssh-keygen failed (run scripts/install-system-deps.sh): ${r.stderr}`);
    }
    fs.writeFileSync(f.authorizedKeys, inputs.authorizedKeys.map((k) => k.trim()).join("\n") + "\n", { mode: 0o600 });
    fs.writeFileSync(
        f.config,
        [
            `ListenAddress ${inputs.address}`,
            `Port ${inputs.port}`,
            `HostKey ${f.hostKey}`,
            `AuthorizedKeysFile ${f.authorizedKeys}`,
            `PidFile ${f.pidFile}`,
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            // The deployer's tunnels (etcd's 2379, fleet's socket), nothing else.
            "AllowTcpForwarding local",
            "AllowStreamLocalForwarding local",
            "PermitTTY no",
            "ForceCommand /bin/false",
            "X11Forwarding no",
            "LogLevel VERBOSE",
            "",
        ].join("\n"),
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const pid = await spawnInNamespace({ namespace: inputs.namespace, command: "/usr/sbin/sshd", args: ["-D", "-e", "-f", f.config], logFile: f.logFile, pidFile: f.pidFile, label: `sshd of ${inputs.name}` });
    try {
        await waitForBanner(inputs.address, inputs.port, 10000);
    } catch (err) {
        await stop(pid, inputs.root);
        throw new Error(`${inputs.name}: ${(err as Error).message}`);
    }
    return pid;
}

async function stop(pid: number | undefined, root: string): Promise<void> {
    if (!pid || !isLocalSshd(pid, root)) return;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (isLocalSshd(pid, root) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (isLocalSshd(pid, root)) process.kill(pid, "SIGKILL");
}

function stateOf(inputs: LocalSshdInputs, pid: number | undefined): LocalSshdState {
    return { ...inputs, ...(pid ? { pid } : {}), running: pid !== undefined, hostKeySha256: hostKeyFingerprint(inputs.root) };
}

export const provider: ProviderOperations = {
    async check(_olds: LocalSshdInputs, news: LocalSshdInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (Array.isArray(news.authorizedKeys) && news.authorizedKeys.some((k) => typeof k === "string" && /PRIVATE KEY/.test(k))) {
            failures.push({ property: "authorizedKeys", reason: "authorizedKeys must be public keys" });
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: LocalSshdState, news: LocalSshdInputs) {
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        const replaces = (["name", "namespace", "root"] as const).filter((k) => olds[k] !== news[k]);
        const changes =
            replaces.length > 0 ||
            !runningPid(olds.root, olds.pid) ||
            olds.address !== news.address ||
            olds.port !== news.port ||
            !same(olds.authorizedKeys, news.authorizedKeys) ||
            olds.providerVersion !== news.providerVersion;
        return { changes, replaces, deleteBeforeReplace: true };
    },
    async create(inputs: LocalSshdInputs) {
        return { id: inputs.name, outs: stateOf(inputs, await start(inputs)) };
    },
    async read(id: string, props: LocalSshdState) {
        const pid = runningPid(props.root, props.pid);
        const { pid: _old, ...rest } = props;
        return { id, props: { ...rest, ...(pid ? { pid } : {}), running: pid !== undefined } };
    },
    async update(_id: string, olds: LocalSshdState, news: LocalSshdInputs) {
        await stop(runningPid(olds.root, olds.pid), olds.root);
        return { outs: stateOf(news, await start(news)) };
    },
    async delete(_id: string, props: LocalSshdState) {
        const fs: typeof import("fs") = require("fs");
        await stop(runningPid(props.root, props.pid), props.root);
        if (fs.existsSync(files(props.root).marker)) fs.rmSync(props.root, { recursive: true, force: true });
    },
};
