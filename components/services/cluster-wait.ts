// The bounded wait for a booting cluster, shared by the service-registration providers and
// FleetUnit. On a fresh GCE stack the members are still booting (and pulling the etcd image)
// when Pulumi reaches the providers; the connection's own retries (3 rounds of 5 s) are far
// shorter than that. So before their first write the providers probe the cluster with
// exponential backoff, up to a stated bound, and fail after it naming what they waited for.
// Bundled with the providers (bundled-provider.ts): npm modules are required inside functions.
import { EtcdConnectionArgs, redactConnectionSecrets, withEtcd } from "../etcd/etcd-client";
import { connectionFingerprint } from "../etcd/etcd-shared-sessions";

export interface ClusterWaitOptions {
    /** The bound: no probe starts after it (seconds; 0 = a single probe). */
    timeoutSeconds: number;
    /** First pause between probes (default 1000 ms), doubled after each failed probe... */
    initialDelayMs?: number;
    /** ...up to this (default 30000 ms). */
    maxDelayMs?: number;
}

export const DEFAULT_CLUSTER_WAIT_SECONDS = 600;
export const DEFAULT_INITIAL_DELAY_MS = 1000;
export const DEFAULT_MAX_DELAY_MS = 30000;
/** The largest wait a stack or resource may ask for. */
export const MAX_CLUSTER_WAIT_SECONDS = 3600;

/** The problem with a `clusterWaitSeconds` input, if any (undefined and 0 mean no wait). */
export function clusterWaitProblem(value: unknown): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_CLUSTER_WAIT_SECONDS) {
        return `must be a number of seconds from 0 to ${MAX_CLUSTER_WAIT_SECONDS}`;
    }
    return undefined;
}

/**
 * The pauses between probes (pure): doubling from the first, capped, the last one cut so that
 * the final probe starts at the bound and none after it.
 */
export function backoffSchedule(options: ClusterWaitOptions): number[] {
    const bound = options.timeoutSeconds * 1000;
    let delay = Math.max(1, options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS);
    const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    const delays: number[] = [];
    for (let elapsed = 0; elapsed < bound; delay = Math.min(delay * 2, max)) {
        const pause = Math.min(delay, bound - elapsed);
        delays.push(pause);
        elapsed += pause;
    }
    return delays;
}

export function describeBound(seconds: number): string {
    if (seconds >= 120 && seconds % 60 === 0) return `${seconds / 60} minutes`;
    return `${seconds} s`;
}

/** A failure no wait can cure (refused credentials, a malformed key): stop at once. */
export class PermanentProbeError extends Error {}

/**
 * Runs `probe` until it resolves, pausing as backoffSchedule says; after the bound (or on a
 * PermanentProbeError) throws an error naming `what`, the bound and the last failure.
 */
export async function waitUntil<T>(what: string, options: ClusterWaitOptions, probe: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const deadline = started + options.timeoutSeconds * 1000;
    const delays = backoffSchedule(options);
    let attempts = 0;
    let last = "";
    for (let i = 0; ; i++) {
        attempts++;
        try {
            return await probe();
        } catch (err) {
            last = String((err as Error)?.message ?? err);
            if (err instanceof PermanentProbeError) throw new Error(last);
        }
        // A probe takes time of its own (timeouts): the pause never runs past the bound.
        const pause = Math.min(delays[i] ?? 0, deadline - Date.now());
        if (pause <= 0) break;
        await new Promise((r) => setTimeout(r, pause));
    }
    const waited = Math.round((Date.now() - started) / 1000);
    throw new Error(
        `${what} did not answer within the bound of ${describeBound(options.timeoutSeconds)} (clusterWaitSeconds=${options.timeoutSeconds}; ${attempts} probe(s) with exponential backoff over ${waited} s); last failure: ${last}`,
    );
}

/** Connections found ready by this provider process: later resources on them do not probe again. */
function readyConnections(): Set<string> {
    const g = globalThis as { __coreosClusterReadyEtcd?: Set<string> };
    return (g.__coreosClusterReadyEtcd ??= new Set());
}

/**
 * Waits until etcd answers through `conn` with a leader (a member that answers but has no leader
 * is still forming the cluster). Every probe is one round over the endpoints (retries 0), through
 * the tunnel when there is one; refused etcd credentials end the wait at once.
 */
export async function waitForEtcd(conn: EtcdConnectionArgs, options: ClusterWaitOptions): Promise<void> {
    const fingerprint = connectionFingerprint(conn);
    if (readyConnections().has(fingerprint)) return;
    const what = `etcd at [${conn.endpoints.join(", ")}]${conn.sshTunnel ? " (through the SSH tunnel)" : ""}`;
    try {
        await waitUntil(what, options, () =>
            withEtcd({ ...conn, retries: 0 }, async (session) => {
                try {
                    const status = await session.run("status", (client) => client.maintenance.status());
                    if (!status.leader || String(status.leader) === "0") throw new Error(`a member answered (etcd ${status.version}) but the cluster has no leader yet`);
                } catch (err) {
                    if (/rejected the credentials/.test(String((err as Error)?.message))) throw new PermanentProbeError((err as Error).message);
                    throw err;
                }
            }),
        );
    } catch (err) {
        throw new Error(redactConnectionSecrets(String((err as Error)?.message ?? err), conn));
    }
    readyConnections().add(fingerprint);
}
