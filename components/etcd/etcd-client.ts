// Connection to an etcd cluster for the dynamic providers: etcd3 (v3 gRPC) and the v2 keys HTTP
// API, over a list of endpoints with failover, per-call timeouts, retries with exponential
// backoff on transient errors, optional auth, TLS and SSH tunnel. Errors name the endpoints
// tried, say when quorum looks lost, and never contain passwords or keys.
// npm and Node modules are required inside functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts);
// this repository's own helpers are imported normally and bundled with it.
import type { Etcd3 } from "etcd3";
import type { SshTunnelSpec } from "../../model/types";
import { knownTunnelKey, openTunnel, redactPrivateKey, type Tunnel } from "./ssh-tunnel";

export interface EtcdConnectionArgs {
    endpoints: string[];
    username?: string;
    password?: string;
    tls?: { ca?: string; cert?: string; key?: string };
    sshTunnel?: SshTunnelSpec;
    /** Deadline of each etcd call in milliseconds (default 5000). */
    timeoutMs?: number;
    /** Extra rounds over all endpoints after a transient failure (default 2). */
    retries?: number;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_RETRIES = 2;

export interface EtcdSession {
    /** Runs `fn` on one member, failing over to the next on transient errors, with retries. */
    run<T>(what: string, fn: (client: Etcd3) => Promise<T>): Promise<T>;
    /** One request to the v2 keys API (`/v2/keys<key>`), same failover; resolves to status and JSON body. */
    v2(method: "GET" | "PUT" | "DELETE", key: string, params?: Record<string, string>): Promise<{ status: number; body: any }>;
    close(): Promise<void>;
}

export interface ConnectionProblem {
    field: string;
    message: string;
}

/** Problems of a connection value, fields named `connection.<field>`. Unknown (preview) values are skipped. */
export function connectionProblems(raw: unknown, isUnknown: (v: unknown) => boolean = () => false): ConnectionProblem[] {
    if (isUnknown(raw)) return [];
    if (typeof raw !== "object" || raw === null) return [{ field: "connection", message: "is required: { endpoints: [...] }" }];
    const c = raw as Record<string, unknown>;
    const problems: ConnectionProblem[] = [];
    if (!isUnknown(c.endpoints)) {
        if (!Array.isArray(c.endpoints) || c.endpoints.length === 0) {
            problems.push({ field: "connection.endpoints", message: "must list at least one endpoint such as http://10.0.0.2:2379" });
        } else {
            c.endpoints.forEach((e, i) => {
                if (isUnknown(e)) return;
                if (typeof e === "string" && /\/\/[^/]*@/.test(e)) {
                    problems.push({ field: `connection.endpoints[${i}]`, message: "must not embed credentials: use connection.username and connection.password" });
                } else if (typeof e !== "string" || parseEndpoint(e) === undefined) {
                    problems.push({ field: `connection.endpoints[${i}]`, message: `"${String(e)}" is not http(s)://host:port` });
                }
            });
        }
    }
    for (const field of ["timeoutMs", "retries"] as const) {
        const v = c[field];
        if (v === undefined || v === null || isUnknown(v)) continue;
        const min = field === "timeoutMs" ? 1 : 0;
        if (typeof v !== "number" || !Number.isInteger(v) || v < min) problems.push({ field: `connection.${field}`, message: `must be an integer >= ${min}` });
    }
    if ((c.username === undefined) !== (c.password === undefined) && !isUnknown(c.username) && !isUnknown(c.password)) {
        problems.push({ field: "connection.password", message: "username and password go together" });
    }
    const tls = c.tls as Record<string, unknown> | undefined;
    if (tls && !isUnknown(tls) && (tls.cert === undefined) !== (tls.key === undefined)) {
        problems.push({ field: "connection.tls", message: "cert and key go together (client certificate)" });
    }
    const t = c.sshTunnel as Record<string, unknown> | undefined;
    if (t !== undefined && t !== null && !isUnknown(t)) {
        for (const f of ["host", "username"]) {
            if (!isUnknown(t[f]) && (typeof t[f] !== "string" || (t[f] as string).length === 0)) problems.push({ field: `connection.sshTunnel.${f}`, message: "is required" });
        }
        // The key itself, or the name of the variable holding it where Pulumi runs (never in state then).
        const hasKey = isUnknown(t.privateKey) || (typeof t.privateKey === "string" && t.privateKey.length > 0);
        const hasEnv = isUnknown(t.privateKeyEnv) || (typeof t.privateKeyEnv === "string" && /^[A-Z_][A-Z0-9_]*$/.test(t.privateKeyEnv));
        if (!hasKey && !hasEnv) problems.push({ field: "connection.sshTunnel.privateKey", message: "is required (or privateKeyEnv, the environment variable that holds it)" });
        if (!isUnknown(t.port) && (typeof t.port !== "number" || !Number.isInteger(t.port) || t.port < 1 || t.port > 65535)) {
            problems.push({ field: "connection.sshTunnel.port", message: "must be a port 1-65535" });
        }
        if (t.localVpc !== undefined && !isUnknown(t.localVpc) && (typeof t.localVpc !== "string" || !/^\d{1,3}(\.\d{1,3}){3}\/24$/.test(t.localVpc))) {
            problems.push({ field: "connection.sshTunnel.localVpc", message: "must be the local VPC's subnet, a /24 such as 10.213.10.0/24" });
        }
    }
    return problems;
}

export function parseEndpoint(endpoint: string): { secure: boolean; host: string; port: number } | undefined {
    const withScheme = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
    let url: URL;
    try {
        url = new URL(withScheme);
    } catch {
        return undefined;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    if ((url.pathname !== "/" && url.pathname !== "") || !url.hostname || url.username || url.password || url.search) return undefined;
    const port = url.port ? Number(url.port) : 2379;
    return { secure: url.protocol === "https:", host: url.hostname.replace(/^\[|\]$/g, ""), port };
}

/** Replaces every credential of the connection found in `message`. */
export function redactConnectionSecrets(message: string, conn: Partial<EtcdConnectionArgs> | undefined): string {
    if (!conn) return message;
    let out = message;
    if (conn.password) out = out.split(conn.password).join("[secret]");
    out = redactPrivateKey(out, conn.tls?.key);
    out = redactPrivateKey(out, knownTunnelKey(conn.sshTunnel));
    return out;
}

type FailureKind = "unreachable" | "timeout" | "no-leader" | "auth" | "fatal";

export function classifyEtcdError(err: unknown): FailureKind {
    const name = (err as Error)?.constructor?.name ?? "";
    const message = String((err as Error)?.message ?? err);
    if (/Authentication|Unauthenticated|InvalidAuthToken|PermissionDenied/.test(name) || /authentication failed|invalid auth token|permission denied|user name is empty/i.test(message)) return "auth";
    // A tunnel that cannot authenticate or parse its key will not get better with retries.
    if (/SSH tunnel/.test(message) && /Cannot parse privateKey|authentication methods failed|host key .* does not match/i.test(message)) return "fatal";
    if (/no leader|leader changed|request timed out|not capable|too many requests|raft/i.test(message)) return "no-leader";
    if (/DeadlineExceeded/.test(name) || /deadline exceeded/i.test(message)) return "timeout";
    if (/Unavailable|ClientClosed/.test(name) || /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|No connection established|SSH tunnel|socket hang up|unavailable/i.test(message)) return "unreachable";
    return "fatal";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Marks an error that concerns the whole connection (no endpoint completed the call, or the
 * credentials were refused) rather than one request: retrying the same work per service would only
 * fail the same way again.
 */
function connectionWide(err: Error): Error {
    (err as Error & { etcdConnectionWide?: boolean }).etcdConnectionWide = true;
    return err;
}

export function isConnectionWideError(err: unknown): boolean {
    return !!(err as { etcdConnectionWide?: boolean } | undefined)?.etcdConnectionWide;
}

/** Opens a session, runs `fn`, and always closes clients and tunnels. */
export async function withEtcd<T>(conn: EtcdConnectionArgs, fn: (session: EtcdSession) => Promise<T>): Promise<T> {
    const session = openEtcdSession(conn);
    try {
        return await fn(session);
    } finally {
        await session.close();
    }
}

/**
 * The etcd3 client options of the providers' client for one endpoint, dialing `host:port` (a
 * tunnel's local end, or the endpoint itself). One place for them, so the benchmark's raw floor
 * runs on exactly the client the providers use (bench/seeding-transports.ts).
 */
export function etcd3ClientOptions(conn: EtcdConnectionArgs, endpoint: { secure: boolean; host: string }, host: string, port: number): import("etcd3").IOptions {
    const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    const deadline = () => ({ deadline: new Date(Date.now() + timeoutMs) });
    const grpcOptions: Record<string, unknown> = {};
    // Through a tunnel the dial goes to 127.0.0.1: a DNS-named member is verified by its name, an
    // IP-addressed one as localhost, which every member certificate of the cluster's PKI names
    // (model/pki-plan.ts). grpc-js sends the name it verifies as TLS SNI (the dialled host when not
    // overridden), and an IP there, the member's or 127.0.0.1, is forbidden by RFC 6066 (Node's
    // DEP0123): test/components/etcd/ssh-tunnel-tls.test.ts.
    if (conn.sshTunnel && endpoint.secure) grpcOptions["grpc.ssl_target_name_override"] = require("net").isIP(endpoint.host) ? "localhost" : endpoint.host;
    // etcd3's own retry/circuit-breaker policies are replaced by a pass-through: failover and
    // backoff happen in openEtcdSession, so the configured timeout bounds every attempt.
    const passThrough = { execute: (fn: (ctx: unknown) => unknown) => fn({ signal: undefined, attempt: 0 }) };
    return {
        hosts: `${endpoint.secure ? "https" : "http"}://${hostPort}`,
        credentials: endpoint.secure
            ? {
                  rootCertificate: Buffer.from(conn.tls?.ca ?? require("tls").rootCertificates.join("\n")),
                  privateKey: conn.tls?.key ? Buffer.from(conn.tls.key) : undefined,
                  certChain: conn.tls?.cert ? Buffer.from(conn.tls.cert) : undefined,
              }
            : undefined,
        auth: conn.username !== undefined ? { username: conn.username, password: conn.password ?? "", callOptions: deadline } : undefined,
        defaultCallOptions: deadline,
        dialTimeout: timeoutMs,
        grpcOptions: grpcOptions as any,
        faultHandling: { global: passThrough as any, host: () => passThrough as any },
    };
}

export function openEtcdSession(conn: EtcdConnectionArgs): EtcdSession {
    const { Etcd3: Etcd3Client } = require("etcd3") as typeof import("etcd3");
    const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const retries = conn.retries ?? DEFAULT_RETRIES;
    const endpoints = conn.endpoints;
    const parsed = endpoints.map((e) => {
        const p = parseEndpoint(e);
        if (!p) throw new Error(`connection.endpoints: "${e}" is not http(s)://host:port`);
        return p;
    });
    const tunnels = new Map<number, Promise<Tunnel>>();
    const clients = new Map<number, Promise<Etcd3>>();
    let preferred = 0;
    const redact = (m: string) => redactConnectionSecrets(m, conn);

    const localAddress = async (i: number): Promise<{ host: string; port: number }> => {
        if (!conn.sshTunnel) return { host: parsed[i].host, port: parsed[i].port };
        if (!tunnels.has(i)) {
            const opening = openTunnel(conn.sshTunnel, { host: parsed[i].host, port: parsed[i].port }, { readyTimeoutMs: timeoutMs });
            opening.catch(() => tunnels.delete(i));
            tunnels.set(i, opening);
        }
        const t = await tunnels.get(i)!;
        return { host: t.host, port: t.port };
    };

    const clientFor = (i: number): Promise<Etcd3> => {
        if (!clients.has(i)) {
            const creating = (async () => {
                const { host, port } = await localAddress(i);
                return new Etcd3Client(etcd3ClientOptions(conn, parsed[i], host, port));
            })();
            creating.catch(() => clients.delete(i));
            clients.set(i, creating);
        }
        return clients.get(i)!;
    };

    /** For endpoints that timed out: do they answer a status call (alive, but no leader)? */
    const probeAlive = async (i: number): Promise<boolean> => {
        try {
            const client = await clientFor(i);
            await client.maintenance.status({ deadline: new Date(Date.now() + Math.min(timeoutMs, 2000)) });
            return true;
        } catch {
            return false;
        }
    };

    const giveUp = async (what: string, failures: Map<number, { kind: FailureKind; message: string }>, attempts: number) => {
        const details = [...failures.entries()].map(([i, f]) => `${endpoints[i]}: ${f.kind} (${f.message})`).join("; ");
        const timedOut = [...failures.entries()].filter(([, f]) => f.kind === "timeout" || f.kind === "no-leader").map(([i]) => i);
        const alive = (await Promise.all(timedOut.map(probeAlive))).filter(Boolean).length;
        let verdict: string;
        if (alive > 0) {
            verdict = `${alive} of ${endpoints.length} endpoints answer but could not complete the request: the cluster has probably lost quorum (fewer than a majority of members running)`;
        } else if ([...failures.values()].every((f) => f.kind === "unreachable")) {
            verdict = "no endpoint is reachable (check the endpoints, firewall rules, or the SSH tunnel)";
        } else {
            verdict = "no endpoint completed the request in time (cluster overloaded or quorum lost)";
        }
        return connectionWide(
            new Error(
                redact(`etcd ${what} failed after ${attempts} attempt(s) over endpoints [${endpoints.join(", ")}] with a ${timeoutMs} ms timeout per call: ${verdict}. Tried: ${details}`),
            ),
        );
    };

    type Failure = { kind: FailureKind; message: string };
    /** Answer from one endpoint, or a transient failure to record before trying the next one. */
    type Attempt<T> = { ok: true; value: T } | { ok: false; failure: Failure };

    // Every call goes round the endpoints, preferred one first, with backoff between rounds;
    // `attempt` throws only for what no other endpoint can fix (credentials, fatal errors).
    const withFailover = async <T>(what: string, attempt: (i: number) => Promise<Attempt<T>>): Promise<T> => {
        const failures = new Map<number, Failure>();
        let attempts = 0;
        for (let round = 0; round <= retries; round++) {
            if (round > 0) await sleep(Math.min(100 * 2 ** (round - 1), 2000));
            for (let k = 0; k < endpoints.length; k++) {
                const i = (preferred + k) % endpoints.length;
                attempts++;
                const outcome = await attempt(i);
                if (outcome.ok) {
                    preferred = i;
                    return outcome.value;
                }
                failures.set(i, outcome.failure);
            }
        }
        throw await giveUp(what, failures, attempts);
    };

    const run = <T>(what: string, fn: (client: Etcd3) => Promise<T>): Promise<T> =>
        withFailover(what, async (i): Promise<Attempt<T>> => {
            try {
                return { ok: true, value: await fn(await clientFor(i)) };
            } catch (err) {
                const kind = classifyEtcdError(err);
                const message = redact(String((err as Error)?.message ?? err).split("\n")[0]);
                if (kind === "auth") {
                    throw connectionWide(new Error(redact(`etcd at ${endpoints[i]} rejected the credentials${conn.username ? ` of user "${conn.username}"` : ""} during ${what}: ${message}`)));
                }
                if (kind === "fatal") throw new Error(redact(`etcd ${what} failed at ${endpoints[i]}: ${message}`));
                return { ok: false, failure: { kind, message } };
            }
        });

    const v2 = (method: "GET" | "PUT" | "DELETE", key: string, params: Record<string, string> = {}) =>
        withFailover(`v2 ${method} ${key}`, async (i) => {
            let result: Awaited<ReturnType<typeof v2Http>>;
            try {
                const { host, port } = await localAddress(i);
                result = await v2Http(conn, parsed[i], host, port, method, key, params, timeoutMs);
            } catch (err) {
                const message = redact(String((err as Error)?.message ?? err));
                return { ok: false as const, failure: { kind: (/timed out/.test(message) ? "timeout" : "unreachable") as FailureKind, message } };
            }
            // 401 is v2 auth; a 403 carries a key error (e.g. "Directory not empty") for the caller.
            if (result.status === 401) {
                const message = redact(`HTTP ${result.status}: ${result.body?.message ?? "unauthorized"}`);
                throw connectionWide(new Error(redact(`etcd v2 API at ${endpoints[i]} rejected the credentials during ${method} ${key}: ${message}`)));
            }
            if (result.status >= 500) {
                return { ok: false as const, failure: { kind: "no-leader" as FailureKind, message: `HTTP ${result.status} ${result.body?.message ?? ""}`.trim() } };
            }
            return { ok: true as const, value: result };
        });

    return {
        run,
        v2,
        close: async () => {
            const openClients = await Promise.allSettled([...clients.values()]);
            for (const c of openClients) if (c.status === "fulfilled") c.value.close();
            const openTunnels = await Promise.allSettled([...tunnels.values()]);
            await Promise.all(openTunnels.map((t) => (t.status === "fulfilled" ? t.value.close() : undefined)));
        },
    };
}

/** One HTTP request to the v2 keys API of one member (possibly through a local tunnel port). */
function v2Http(
    conn: EtcdConnectionArgs,
    endpoint: { secure: boolean; host: string },
    host: string,
    port: number,
    method: string,
    key: string,
    params: Record<string, string>,
    timeoutMs: number,
): Promise<{ status: number; body: any }> {
    const transport = (endpoint.secure ? require("https") : require("http")) as typeof import("https");
    const form = new URLSearchParams(params).toString();
    const path = `/v2/keys${key.split("/").map(encodeURIComponent).join("/")}${method !== "PUT" && form ? `?${form}` : ""}`;
    const headers: Record<string, string> = {};
    if (method === "PUT") headers["content-type"] = "application/x-www-form-urlencoded";
    if (conn.username !== undefined) headers.authorization = `Basic ${Buffer.from(`${conn.username}:${conn.password ?? ""}`).toString("base64")}`;
    return new Promise((resolve, reject) => {
        const req = transport.request(
            {
                host,
                port,
                method,
                path,
                headers,
                timeout: timeoutMs,
                ca: conn.tls?.ca,
                cert: conn.tls?.cert,
                key: conn.tls?.key,
                // Through a tunnel the socket goes to 127.0.0.1: verify the certificate against the real host.
                servername: endpoint.secure && !require("net").isIP(endpoint.host) ? endpoint.host : undefined,
                checkServerIdentity: (_host: string, cert: import("tls").PeerCertificate) => require("tls").checkServerIdentity(endpoint.host, cert),
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (chunk) => (text += chunk));
                res.on("end", () => {
                    let body: any = text;
                    try {
                        body = JSON.parse(text);
                    } catch {
                        /* plain text error page */
                    }
                    resolve({ status: res.statusCode ?? 0, body });
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(method === "PUT" ? form : undefined);
    });
}
