// The etcd side of service registrations, shared by the provider's create/update/delete and by bulk
// seeding: batched snapshot reads, guarded v3 transactions, the v2 mirror with rollback.
//
// Bundled into the service providers (components/services/bundled-provider.ts): no top-level import of an
// npm module or client; etcd3/http are reached through etcd-client's session, required inside functions.
import { EtcdConnectionArgs, EtcdSession, withEtcd } from "../etcd/etcd-client";
import {
    batchOperationGroups,
    compensationOps,
    DEFAULT_SERVICE_PREFIX,
    isEmptyRecord,
    KeyOperation,
    KeyValues,
    MAX_TXN_OPS,
    normalizeServiceDefinition,
    ownerMarkerKey,
    ServiceScheme,
    serviceRoot,
} from "../../model/service-keys";
import { planServiceWrite, serviceClaim, ServiceSnapshot, ServiceWritePlan, ServiceWriteRequest } from "../../model/service-write-plan";
import { decodeSetRecord, lineBeatsMarker, newestLine, SetRecord, setLinesByRoot, setRecordsPrefix } from "../../model/set-records";
import { commitPlans, PARALLEL_TXNS, prefixEnd } from "./guarded-commit";
import { deleteKeys, setRecordWriter, tidySetRecords } from "./set-record-store";

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

type ReadKv = { key: Buffer; value: Buffer; mod_revision: string };

/** The set records among `kvs`, by prefix. */
function recordsIn(prefixes: string[], kvs: ReadKv[]): Map<string, SetRecord[]> {
    const found = new Map<string, SetRecord[]>(prefixes.map((p) => [p, []]));
    const starts = prefixes.map((p) => setRecordsPrefix(p));
    for (const kv of kvs) {
        const key = kv.key.toString();
        const at = starts.findIndex((start) => key.startsWith(start));
        if (at === -1) continue;
        const record = decodeSetRecord(key, kv.value.toString(), String(kv.mod_revision));
        if (record) found.get(prefixes[at])!.push(record);
    }
    return found;
}

/** The keys of every service a read found nothing of: one frozen record, not thousands of empty ones (seeding). */
const NO_KEYS: KeyValues = Object.freeze({});

function snapshotsFrom(defs: { prefix: string; service: string }[], kvs: ReadKv[], revision: string): ServiceSnapshot[] {
    // Nothing there yet (seeding a fresh keyspace): no need to index thousands of services.
    if (kvs.length === 0) return defs.map((): ServiceSnapshot => ({ keys: NO_KEYS, markerModRevision: "0", revision }));
    const result = defs.map((): ServiceSnapshot => ({ keys: {}, markerModRevision: "0", revision }));
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
    // The newest set record line is the claim unless the marker was modified after it (model/set-records.ts).
    for (const [prefix, records] of recordsIn(prefixes, kvs)) {
        if (records.length === 0) continue;
        const lines = setLinesByRoot(prefix, records);
        defs.forEach((d, i) => {
            if (d.prefix !== prefix) return;
            const listed = lines.get(serviceRoot(d.prefix, d.service));
            if (!listed) return;
            result[i].setLines = listed;
            const claim = newestLine(listed)!;
            if (lineBeatsMarker(claim.since, result[i].markerModRevision)) result[i].setClaim = claim;
        });
    }
    return result;
}

/**
 * Reads, per service, the keys under its root, its owner marker and the set records of its prefix.
 * Many services under one prefix are read with two range scans in one request (seeding); otherwise
 * one read transaction per 64 services. Read-only transactions are served without a raft write.
 */
export async function readSnapshots(session: EtcdSession, defs: { prefix: string; service: string }[]): Promise<ServiceSnapshot[]> {
    const prefixes = [...new Set(defs.map((d) => d.prefix))];
    const range = (start: string, isPrefix: boolean) => ({ request_range: { key: Buffer.from(start), ...(isPrefix ? { range_end: prefixEnd(start) } : {}) } });
    const collect = (res: { responses: { response_range: { kvs: any[] } }[] }) => res.responses.flatMap((r) => r.response_range.kvs);
    if (defs.length > READ_SERVICES_PER_TXN && prefixes.length <= 8) {
        // The owner namespace of a prefix holds its markers and its set records.
        const success = prefixes.flatMap((p) => [range(`${p}/`, true), range(`${ownerMarkerKey(p, "")}`, true)]);
        const res = await session.run("read", (client) => client.kv.txn({ compare: [], success, failure: [] }));
        return snapshotsFrom(defs, collect(res), String(res.header.revision));
    }
    const chunks = batchOperationGroups(defs.map((d) => [d]), READ_SERVICES_PER_TXN).map((c) => c.map((g) => g[0]));
    const perChunk = await mapLimit(chunks, PARALLEL_TXNS, async (chunk) => {
        const records = [...new Set(chunk.map((d) => d.prefix))].map((p) => range(setRecordsPrefix(p), true));
        const success = [...chunk.flatMap((d) => [range(`${serviceRoot(d.prefix, d.service)}/`, true), range(ownerMarkerKey(d.prefix, d.service), false)]), ...records];
        const res = await session.run("read", (client) => client.kv.txn({ compare: [], success, failure: [] }));
        return snapshotsFrom(chunk, collect(res), String(res.header.revision));
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

function indices(count: number): number[] {
    return Array.from({ length: count }, (_, i) => i);
}

/** The records, by prefix, holding lines of the services a write or removal at these snapshots touched: superseded now. */
function recordsListing(snapshots: ServiceSnapshot[]): Map<string, Set<string>> {
    const byPrefix = new Map<string, Set<string>>();
    for (const snap of snapshots) {
        for (const line of snap.setLines ?? []) {
            const root = line.owner.slice(0, line.owner.indexOf("@"));
            const prefix = root.slice(0, root.lastIndexOf("/"));
            if (!byPrefix.has(prefix)) byPrefix.set(prefix, new Set());
            byPrefix.get(prefix)!.add(line.recordKey);
        }
    }
    return byPrefix;
}

/**
 * Tidies the records listing what was just written or removed. Best effort: the write itself has
 * committed, and a line a tidy missed is superseded (it claims nothing while a newer line or marker
 * stands); the next write or removal of its service tidies it.
 */
async function tidyAfter(session: EtcdSession, snapshots: ServiceSnapshot[], drop?: (prefix: string) => (record: SetRecord, service: string) => boolean): Promise<void> {
    for (const [prefix, keys] of recordsListing(snapshots)) {
        await tidySetRecords(session, prefix, keys, (defs) => readSnapshots(session, defs), drop?.(prefix)).catch(() => undefined);
    }
}

/** A read of what etcd holds for `defs`, started before the write that uses it is prepared (startEarlyRead). */
export interface EarlyRead {
    defs: readonly { prefix: string; service: string }[];
    snapshots: Promise<ServiceSnapshot[]>;
}

/** Sends the read of `defs` now; registerServices takes it for requests holding these very definitions. */
export function startEarlyRead(session: EtcdSession, defs: readonly { prefix: string; service: string }[]): EarlyRead {
    const snapshots = readSnapshots(session, [...defs]);
    snapshots.catch(() => undefined);
    return { defs, snapshots };
}

/** A set's write: ownership goes into one record per transaction (model/set-records.ts), not per-service markers. */
export interface SetWrite {
    /** The set's owner in its records, `set:<owner key>`. */
    owner: string;
    prefix: string;
}

/**
 * Creates or updates many services: one read transaction per 64 services, then the writes packed
 * into transactions of at most 128 operations (a service never split), then the v2 mirror. If the
 * mirror fails, the v3 changes are rolled back. Refuses, before writing anything, services owned by
 * another writer. The provider's create and update use this same path; a set's (`set`) records its
 * ownership per transaction. Afterwards, set records whose lines the write superseded are tidied.
 */
export async function registerServices(
    session: EtcdSession,
    requests: ServiceWriteRequest[],
    labelOf?: (i: number) => string,
    set?: SetWrite,
    /** The caller's readSnapshots, started early so its round trip overlaps the caller's preparation: of these very definition objects, in the requests' order. */
    early?: EarlyRead,
): Promise<ServiceWritePlan[]> {
    const label = (i: number) => labelOf?.(i) ?? `service ${serviceRoot(requests[i].definition.prefix, requests[i].definition.service)}`;
    // A snapshot planned against another service's would skip that service's ownership check.
    if (early && (early.defs.length !== requests.length || early.defs.some((d, i) => d !== requests[i].definition))) {
        throw new Error("registerServices: the early read is not of these requests' definitions");
    }
    // The read goes out first; what follows until it is awaited needs no snapshot, and overlaps its round trip.
    const reading = early?.snapshots ?? readSnapshots(session, requests.map((r) => r.definition));
    // Refused below before it is awaited: its outcome then matters to nobody.
    reading.catch(() => undefined);
    const roots = requests.map((r) => serviceRoot(r.definition.prefix, r.definition.service));
    const seen = new Set<string>();
    const repeated = roots.filter((root) => seen.has(root) || !seen.add(root));
    if (repeated.length > 0) throw new Error(`${[...new Set(repeated)].join(", ")} listed more than once`);
    requests.forEach((r, i) => {
        if (set && (!r.recordedBySet || r.definition.prefix !== set.prefix)) throw new Error(`${label(i)}: a set's write records every service under ${set.prefix} in its records`);
    });
    // In the order of their keys (`<root>/...`: "a-b/" sorts before "a/"), so each batch's keys form a
    // range no other batch of this write falls in.
    const keyStarts = roots.map((root) => `${root}/`);
    const keyOrder = roots.map((_, i) => i).sort((a, b) => (keyStarts[a] < keyStarts[b] ? -1 : keyStarts[a] > keyStarts[b] ? 1 : 0));
    const snapshots = await reading;
    await mapLimit(requests.map((r, i) => i).filter((i) => requests[i].mirrorToV2), 16, async (i) => {
        snapshots[i].v2Keys = await readV2Tree(session, serviceRoot(requests[i].definition.prefix, requests[i].definition.service));
    });
    // A service etcd holds nothing of cannot be refused: it is planned when its batch is packed, while
    // earlier batches commit. Every other service is planned, and refused, before anything is written.
    const untouched = (i: number) => {
        const snap = snapshots[i];
        const r = requests[i];
        return snap.markerValue === undefined && snap.setClaim === undefined && r.ownedBefore.length === 0 && r.mirroredBefore.length === 0 && isEmptyRecord(snap.keys) && isEmptyRecord(snap.v2Keys);
    };
    const planned: Array<ServiceWritePlan | undefined> = requests.map((r, i) => (untouched(i) ? undefined : planServiceWrite(r, snapshots[i])));
    const refused = planned.map((p, i) => (p?.refusal ? `${label(i)}: ${p.refusal}` : undefined)).filter((m): m is string => !!m);
    if (refused.length > 0) throw new Error(refused.join("\n"));
    // A set's transactions carry one more operation: their record.
    const limit = set ? MAX_TXN_OPS - 1 : MAX_TXN_OPS;
    requests.forEach((r, i) => {
        // Keys and, unless a set records it, one owner marker: what planServiceWrite gives an untouched service.
        const ops = planned[i]?.v3.length ?? 1 + r.definition.hosts.length + (r.definition.hostPort === undefined ? 0 : 1) + (r.recordedBySet ? 0 : 1);
        if (ops > limit) throw new Error(`${label(i)}: needs ${ops} operations${set ? " and its ownership record one more" : ""}, more than etcd's ${MAX_TXN_OPS}-operation transaction limit (too many hosts)`);
    });
    const planAt = (i: number): ServiceWritePlan => (planned[i] ??= planServiceWrite(requests[i], snapshots[i]));
    const recordOf = set ? setRecordWriter(set.prefix, set.owner, planAt, snapshots) : undefined;
    const records = await commitPlans(session, keyOrder, planAt, snapshots, (p) => p.v3, { recordOf });
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
                await commitPlans(session, indices(plans.length), (i) => plans[i], current, (p, i) => compensationOps(p.v3, before(p, i)));
                // The records written name the services' new keys: without them the previous claims stand again.
                await deleteKeys(session, records.map((r) => r.key));
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
    await tidyAfter(session, snapshots);
    return plans;
}

export interface ServiceRemoval {
    owner: string;
    prefix: string;
    service: string;
    ownedKeys: string[];
    mirroredKeys: string[];
}

/**
 * Deletes exactly the keys each owner wrote, its marker and its set record lines; services now owned
 * by someone else are left alone.
 */
export async function unregisterServices(session: EtcdSession, removals: ServiceRemoval[]): Promise<{ skipped: string[] }> {
    const snapshots = await readSnapshots(session, removals);
    const skipped: string[] = [];
    const plans: ServiceWritePlan[] = [];
    const kept: ServiceSnapshot[] = [];
    const removedOwner = new Map<string, string>();
    removals.forEach((r, i) => {
        const root = serviceRoot(r.prefix, r.service);
        const { claimed, claim: marker } = serviceClaim(root, snapshots[i]);
        if (claimed && marker?.owner !== r.owner) {
            skipped.push(root);
            return;
        }
        removedOwner.set(root, r.owner);
        const markerKey = ownerMarkerKey(r.prefix, r.service);
        // The marker lists what this owner wrote, also keys a state saved before it may lack.
        const owned = [...new Set([...r.ownedKeys, ...(marker?.keys ?? [])])];
        const v3: KeyOperation[] = [...owned, ...(snapshots[i].markerValue !== undefined ? [markerKey] : [])].map((key) => ({ op: "delete", key }));
        plans.push({ root, markerKey, markerValue: "", ownedKeys: [], mirroredKeys: [], v3, v2: r.mirroredKeys.map((key) => ({ op: "delete", key })) });
        kept.push(snapshots[i]);
    });
    await commitPlans(session, indices(plans.length), (i) => plans[i], kept, (p) => p.v3);
    const v2Ops = plans.flatMap((p) => p.v2);
    if (v2Ops.length > 0) await applyV2(session, v2Ops, plans.map((p) => p.root));
    // Every line of a removed service goes: the removed claim was the newest, so the others are
    // superseded lines that would otherwise claim the service again.
    await tidyAfter(session, kept, (prefix) => (_record, service) => removedOwner.has(`${prefix}/${service}`));
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
