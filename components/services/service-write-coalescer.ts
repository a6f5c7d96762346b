// Coalesced writes for ServiceRegistration: the creates and updates the engine runs at the same
// time on one connection (`--parallel` at a time, in one dynamic-provider process) are merged into
// one registerServices batch on a shared session, each caller keeping its own result or error.
//
// Bundled into the provider: the queues live on globalThis (Symbol.for key), reached only inside
// functions, so every copy of this code in the provider process joins the same queues.
import { EtcdConnectionArgs, isConnectionWideError } from "../etcd/etcd-client";
import { connectionFingerprint, withSharedEtcd } from "../etcd/etcd-shared-sessions";
import { serviceRoot } from "../../model/service-keys";
import { ServiceWritePlan, ServiceWriteRequest } from "../../model/service-write-plan";
import { registerServices } from "./service-store";

/** How long the first write of a batch waits for others on the same connection to join it. */
export const COALESCE_WINDOW_MS = 2;
/** A batch is sent at once when it reaches this many services (one read, then <= 128-op transactions). */
export const COALESCE_MAX_SERVICES = 64;

interface PendingWrite {
    request: ServiceWriteRequest;
    label: string;
    resolve: (plan: ServiceWritePlan) => void;
    reject: (err: unknown) => void;
}

interface WriteQueue {
    connection: EtcdConnectionArgs;
    pending: PendingWrite[];
    timer?: ReturnType<typeof setTimeout>;
}

export interface CoalescedWriteStats {
    /** registerServices batches sent (each: one read, then its transactions). */
    batches: number;
    /** Services written through those batches. */
    services: number;
    /** Batches that failed for a reason of one of their services and were retried one service at a time. */
    splits: number;
}

interface WriteQueues {
    queues: Map<string, WriteQueue>;
    /** Size of the last batch sent per connection: a batch that size again is sent without waiting. */
    lastBatch: Map<string, number>;
    stats: CoalescedWriteStats;
    windowMs: number;
    maxServices: number;
}

// Process-wide (globalThis, Symbol.for key), reached only inside functions: every copy of this code
// in the dynamic-provider process joins the same queues.
function writeQueues(): WriteQueues {
    const key = Symbol.for("coreos-cluster.service-store.write-queues");
    const g = globalThis as unknown as Record<symbol, WriteQueues | undefined>;
    let queues = g[key];
    if (!queues) {
        queues = { queues: new Map(), lastBatch: new Map(), stats: { batches: 0, services: 0, splits: 0 }, windowMs: COALESCE_WINDOW_MS, maxServices: COALESCE_MAX_SERVICES };
        g[key] = queues;
    }
    return queues;
}

export function coalescedWriteStats(): CoalescedWriteStats {
    return { ...writeQueues().stats };
}

/** Sets the coalescing window and batch size (tests, benchmarks); returns the previous values. */
export function setCoalescing(options: { windowMs?: number; maxServices?: number }): { windowMs: number; maxServices: number } {
    const q = writeQueues();
    const previous = { windowMs: q.windowMs, maxServices: q.maxServices };
    if (options.windowMs !== undefined) q.windowMs = options.windowMs;
    if (options.maxServices !== undefined) q.maxServices = options.maxServices;
    return previous;
}

/**
 * Creates or updates one service (the provider's create and update), merged with the other writes
 * on the same connection that arrive within COALESCE_WINDOW_MS (or until as many as the previous
 * batch on this connection, or COALESCE_MAX_SERVICES, are waiting) into one registerServices batch on a
 * shared session: one read for all, then transactions of at most 128 operations, a service never
 * split. Each caller gets its own plan or error: if the batch fails for a reason that is not the
 * whole connection's (a refused service, a service listed twice, a failed v2 mirror, a conflict),
 * nothing of the refusal was written and each service is then written on its own, so only the
 * service at fault fails.
 */
export function registerServiceCoalesced(connection: EtcdConnectionArgs, request: ServiceWriteRequest, label: string): Promise<ServiceWritePlan> {
    const all = writeQueues();
    const fingerprint = connectionFingerprint(connection);
    return new Promise<ServiceWritePlan>((resolve, reject) => {
        let queue = all.queues.get(fingerprint);
        if (!queue) {
            queue = { connection, pending: [] };
            all.queues.set(fingerprint, queue);
        }
        queue.pending.push({ request, label, resolve, reject });
        // With the engine's --parallel N, the N creates that were waiting come back together: once
        // as many as last time are here, nobody else is likely to join within the window.
        const expected = Math.min(all.maxServices, Math.max(2, all.lastBatch.get(fingerprint) ?? all.maxServices));
        if (queue.pending.length >= expected) {
            flushWriteQueue(all, fingerprint, queue);
        } else if (!queue.timer) {
            const q = queue;
            queue.timer = setTimeout(() => flushWriteQueue(all, fingerprint, q), all.windowMs);
        }
    });
}

function flushWriteQueue(all: WriteQueues, fingerprint: string, queue: WriteQueue): void {
    if (queue.timer) clearTimeout(queue.timer);
    queue.timer = undefined;
    if (all.queues.get(fingerprint) === queue) all.queues.delete(fingerprint);
    const batch = queue.pending.splice(0);
    if (batch.length > 0) all.lastBatch.set(fingerprint, batch.length);
    if (batch.length > 0) void writeBatch(all, queue.connection, batch);
}

async function writeBatch(all: WriteQueues, connection: EtcdConnectionArgs, batch: PendingWrite[]): Promise<void> {
    const one = (p: PendingWrite) =>
        withSharedEtcd(connection, (session) => registerServices(session, [p.request], () => p.label)).then(
            ([plan]) => p.resolve(plan),
            (err) => p.reject(err),
        );
    all.stats.batches++;
    all.stats.services += batch.length;
    if (batch.length === 1) return one(batch[0]);
    let plans: ServiceWritePlan[];
    try {
        plans = await withSharedEtcd(connection, (session) =>
            registerServices(
                session,
                batch.map((p) => p.request),
                (i) => batch[i].label,
            ),
        );
    } catch (err) {
        if (isConnectionWideError(err)) {
            batch.forEach((p) => p.reject(err));
            return;
        }
        // One service's problem must fail only its own resource: write them one at a time (in
        // parallel; two resources naming the same service one after the other, so the second is
        // refused by ownership rather than by losing a race).
        all.stats.splits++;
        all.stats.batches += batch.length;
        const byRoot = new Map<string, PendingWrite[]>();
        for (const p of batch) {
            const root = serviceRoot(p.request.definition.prefix, p.request.definition.service);
            byRoot.set(root, [...(byRoot.get(root) ?? []), p]);
        }
        await Promise.all(
            [...byRoot.values()].map(async (same) => {
                for (const p of same) await one(p);
            }),
        );
        return;
    }
    batch.forEach((p, i) => p.resolve(plans[i]));
}
