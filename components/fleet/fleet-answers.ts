// How the fleet client reads an answer or a failed request: is it fleetd being away from etcd (or
// the connection dropping), which the client rides out with bounded retries, or a refusal it must
// report at once? Pure, Pulumi-free (the bundled FleetService provider includes it).

/** fleetd's 503 text while it cannot reach etcd (api/server.go), also at start before etcd answers. */
export const ETCD_AWAY_MESSAGE = "fleet server unable to communicate with etcd";

/**
 * Why the answer is transient, or undefined when it is a real answer (success or refusal).
 * - 503: fleetd's API is torn down because it cannot reach etcd.
 * - 500 with no error message: what real fleetd answers for about 20 s after etcd goes away, before
 *   its 503s (every handler's registry read fails and fleet's sendError carries no message). The
 *   same answer comes from a unit fleetd cannot decode; that one is permanent, but the retries are
 *   bounded, so it is still reported, after them, with both causes named.
 * A 500 that carries a message (or any other body) is a real error and is never retried.
 */
export function transientAnswer(status: number, text: string, json: any): string | undefined {
    if (status === 503) return `HTTP 503: ${json?.error?.message || "service unavailable"}`;
    if (status !== 500) return undefined;
    const emptyFleetError = json !== null && typeof json === "object" && typeof json.error === "object" && json.error !== null && !json.error.message
        && Object.keys(json).length === 1;
    if (text.trim() === "" || emptyFleetError) {
        return "HTTP 500 with no error message (real fleetd answers so for about 20 s after it loses etcd, before its 503s, and for a unit it cannot decode)";
    }
    return undefined;
}

const TRANSIENT_CODES = new Set(["ETIMEDOUT", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

/** A request that failed without an answer and may succeed when tried again. */
export function isTransientError(err: NodeJS.ErrnoException): boolean {
    return (err.code !== undefined && TRANSIENT_CODES.has(err.code)) || /socket hang up/.test(err.message);
}
