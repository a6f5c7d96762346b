// The etcd side of set ownership records (model/set-records.ts): the record each transaction of a
// set's write carries, and the tidy step that drops lines a later write superseded. Bundled into
// the service providers: no top-level import of an npm module.
import { EtcdSession } from "../etcd/etcd-client";
import { KeyOperation, MAX_TXN_OPS } from "../../model/service-keys";
import { ServiceSnapshot, ServiceWritePlan } from "../../model/service-write-plan";
import { decodeSetRecord, encodeSetRecord, planRecordRewrites, RecordLine, SetRecord, setRecordKey } from "../../model/set-records";
import { OpGroup, prefixEnd } from "./guarded-commit";

/**
 * The record each transaction of one set's write puts: the set (`owner`, e.g. `set:<owner key>`)
 * and, per service in it, the revision it was read at and the keys it now owns. Record ids are
 * fresh per write, so a record is never overwritten by another transaction.
 */
export function setRecordWriter(prefix: string, owner: string, planAt: (i: number) => ServiceWritePlan, snapshots: ServiceSnapshot[]): (batch: OpGroup[]) => KeyOperation {
    const writeId = (require("crypto") as typeof import("crypto")).randomBytes(6).toString("hex");
    let n = 0;
    return (batch) => {
        const lines: Array<[string, RecordLine]> = batch.map((g) => {
            const plan = planAt(g.i);
            const service = plan.root.slice(prefix.length + 1);
            return [service, { since: snapshots[g.i].revision!, keys: plan.ownedKeys.map((k) => k.slice(plan.root.length + 1)) }];
        });
        return { op: "put", key: setRecordKey(prefix, owner, `${writeId}-${n++}`), value: encodeSetRecord(owner, lines) };
    };
}

/**
 * Drops from the records at `recordKeys` (all under `prefix`) the lines that are no longer their
 * service's claim (a later write claimed it) and those `drop` names (services removed by their
 * set); deletes records left empty. Each rewrite is guarded by the record's mod revision; one that
 * lost a race is left for the next write: a superseded line changes no claim (its <since> is lower).
 */
export async function tidySetRecords(
    session: EtcdSession,
    prefix: string,
    recordKeys: Iterable<string>,
    readSnapshots: (defs: { prefix: string; service: string }[]) => Promise<ServiceSnapshot[]>,
    drop: (record: SetRecord, service: string) => boolean = () => false,
): Promise<void> {
    const keys = [...new Set(recordKeys)];
    if (keys.length === 0) return;
    const res = await session.run("read", (client) => client.kv.txn({ compare: [], success: keys.map((key) => ({ request_range: { key: Buffer.from(key) } })), failure: [] }));
    const records: SetRecord[] = [];
    res.responses.forEach((r: any) => {
        const kv = r.response_range.kvs[0];
        const record = kv && decodeSetRecord(kv.key.toString(), kv.value.toString(), String(kv.mod_revision));
        if (record) records.push(record);
    });
    const services = [...new Set(records.flatMap((r) => [...r.services.keys()]))];
    const snapshots = await readSnapshots(services.map((service) => ({ prefix, service })));
    const claimOf = new Map(services.map((s, i) => [s, snapshots[i].setClaim?.recordKey]));
    const rewrites = planRecordRewrites(records, (s) => claimOf.get(s), (record, s) => !drop(record, s));
    await Promise.all(
        rewrites.map((w) =>
            session.run("transaction", (client) =>
                client.kv.txn({
                    compare: [{ key: Buffer.from(w.key), target: "Mod", result: "Equal", mod_revision: w.modRevision }],
                    success: [w.value === undefined ? { request_delete_range: { key: Buffer.from(w.key) } } : { request_put: { key: Buffer.from(w.key), value: Buffer.from(w.value) } }],
                    failure: [],
                }),
            ),
        ),
    );
}

/** The records one set holds under `prefix` (read as the set's own, e.g. before deleting it). */
export async function readOwnSetRecords(session: EtcdSession, ownPrefix: string): Promise<SetRecord[]> {
    const res = await session.run("read", (client) => client.kv.txn({ compare: [], success: [{ request_range: { key: Buffer.from(ownPrefix), range_end: prefixEnd(ownPrefix) } }], failure: [] }));
    return (res.responses[0] as any).response_range.kvs
        .map((kv: any) => decodeSetRecord(kv.key.toString(), kv.value.toString(), String(kv.mod_revision)))
        .filter((r: SetRecord | undefined): r is SetRecord => r !== undefined);
}

/** Deletes these keys outright, at most 128 per transaction (records a write or a set no longer needs). */
export async function deleteKeys(session: EtcdSession, keys: readonly string[]): Promise<void> {
    for (let at = 0; at < keys.length; at += MAX_TXN_OPS) {
        const success = keys.slice(at, at + MAX_TXN_OPS).map((key) => ({ request_delete_range: { key: Buffer.from(key) } }));
        await session.run("transaction", (client) => client.kv.txn({ compare: [], success, failure: [] }));
    }
}
