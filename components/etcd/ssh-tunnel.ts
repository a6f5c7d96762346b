// A local TCP listener that forwards every connection through one SSH connection (ssh2) to a
// target reachable from the bastion: a host:port (direct-tcpip) or a unix socket
// (direct-streamlocal, e.g. fleet's /var/run/fleet.sock). Used by the dynamic providers, so
// modules are required inside functions and nothing is captured at load time.
import type { Socket, Server } from "net";
import type { Client, ClientChannel } from "ssh2";
import type { SshTunnelSpec } from "../../model/types";
import { vpcRouteProblem } from "./vpc-route-guard";

export type TunnelTarget = { host: string; port: number } | { socketPath: string };

export interface Tunnel {
    /** Local address to connect to instead of the target. */
    host: string;
    port: number;
    close(): Promise<void>;
}

export interface TunnelOptions {
    /** Milliseconds to wait for the SSH handshake (default 10000). */
    readyTimeoutMs?: number;
    /** Optional host key pin: "SHA256:<base64>" as printed by `ssh-keygen -lf`. */
    hostKeySha256?: string;
}

/** Removes any private key text (whole or any of its lines) from a message. */
export function redactPrivateKey(message: string, privateKey: string | undefined): string {
    if (!privateKey) return message;
    let out = message.split(privateKey).join("[private key redacted]");
    for (const line of privateKey.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (trimmed.length >= 16 && !trimmed.startsWith("-----")) out = out.split(trimmed).join("[redacted]");
    }
    return out;
}

export function describeTunnelTarget(target: TunnelTarget): string {
    return "socketPath" in target ? `unix:${target.socketPath}` : `${target.host}:${target.port}`;
}

/**
 * The tunnel's private key: given, or read from the variable the stack named (sshTunnel.privateKeyEnv)
 * in this process's environment, where the deploy job puts it; the key itself is then never in state.
 */
export function tunnelPrivateKey(spec: Pick<SshTunnelSpec, "privateKey" | "privateKeyEnv">): string {
    if (spec.privateKey) return spec.privateKey;
    const name = spec.privateKeyEnv;
    const value = name ? process.env[name] : undefined;
    if (!name) throw new Error("sshTunnel: no privateKey and no privateKeyEnv");
    if (!value || value.trim() === "") throw new Error(`sshTunnel: environment variable ${name} is not set where Pulumi runs; it must hold the tunnel's private key (CI: the deploy job's secret)`);
    return `${value.trim()}\n`;
}

/** The key when it can be had (for redacting messages), never throwing. */
export function knownTunnelKey(spec: Pick<SshTunnelSpec, "privateKey" | "privateKeyEnv"> | undefined): string | undefined {
    if (!spec) return undefined;
    try {
        return tunnelPrivateKey(spec);
    } catch {
        return undefined;
    }
}

export function openTunnel(spec: SshTunnelSpec, target: TunnelTarget, options: TunnelOptions = {}): Promise<Tunnel> {
    const ssh2 = require("ssh2") as typeof import("ssh2");
    const net = require("net") as typeof import("net");
    const crypto = require("crypto") as typeof import("crypto");
    const where = `SSH tunnel ${spec.username}@${spec.host}:${spec.port} -> ${describeTunnelTarget(target)}`;
    let privateKey: string | undefined;
    const fail = (cause: unknown) => new Error(`${where}: ${redactPrivateKey(cause instanceof Error ? cause.message : String(cause), privateKey)}`);
    try {
        privateKey = tunnelPrivateKey(spec);
    } catch (err) {
        return Promise.reject(fail(err));
    }

    // A local VPC's address is dialed only through its bridge, never through the host's default route.
    const routeProblem = spec.localVpc === undefined ? undefined : vpcRouteProblem(spec.host, spec.localVpc);
    if (routeProblem) return Promise.reject(fail(new Error(`refusing to dial sshTunnel.host: ${routeProblem}`)));

    return new Promise<Tunnel>((resolve, reject) => {
        const client: Client = new ssh2.Client();
        const sockets = new Set<Socket>();
        let server: Server | undefined;
        let settled = false;
        let hostKeyMismatch: string | undefined;

        const settleError = (err: unknown) => {
            if (settled) return;
            settled = true;
            client.end();
            reject(fail(hostKeyMismatch ?? err));
        };

        const forward = (local: Socket) => {
            sockets.add(local);
            local.on("close", () => sockets.delete(local));
            local.on("error", () => local.destroy());
            const pipe = (err: Error | undefined, channel: ClientChannel) => {
                if (err) {
                    local.destroy();
                    return;
                }
                channel.on("error", () => local.destroy());
                local.pipe(channel).pipe(local);
            };
            if ("socketPath" in target) client.openssh_forwardOutStreamLocal(target.socketPath, pipe);
            else client.forwardOut(local.remoteAddress ?? "127.0.0.1", local.remotePort ?? 0, target.host, target.port, pipe);
        };

        client.on("ready", () => {
            server = net.createServer(forward);
            server.on("error", settleError);
            server.listen(0, "127.0.0.1", () => {
                const address = server!.address() as import("net").AddressInfo;
                settled = true;
                resolve({
                    host: "127.0.0.1",
                    port: address.port,
                    close: () =>
                        new Promise<void>((done) => {
                            for (const s of sockets) s.destroy();
                            client.end();
                            server!.close(() => done());
                        }),
                });
            });
        });
        client.on("error", settleError);
        client.on("close", () => {
            // The bastion went away: refuse new local connections instead of hanging them.
            for (const s of sockets) s.destroy();
            if (!settled) settleError(new Error("connection closed before the tunnel was ready"));
        });

        try {
            client.connect({
                host: spec.host,
                port: spec.port,
                username: spec.username,
                privateKey,
                readyTimeout: options.readyTimeoutMs ?? 10000,
                keepaliveInterval: 15000,
                hostVerifier: options.hostKeySha256
                    ? (key: Buffer) => {
                          const actual = `SHA256:${crypto.createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
                          if (actual === options.hostKeySha256) return true;
                          hostKeyMismatch = `host key ${actual} does not match the pinned ${options.hostKeySha256}`;
                          return false;
                      }
                    : undefined,
            });
        } catch (err) {
            // ssh2 throws synchronously on an unparseable private key.
            settleError(err);
        }
    });
}
