// The etcd side of service registrations, shared by the provider's create/update/delete and by bulk
// seeding: batched snapshot reads, guarded v3 transactions, the v2 mirror with rollback.
//
// Bundled into the service providers (components/services/bundled-provider.ts): no top-level import of an
// npm module or client; etcd3/http are reached through etcd-client's session, required inside functions.
import { EtcdConnectionArgs, EtcdSession, withEtcd } from "../etcd/etcd-client";
import {
    batchOperationGroups,
    compensationOps,
    decodeOwnerMarker,
    DEFAULT_SERVICE_PREFIX,
    isEmptyRecord,
    KeyOperation,
    KeyValues,
    MAX_TXN_OPS,
    normalizeServiceDefinition,
    ownerMarkerKey,
    planServiceWrite,
    ServiceScheme,
    ServiceSnapshot,
    ServiceWritePlan,
    ServiceWriteRequest,
    serviceRoot,
} from "../../model/service-keys";

const PARALLEL_TXNS = 16;
const READ_SERVICES_PER_TXN = 64;

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

function prefixEnd(prefix: string): Buffer {
    const end = Buffer.from(prefix);
    end[end.length - 1] += 1;
    return end;
}

/** The etcd3 request ops of many operations in one loop: the hot path of large writes (thousands of calls otherwise). */
function toRequestOps(groups: { ops: KeyOperation[] }[]) {
    const ops: Array<{ request_put: { key: Buffer; value: Buffer } } | { request_delete_range: { key: Buffer } }> = [];
    for (const g of groups) {
        for (const o of g.ops) ops.push(o.op === "put" ? { request_put: { key: Buffer.from(o.key), value: Buffer.from(o.value) } } : { request_delete_range: { key: Buffer.from(o.key) } });
    }
    return ops;
}

function snapshotsFrom(defs: { prefix: string; service: string }[], kvs: { key: Buffer; value: Buffer; mod_revision: string }[]): ServiceSnapshot[] {
    const result = defs.map((): ServiceSnapshot => ({ keys: {}, markerModRevision: "0" }));
    // Nothing there yet (seeding a fresh keyspace): no need to index thousands of services.
    if (kvs.length === 0) return result;
    const byRoot = new Map<string, ServiceSnapshot>();
    const byMarker = new Map<string, ServiceSnapshot>();
    const prefixes = [...new Set(defs.map((d) => d.prefix))];
    defs.forEach((d, i) => {
        byRoot.set(`${serviceRoot(d.prefix, d.service)}/`, result[i]);
        byMarker.set(ownerMarkerKey(d.prefix, d.service), result[i]);
    });
    for (const kv of kvs) {
        const key = kv.key.toString();
        const marked = byMarker.get(key);
        if (marked) {
            marked.markerValue = kv.value.toString();
            marked.markerModRevision = String(kv.mod_revision);
            continue;
        }
        for (const prefix of prefixes) {
            if (!key.startsWith(`${prefix}/`)) continue;
            const slash = key.indexOf("/", prefix.length + 1);
            const snap = slash === -1 ? undefined : byRoot.get(key.slice(0, slash + 1));
            if (snap) snap.keys[key] = kv.value.toString();
        }
    }
    return result;
}

/**
 * Reads, per service, the keys under its root and its owner marker. Many services under one
 * prefix are read with two range scans in one request (seeding); otherwise one read transaction
 * per 64 services. Read-only transactions are served without a raft write.
 */
export async function readSnapshots(session: EtcdSession, defs: { prefix: string; service: string }[]): Promise<ServiceSnapshot[]> {
    const prefixes = [...new Set(defs.map((d) => d.prefix))];
    const range = (start: string, isPrefix: boolean) => ({ request_range: { key: Buffer.from(start), ...(isPrefix ? { range_end: prefixEnd(start) } : {}) } });
    const collect = (res: { responses: { response_range: { kvs: any[] } }[] }) => res.responses.flatMap((r) => r.response_range.kvs);
    if (defs.length > READ_SERVICES_PER_TXN && prefixes.length <= 8) {
        const success = prefixes.flatMap((p) => [range(`${p}/`, true), range(`${ownerMarkerKey(p, "")}`, true)]);
        const res = await session.run("read", (client) => client.kv.txn({ compare: [], success, failure: [] }));
        return snapshotsFrom(defs, collect(res));
    }
    const chunks = batchOperationGroups(defs.map((d) => [d]), READ_SERVICES_PER_TXN).map((c) => c.map((g) => g[0]));
    const perChunk = await mapLimit(chunks, PARALLEL_TXNS, async (chunk) => {
        const success = chunk.flatMap((d) => [range(`${serviceRoot(d.prefix, d.service)}/`, true), range(ownerMarkerKey(d.prefix, d.service), false)]);
        const res = await session.run("read", (client) => client.kv.txn({ compare: [], success, failure: [] }));
        return snapshotsFrom(chunk, collect(res));
    });
    return perChunk.flat();
}

export async function readV2Tree(session: EtcdSession, root: string): Promise<KeyValues> {
    const res = await session.v2("GET", root, { recursive: "true" });
    if (res.status === 404 && res.body?.errorCode === 100) return {};
    if (res.status === 404) throw new Error(`the v2 API answered 404 for ${root}: is etcd running with --enable-v2?`);
    if (res.status !== 200) throw new Error(`v2 GET ${root} answered HTTP ${res.status}: ${res.body?.message ?? ""}`);
    const found: KeyValues = {};
    const walk = (node: any) => {
        if (node?.dir) (node.nodes ?? []).forEach(walk);
        else if (node?.key !== undefined) found[node.key] = node.value;
    };
    walk(res.body.node);
    return found;
}

/** Applies v2 operations (16 in flight); `applied` collects those that took effect, for rollback. */
async function applyV2(session: EtcdSession, ops: KeyOperation[], roots: string[], applied: KeyOperation[] = []): Promise<void> {
    await mapLimit(ops, 16, async (o) => {
        const res = o.op === "put" ? await session.v2("PUT", o.key, { value: o.value }) : await session.v2("DELETE", o.key);
        if (res.status >= 300 && !(o.op === "delete" && res.status === 404)) {
            throw new Error(`v2 ${o.op} ${o.key} answered HTTP ${res.status}: ${res.body?.message ?? ""}`);
        }
        applied.push(o);
    });
    // Tidy empty v2 directories left by deletes; a non-empty directory is refused and kept.
    if (ops.some((o) => o.op === "delete")) {
        for (const root of roots) {
            for (const dir of [`${root}/hosts`, root]) await session.v2("DELETE", dir, { dir: "true" }).catch(() => undefined);
        }
    }
}

type OpGroup = { i: number; ops: KeyOperation[] };

/**
 * Runs transactions of at most 128 operations (a service never split), PARALLEL_TXNS in flight,
 * taking the services in `order`, each guarded by the owner markers' mod revisions seen when
 * planning (one range guard for a batch whose markers were all absent). Batches are packed when a
 * transaction slot frees up, so plans that `planAt` computes on first use overlap the commits
 * already in flight. A service needing more than 128 operations must be refused by the caller first.
 */
async function commitV3(
    session: EtcdSession,
    order: number[],
    planAt: (i: number) => ServiceWritePlan,
    snapshots: ServiceSnapshot[],
    opsOf: (p: ServiceWritePlan, i: number) => KeyOperation[],
): Promise<void> {
    const failed: { roots: string[]; message: string }[] = [];
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
            if (size + group.ops.length > MAX_TXN_OPS && batch.length > 0) {
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
            await commitBatch(batch).catch((err) => {
                failed.push({ roots: batch.map((g) => planAt(g.i).root), message: (err as Error).message });
            });
        }
    };
    await Promise.all(Array.from({ length: PARALLEL_TXNS }, worker));
    if (failed.length > 0) {
        const failedRoots = failed.flatMap((f) => f.roots);
        const written = sent > failed.length ? `; the other ${order.length - failedRoots.length} service(s) were written` : "";
        throw new Error(`${failed[0].message} (not written: ${failedRoots.length > 5 ? `${failedRoots.slice(0, 5).join(", ")} and ${failedRoots.length - 5} more` : failedRoots.join(", ")}${written})`);
    }

    async function commitBatch(batch: OpGroup[], rangeGuard = batch.length > 1 && batch.every((g) => snapshots[g.i].markerModRevision === "0")): Promise<void> {
        const res = await session.run("transaction", (client) =>
            client.kv.txn({ compare: rangeGuard ? absentMarkersGuard(batch.map((g) => planAt(g.i).markerKey)) : markerGuards(batch), success: toRequestOps(batch), failure: [] }),
        );
        if (!res.succeeded) {
            // A retried commit may already have been applied: then every marker holds what we wrote.
            const now = await readSnapshots(session, batch.map((g) => splitRoot(planAt(g.i).root)));
            // The range guard also covers markers of services not in this batch: if none of ours
            // appeared, one of those did, which is no conflict; the per-service guards decide then.
            if (rangeGuard && now.every((snap) => snap.markerValue === undefined)) return commitBatch(batch, false);
            const changed = batch.filter((g, j) => now[j].markerValue !== expectedMarkerAfter(planAt(g.i), g.ops));
            if (changed.length > 0) {
                throw new Error(`${changed.map((g) => planAt(g.i).root).join(", ")} changed while being written (another writer); run again`);
            }
        }
    }

    /** One guard per service: its marker's mod revision is still the one seen when planning. */
    function markerGuards(batch: OpGroup[]) {
        return batch.map((g) => ({ key: Buffer.from(planAt(g.i).markerKey), target: "Mod" as const, result: "Equal" as const, mod_revision: snapshots[g.i].markerModRevision }));
    }
}

/**
 * One guard for a batch of services that had no marker when planned: no marker exists anywhere
 * from the first of theirs to the last: one range compare instead of one compare per service (those
 * cost about 0.2x of the raw floor's time when seeding 1,000 services).
 */
function absentMarkersGuard(markerKeys: string[]) {
    let first = markerKeys[0];
    let last = markerKeys[0];
    for (const key of markerKeys) {
        if (key < first) first = key;
        if (key > last) last = key;
    }
    return [{ key: Buffer.from(first), range_end: Buffer.from(`${last}\0`), target: "Mod" as const, result: "Equal" as const, mod_revision: "0" }];
}

function indices(count: number): number[] {
    return Array.from({ length: count }, (_, i) => i);
}

function expectedMarkerAfter(plan: ServiceWritePlan, ops: KeyOperation[]): string | undefined {
    const last = ops.filter((o) => o.key === plan.markerKey).pop();
    return last === undefined ? undefined : last.op === "put" ? last.value : undefined;
}
function splitRoot(root: string): { prefix: string; service: string } {
    const cut = root.lastIndexOf("/");
    return { prefix: root.slice(0, cut), service: root.slice(cut + 1) };
}

/**
 * Creates or updates many services: one read transaction per 64 services, then the writes packed
 * into transactions of at most 128 operations (a service never split), then the v2 mirror. If the
 * mirror fails, the v3 changes are rolled back. Refuses, before writing anything, services owned by
 * another writer. The provider's create and update use this same path.
 */
export async function registerServices(session: EtcdSession, requests: ServiceWriteRequest[], labelOf?: (i: number) => string): Promise<ServiceWritePlan[]> {
    const label = (i: number) => labelOf?.(i) ?? `service ${serviceRoot(requests[i].definition.prefix, requests[i].definition.service)}`;
    const roots = requests.map((r) => serviceRoot(r.definition.prefix, r.definition.service));
    const seen = new Set<string>();
    const repeated = roots.filter((root) => seen.has(root) || !seen.add(root));
    if (repeated.length > 0) throw new Error(`${[...new Set(repeated)].join(", ")} listed more than once`);
    const snapshots = await readSnapshots(session, requests.map((r) => r.definition));
    await mapLimit(requests.map((r, i) => i).filter((i) => requests[i].mirrorToV2), 16, async (i) => {
        snapshots[i].v2Keys = await readV2Tree(session, serviceRoot(requests[i].definition.prefix, requests[i].definition.service));
    });
    // A service etcd holds nothing of cannot be refused: it is planned when its batch is packed, while
    // earlier batches commit. Every other service is planned, and refused, before anything is written.
    const untouched = (i: number) => {
        const snap = snapshots[i];
        const r = requests[i];
        return snap.markerValue === undefined && r.ownedBefore.length === 0 && r.mirroredBefore.length === 0 && isEmptyRecord(snap.keys) && isEmptyRecord(snap.v2Keys);
    };
    const planned: Array<ServiceWritePlan | undefined> = requests.map((r, i) => (untouched(i) ? undefined : planServiceWrite(r, snapshots[i])));
    const refused = planned.map((p, i) => (p?.refusal ? `${label(i)}: ${p.refusal}` : undefined)).filter((m): m is string => !!m);
    if (refused.length > 0) throw new Error(refused.join("\n"));
    requests.forEach((r, i) => {
        // Keys, one owner marker; what planServiceWrite would give an untouched service.
        const ops = planned[i]?.v3.length ?? 2 + r.definition.hosts.length + (r.definition.hostPort === undefined ? 0 : 1);
        if (ops > MAX_TXN_OPS) throw new Error(`${label(i)}: needs ${ops} operations, more than etcd's ${MAX_TXN_OPS}-operation transaction limit (too many hosts)`);
    });
    const planAt = (i: number): ServiceWritePlan => (planned[i] ??= planServiceWrite(requests[i], snapshots[i]));

    // In key order, so each batch's markers form a range no other batch of this write falls in.
    const keyOrder = roots.map((_, i) => i).sort((a, b) => (roots[a] < roots[b] ? -1 : roots[a] > roots[b] ? 1 : 0));
    await commitV3(session, keyOrder, planAt, snapshots, (p) => p.v3);
    const plans = requests.map((r, i) => planAt(i));
    const v2Ops = plans.flatMap((p) => p.v2);
    if (v2Ops.length > 0) {
        const appliedV2: KeyOperation[] = [];
        try {
            await applyV2(session, v2Ops, plans.map((p) => p.root), appliedV2);
        } catch (err) {
            const rollback = async () => {
                const current = await readSnapshots(session, requests.map((r) => r.definition));
                const before = (p: ServiceWritePlan, i: number): KeyValues => ({ ...snapshots[i].keys, ...(snapshots[i].markerValue !== undefined ? { [p.markerKey]: snapshots[i].markerValue! } : {}) });
                await commitV3(session, indices(plans.length), (i) => plans[i], current, (p, i) => compensationOps(p.v3, before(p, i)));
                const v2Before: KeyValues = Object.assign({}, ...snapshots.map((snap) => snap.v2Keys ?? {}));
                const v2Restore = compensationOps(appliedV2, v2Before);
                await applyV2(session, v2Restore, []);
            };
            const undone = await rollback().then(
                () => "the changes were rolled back",
                (undoErr) => `rolling back also failed (${(undoErr as Error).message}): check ${plans.map((p) => p.root).join(", ")} by hand`,
            );
            throw new Error(`mirroring to the v2 keyspace failed (${(err as Error).message}); ${undone}`);
        }
    }
    return plans;
}

export interface ServiceRemoval {
    owner: string;
    prefix: string;
    service: string;
    ownedKeys: string[];
    mirroredKeys: string[];
}

/** Deletes exactly the keys each owner wrote and its marker; services now owned by someone else are left alone. */
export async function unregisterServices(session: EtcdSession, removals: ServiceRemoval[]): Promise<{ skipped: string[] }> {
    const snapshots = await readSnapshots(session, removals);
    const skipped: string[] = [];
    const plans: ServiceWritePlan[] = [];
    const kept: ServiceSnapshot[] = [];
    removals.forEach((r, i) => {
        const root = serviceRoot(r.prefix, r.service);
        const marker = decodeOwnerMarker(snapshots[i].markerValue, root);
        if (snapshots[i].markerValue !== undefined && marker?.owner !== r.owner) {
            skipped.push(root);
            return;
        }
        const markerKey = ownerMarkerKey(r.prefix, r.service);
        // The marker lists what this owner wrote, also keys a state saved before it may lack.
        const owned = [...new Set([...r.ownedKeys, ...(marker?.keys ?? [])])];
        const v3: KeyOperation[] = [...owned, ...(snapshots[i].markerValue !== undefined ? [markerKey] : [])].map((key) => ({ op: "delete", key }));
        plans.push({ root, markerKey, markerValue: "", ownedKeys: [], mirroredKeys: [], v3, v2: r.mirroredKeys.map((key) => ({ op: "delete", key })) });
        kept.push(snapshots[i]);
    });
    await commitV3(session, indices(plans.length), (i) => plans[i], kept, (p) => p.v3);
    const v2Ops = plans.flatMap((p) => p.v2);
    if (v2Ops.length > 0) await applyV2(session, v2Ops, plans.map((p) => p.root));
    return { skipped };
}

export interface SeedService {
    service: string;
    scheme: ServiceScheme;
    hosts: string[];
    hostPort?: number;
}

/**
 * Registers many services at once (the path the provider's create takes, batched): returns the
 * owner id of each, usable later with unregisterServices.
 */
export async function seedServices(
    connection: EtcdConnectionArgs,
    services: SeedService[],
    prefix: string = DEFAULT_SERVICE_PREFIX,
    options: { owner?: string; adopt?: boolean; mirrorToV2?: boolean } = {},
): Promise<{ owner: string; ownedKeys: string[] }[]> {
    const owner = options.owner ?? `seed-${Date.now().toString(36)}`;
    const requests = services.map((s) => ({
        owner: `${owner}:${s.service}`,
        definition: normalizeServiceDefinition({ ...s, prefix }, `service "${s.service}"`),
        ownedBefore: [],
        mirrorToV2: options.mirrorToV2 ?? false,
        mirroredBefore: [],
        adopt: options.adopt ?? false,
    }));
    const plans = await withEtcd(connection, (session) => registerServices(session, requests));
    return plans.map((p, i) => ({ owner: requests[i].owner, ownedKeys: p.ownedKeys }));
}
