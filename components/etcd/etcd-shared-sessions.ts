// The process-wide etcd session cache: every create/update/read/delete of a deployment runs in one
// dynamic-provider process, so they share one open session per connection instead of dialing etcd
// (and any SSH tunnel) once per resource. Reached from inside provider methods only (globalThis).
import { DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, EtcdConnectionArgs, EtcdSession, isConnectionWideError, openEtcdSession } from "./etcd-client";

/**
 * A fingerprint of a connection for the process-wide session cache: endpoints, username, timeouts
 * and tunnel host in clear, every secret (password, TLS and SSH key material) only as a sha256, and
 * the whole hashed again, so neither keys nor logs ever hold a credential.
 */
export function connectionFingerprint(conn: EtcdConnectionArgs): string {
    const { createHash } = require("crypto") as typeof import("crypto");
    const digest = (s: string | undefined) => (s === undefined ? null : createHash("sha256").update(s).digest("hex"));
    const t = conn.sshTunnel;
    const material = {
        endpoints: conn.endpoints,
        username: conn.username ?? null,
        password: digest(conn.password),
        tls: conn.tls ? { ca: digest(conn.tls.ca), cert: digest(conn.tls.cert), key: digest(conn.tls.key) } : null,
        sshTunnel: t ? { host: t.host, port: t.port, username: t.username, privateKey: digest(t.privateKey), privateKeyEnv: t.privateKeyEnv ?? null, localVpc: t.localVpc ?? null } : null,
        timeoutMs: conn.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        retries: conn.retries ?? DEFAULT_RETRIES,
    };
    return createHash("sha256").update(JSON.stringify(material)).digest("hex");
}

/** How long an unused shared session stays open (its timer is unref'd: it never keeps the process alive). */
export const SHARED_SESSION_IDLE_MS = 2000;

interface SharedSessionEntry {
    session: EtcdSession;
    users: number;
    /** Set after a call on it failed: it is closed once its users are done and never handed out again. */
    retired: boolean;
    timer?: ReturnType<typeof setTimeout>;
}

export interface SharedSessionStats {
    /** Sessions opened (new clients/tunnels) by withSharedEtcd in this process. */
    opened: number;
    /** Calls served by an already open session. */
    reused: number;
    closed: number;
}

interface SharedSessionRegistry {
    entries: Map<string, SharedSessionEntry>;
    stats: SharedSessionStats;
    idleMs: number;
}

// The registry lives on globalThis under a Symbol.for key, reached only inside functions: every
// copy of this code in one process (each provider's bundle carries its own) shares the same sessions.
function sharedSessions(): SharedSessionRegistry {
    const key = Symbol.for("coreos-cluster.etcd-client.shared-sessions");
    const g = globalThis as unknown as Record<symbol, SharedSessionRegistry | undefined>;
    let registry = g[key];
    if (!registry) {
        registry = { entries: new Map(), stats: { opened: 0, reused: 0, closed: 0 }, idleMs: SHARED_SESSION_IDLE_MS };
        g[key] = registry;
    }
    return registry;
}

/** Counters of the process-wide session cache (tests, benchmarks). */
export function sharedSessionStats(): SharedSessionStats {
    return { ...sharedSessions().stats };
}

/** Sets how long an unused shared session stays open (tests); returns the previous value. */
export function setSharedSessionIdleMs(ms: number): number {
    const registry = sharedSessions();
    const previous = registry.idleMs;
    registry.idleMs = ms;
    return previous;
}

/** Closes every shared session nobody is using now (tests, shutdown). */
export async function closeIdleSharedSessions(): Promise<void> {
    const registry = sharedSessions();
    const idle = [...registry.entries.entries()].filter(([, e]) => e.users === 0);
    await Promise.all(idle.map(([fp, e]) => retireSession(registry, fp, e)));
}

async function retireSession(registry: SharedSessionRegistry, fingerprint: string, entry: SharedSessionEntry): Promise<void> {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    if (registry.entries.get(fingerprint) === entry) registry.entries.delete(fingerprint);
    registry.stats.closed++;
    await entry.session.close().catch(() => undefined);
}

/**
 * Like withEtcd, but on a session shared by every caller in this process with the same connection
 * (same fingerprint): a deployment's creates reuse one client per member instead of opening one
 * each. The session is closed after SHARED_SESSION_IDLE_MS unused, and after a call on it failed in
 * etcd (the next caller starts from fresh clients and tunnels).
 */
export async function withSharedEtcd<T>(conn: EtcdConnectionArgs, fn: (session: EtcdSession) => Promise<T>): Promise<T> {
    const registry = sharedSessions();
    const fingerprint = connectionFingerprint(conn);
    let entry = registry.entries.get(fingerprint);
    if (entry && !entry.retired) {
        registry.stats.reused++;
    } else {
        entry = { session: openEtcdSession(conn), users: 0, retired: false };
        registry.entries.set(fingerprint, entry);
        registry.stats.opened++;
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.users++;
    const current = entry;
    try {
        return await fn(current.session);
    } catch (err) {
        // A refusal or a conflict says nothing about the connection; an etcd failure might.
        if (isConnectionWideError(err) || /^etcd /.test(String((err as Error)?.message))) {
            current.retired = true;
            if (registry.entries.get(fingerprint) === current) registry.entries.delete(fingerprint);
        }
        throw err;
    } finally {
        current.users--;
        if (current.users === 0) {
            if (current.retired) {
                registry.stats.closed++;
                await current.session.close().catch(() => undefined);
            } else {
                current.timer = setTimeout(() => {
                    if (current.users === 0) void retireSession(registry, fingerprint, current);
                }, registry.idleMs);
                current.timer.unref?.();
            }
        }
    }
}

