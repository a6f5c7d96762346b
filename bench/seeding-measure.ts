// The seeding benchmark's moves: the raw floor, the providers driven as the engine drives them,
// and the bookkeeping between samples. bench/service-seeding.ts decides what to compare.
import * as pulumi from "@pulumi/pulumi";
import type { Etcd3 } from "etcd3";
import type { EtcdConnectionArgs } from "../components/etcd/etcd-client";
import { SERVICE_REGISTRATION_PROVIDER_VERSION } from "../components/services/service-registration";
import { SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../components/services/service-registration-set";
import { MAX_TXN_OPS, serviceKeyValues } from "../model/service-keys";
import { encodeSetRecord, RecordLine, setRecordKey } from "../model/set-records";
import { BenchService } from "./configs";
import { mapLimit } from "./support";

export const PREFIX = "/services";
export const SET_OWNER_KEY = "organization/coreos-cluster/bench/bench-services";
const requireFromString: (code: string) => any = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));

export function schemaKeys(services: BenchService[]): Array<[string, string]> {
    return services.flatMap((s) => Object.entries(serviceKeyValues({ ...s, prefix: PREFIX })));
}

/**
 * Every key and value the set's create writes for these services, as its transactions carry them:
 * the schema keys, packed in key order at most 127 operations a transaction, and one ownership
 * record per transaction (model/set-records.ts). Raw, they are the floor of the same writes.
 */
export function sameWritesAsSet(services: BenchService[]): Array<Array<[string, string]>> {
    const owner = `set:${SET_OWNER_KEY}`;
    const sorted = [...services].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    const transactions: Array<Array<[string, string]>> = [];
    let puts: Array<[string, string]> = [];
    let lines: Array<[string, RecordLine]> = [];
    const close = () => {
        if (lines.length === 0) return;
        transactions.push([...puts, [setRecordKey(PREFIX, owner, `bench-${transactions.length}`), encodeSetRecord(owner, lines)]]);
        puts = [];
        lines = [];
    };
    for (const s of sorted) {
        const keys = Object.entries(serviceKeyValues({ ...s, prefix: PREFIX }));
        if (puts.length + keys.length > MAX_TXN_OPS - 1) close();
        puts.push(...keys);
        lines.push([s.service, { since: "1", keys: keys.map(([k]) => k.slice(PREFIX.length + s.service.length + 2)) }]);
    }
    close();
    return transactions;
}

/** Empties the keyspace and compacts its history (as root), so every measurement starts from the same state. */
export async function clean(admin: Etcd3): Promise<void> {
    const deleted = await admin.delete().all();
    // Nothing deleted: the revision did not move, and compacting it again is refused.
    if (Number(deleted.deleted) > 0) await admin.kv.compact({ revision: deleted.header.revision, physical: true });
}

export async function countKeys(client: Etcd3, prefix: string): Promise<number> {
    return client.getAll().prefix(prefix).count();
}

export async function putOneAtATime(client: Etcd3, keys: Array<[string, string]>): Promise<void> {
    for (const [key, value] of keys) await client.put(key).value(value);
}

/** Raw transactions of at most 128 puts, `inFlight` at a time: the floor. Returns how many. */
export async function putInTransactions(client: Etcd3, keys: Array<[string, string]>, inFlight: number): Promise<number> {
    const batches: Array<Array<[string, string]>> = [];
    for (let i = 0; i < keys.length; i += MAX_TXN_OPS) batches.push(keys.slice(i, i + MAX_TXN_OPS));
    return putTransactions(client, batches, inFlight);
}

/** These raw transactions, `inFlight` at a time. Returns how many. */
export async function putTransactions(client: Etcd3, batches: Array<Array<[string, string]>>, inFlight: number): Promise<number> {
    await mapLimit(batches, inFlight, (batch) =>
        client.kv.txn({ compare: [], success: batch.map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })), failure: [] }),
    );
    return batches.length;
}

/** A provider as the engine holds it: serialized by the SDK, loaded back like the dynamic-provider host does. */
export async function engineProvider(provider: pulumi.dynamic.ResourceProvider): Promise<pulumi.dynamic.ResourceProvider> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    return requireFromString(serialized.text).handler();
}

/** One ServiceRegistrationSet holding every service: check() and create(), as `pulumi up` runs them. */
export async function createSetThroughProvider(provider: pulumi.dynamic.ResourceProvider, connection: EtcdConnectionArgs, services: BenchService[]): Promise<void> {
    const news = {
        resourceName: "bench-services",
        ownerKey: SET_OWNER_KEY,
        connection,
        services: services.map((s) => ({ service: s.service, scheme: s.scheme, hosts: s.hosts, hostPort: s.hostPort })),
        prefix: PREFIX,
        mirrorToV2: false,
        adopt: false,
        providerVersion: SERVICE_REGISTRATION_SET_PROVIDER_VERSION,
    };
    const checked = await provider.check!({}, news);
    if ((checked.failures ?? []).length > 0) throw new Error(`check refused the set: ${checked.failures!.map((f) => f.reason).join("; ")}`);
    await provider.create(checked.inputs);
}

/** One ServiceRegistration per service, `parallel` creates at a time (the engine's --parallel). */
export async function createThroughProvider(provider: pulumi.dynamic.ResourceProvider, connection: EtcdConnectionArgs, services: BenchService[], parallel: number): Promise<void> {
    await mapLimit(services, parallel, async (s) => {
        const news = {
            resourceName: `bench-${s.service}`,
            connection,
            service: s.service,
            scheme: s.scheme,
            hosts: s.hosts,
            hostPort: s.hostPort,
            prefix: PREFIX,
            mirrorToV2: false,
            adopt: false,
            providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION,
        };
        const checked = await provider.check!({}, news);
        if ((checked.failures ?? []).length > 0) throw new Error(`check refused ${s.service}: ${checked.failures!.map((f) => f.reason).join("; ")}`);
        await provider.create(checked.inputs);
    });
}

/**
 * Each paired round's ratio: the sample over the mean of the two floor samples taken just before
 * and just after it (a load that drifts linearly within a round cancels out).
 */
export function bracketedRatios(samples: number[], floorsBefore: number[], floorsAfter: number[]): number[] {
    return samples.map((v, r) => v / ((floorsBefore[r] + floorsAfter[r]) / 2));
}
