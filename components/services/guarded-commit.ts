// The write half of service-store.ts: service plans packed into transactions of at most 128
// operations (a service never split), 16 in flight, each guarded so it commits only if nothing of
// its services changed since they were read. Bundled into the service providers: no top-level
// import of an npm module.
import { EtcdSession } from "../etcd/etcd-client";
import { KeyOperation, MAX_TXN_OPS } from "../../model/service-keys";
import { ServiceSnapshot, ServiceWritePlan } from "../../model/service-write-plan";
import { newerRevision } from "../../model/set-records";

/** Transactions in flight at once, reads and writes alike. */
export const PARALLEL_TXNS = 16;

export type OpGroup = { i: number; ops: KeyOperation[] };

/** The etcd3 request ops of many operations in one loop: the hot path of large writes (thousands of calls otherwise). */
function toRequestOps(groups: { ops: KeyOperation[] }[], extra: KeyOperation[]) {
    const ops: Array<{ request_put: { key: Buffer; value: Buffer } } | { request_delete_range: { key: Buffer } }> = [];
    const add = (o: KeyOperation) => ops.push(o.op === "put" ? { request_put: { key: Buffer.from(o.key), value: Buffer.from(o.value) } } : { request_delete_range: { key: Buffer.from(o.key) } });
    for (const g of groups) for (const o of g.ops) add(o);
    extra.forEach(add);
    return ops;
}

/** The key just after every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
    const end = Buffer.from(prefix);
    end[end.length - 1] += 1;
    return end;
}

/** Nothing in [key, rangeEnd) (or at key alone) was modified after `revision`. */
function unchangedSince(revision: string, key: string, rangeEnd?: Buffer) {
    return { key: Buffer.from(key), ...(rangeEnd ? { range_end: rangeEnd } : {}), target: "Mod" as const, result: "Less" as const, mod_revision: String(BigInt(revision) + 1n) };
}

export interface CommitOptions {
    /** One more operation per transaction, built from its services once packed (a set's ownership record). */
    recordOf?: (batch: OpGroup[]) => KeyOperation;
}

/**
 * Runs the plans' operations in transactions, taking the services in `order` (key order, so one
 * batch's services form a key range no other batch of this write falls in). Plans that `planAt`
 * computes on first use are packed when a transaction slot frees up, so they overlap the commits
 * in flight. Each transaction is guarded by the revision its services were read at: one range
 * compare over the batch's roots and one over its markers, or, if something else in those ranges
 * changed, one pair per service. A refused transaction whose writes are all in place (a retried
 * commit applied twice) counts as done. A service needing more than 128 operations must be refused
 * by the caller first. Returns the extra operations written (the records).
 */
export async function commitPlans(
    session: EtcdSession,
    order: number[],
    planAt: (i: number) => ServiceWritePlan,
    snapshots: ServiceSnapshot[],
    opsOf: (p: ServiceWritePlan, i: number) => KeyOperation[],
    options: CommitOptions = {},
): Promise<KeyOperation[]> {
    const capacity = options.recordOf ? MAX_TXN_OPS - 1 : MAX_TXN_OPS;
    const failed: { roots: string[]; message: string }[] = [];
    const extras: KeyOperation[] = [];
    let next = 0;
    let carried: OpGroup | undefined;
    let sent = 0;
    const takeBatch = (): OpGroup[] => {
        const batch: OpGroup[] = [];
        let size = 0;
        for (;;) {
            let group = carried;
            carried = undefined;
            if (!group) {
                if (next >= order.length) break;
                const i = order[next++];
                group = { i, ops: opsOf(planAt(i), i) };
            }
            if (size + group.ops.length > capacity && batch.length > 0) {
                carried = group;
                break;
            }
            batch.push(group);
            size += group.ops.length;
        }
        return batch;
    };
    const worker = async () => {
        for (let batch = takeBatch(); batch.length > 0; batch = takeBatch()) {
            sent++;
            const extra = options.recordOf ? [options.recordOf(batch)] : [];
            await commitBatch(batch, extra, batch.length > 1).then(
                () => extras.push(...extra),
                (err) => failed.push({ roots: batch.map((g) => planAt(g.i).root), message: (err as Error).message }),
            );
        }
    };
    // The first transaction leaves before the others are packed and planned: etcd works on it meanwhile.
    const workers = [worker()];
    // Seen by Promise.all below; until then, a throw while packing must not count as unhandled.
    workers[0].catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    for (let w = 1; w < PARALLEL_TXNS; w++) workers.push(worker());
    await Promise.all(workers);
    if (failed.length > 0) {
        const failedRoots = failed.flatMap((f) => f.roots);
        const written = sent > failed.length ? `; the other ${order.length - failedRoots.length} service(s) were written` : "";
        throw new Error(`${failed[0].message} (not written: ${failedRoots.length > 5 ? `${failedRoots.slice(0, 5).join(", ")} and ${failedRoots.length - 5} more` : failedRoots.join(", ")}${written})`);
    }
    return extras;

    async function commitBatch(batch: OpGroup[], extra: KeyOperation[], rangeGuard: boolean): Promise<void> {
        const compare = rangeGuard ? rangeGuards(batch) : batch.flatMap((g) => serviceGuards(g.i));
        const res = await session.run("transaction", (client) => client.kv.txn({ compare, success: toRequestOps(batch, extra), failure: [] }));
        if (res.succeeded) return;
        // Something in the batch's key ranges changed since the read: maybe a service of another
        // writer that only sorts among ours; the per-service guards tell.
        if (rangeGuard) return commitBatch(batch, extra, false);
        // A retried commit may already have been applied: then every write is in place.
        if (await allInPlace([...batch.flatMap((g) => g.ops), ...extra])) return;
        throw new Error(`${batch.map((g) => planAt(g.i).root).join(", ")} changed while being written (another writer); run again`);
    }

    function revisionOf(i: number): string {
        const revision = snapshots[i].revision;
        if (revision === undefined) throw new Error(`${planAt(i).root}: no read revision to guard the write with`);
        return revision;
    }

    /** Its marker and every key under its root unchanged since the read. */
    function serviceGuards(i: number) {
        const plan = planAt(i);
        return [unchangedSince(revisionOf(i), plan.markerKey), unchangedSince(revisionOf(i), `${plan.root}/`, prefixEnd(`${plan.root}/`))];
    }

    /**
     * Two range compares for the whole batch at the oldest of their read revisions: one from the
     * lowest of its services' keys to past the highest, one over its markers. Each range has its own
     * bounds: keys sort by `<root>/` and markers by `<root>`, which differ ("a-b/" < "a/" but
     * "a" < "a-b"). One compare per service costs about 0.2x of the raw floor's time when seeding
     * 1,000 services.
     */
    function rangeGuards(batch: OpGroup[]) {
        let keysFrom = `${planAt(batch[0].i).root}/`;
        let keysTo = keysFrom;
        let markersFrom = planAt(batch[0].i).markerKey;
        let markersTo = markersFrom;
        let revision = revisionOf(batch[0].i);
        for (const g of batch) {
            const plan = planAt(g.i);
            const keys = `${plan.root}/`;
            if (keys < keysFrom) keysFrom = keys;
            if (keys > keysTo) keysTo = keys;
            if (plan.markerKey < markersFrom) markersFrom = plan.markerKey;
            if (plan.markerKey > markersTo) markersTo = plan.markerKey;
            const r = revisionOf(g.i);
            if (newerRevision(revision, r)) revision = r;
        }
        return [unchangedSince(revision, keysFrom, prefixEnd(keysTo)), unchangedSince(revision, markersFrom, Buffer.from(`${markersTo}\0`))];
    }

    async function allInPlace(ops: KeyOperation[]): Promise<boolean> {
        const res = await session.run("read", (client) => client.kv.txn({ compare: [], success: ops.map((o) => ({ request_range: { key: Buffer.from(o.key) } })), failure: [] }));
        return ops.every((o, j) => {
            const kv = (res.responses[j] as any).response_range.kvs[0];
            return o.op === "put" ? kv !== undefined && kv.value.toString() === o.value : kv === undefined;
        });
    }
}
