// Service-key seeding against a real 3-member etcd (Debian's etcd, 127.0.12.1-3, data in a temp
// dir): the ServiceRegistration provider's create path, as the engine runs it, against (a) one
// etcd put at a time and (b) the floor, raw etcd3 transactions of at most 128 operations.
//
// How the engine runs the provider: one dynamic-provider process, the provider deserialized from
// the text pulumi.dynamic.Resource stores, check() then create() per ServiceRegistration
// resource, at most `--parallel` (default 4 x cores) operations at a time. Each create returns only
// once its own service is committed, so at most `--parallel` services are ever waiting: the
// provider (1.2.0) reuses one etcd session per connection in the process and merges the creates
// waiting together into one batch (one read, <= 128-op transactions), but it still needs about
// services / parallel commits one after the other, while the floor needs services * 5 / 128
// commits, 8 at a time. The batch function seedServices() (all services in one call) is reported
// beside it for comparison, not as the provider's figure.
import * as pulumi from "@pulumi/pulumi";
import type { Etcd3 } from "etcd3";
import { coalescedWriteStats, SERVICE_REGISTRATION_PROVIDER_VERSION, serviceRegistrationProvider } from "../components/service-registration";
import { sharedSessionStats } from "../components/etcd-shared-sessions";
import * as registration from "../components/service-registration";
import { MAX_TXN_OPS, serviceKeyValues } from "../components/service-keys";
import { requireEtcdBinaries, startEtcdCluster, EtcdTestCluster } from "../test/support/etcd-cluster";
import { BenchService, benchServices } from "./configs";
import { Benchmark, engineDefaultParallelism, errorMessage, figure, Figure, mapLimit, round, timed } from "./support";

const FIRST_ADDRESS = "127.0.12.1";
const PREFIX = "/services";
/** One-at-a-time puts are sampled at this many services and extrapolated beyond (to keep the run short). */
const ONE_AT_A_TIME_SAMPLE = 1000;
const requireFromString: (code: string) => any = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));

function schemaKeys(services: BenchService[]): Array<[string, string]> {
    return services.flatMap((s) => Object.entries(serviceKeyValues({ ...s, prefix: PREFIX })));
}

/** Empties the keyspace and compacts its history, so every measurement starts from the same state. */
async function clean(etcd: Etcd3): Promise<void> {
    const deleted = await etcd.delete().all();
    await etcd.kv.compact({ revision: deleted.header.revision, physical: true });
}

async function countKeys(etcd: Etcd3, prefix: string): Promise<number> {
    return etcd.getAll().prefix(prefix).count();
}

async function putOneAtATime(etcd: Etcd3, keys: Array<[string, string]>): Promise<void> {
    for (const [key, value] of keys) await etcd.put(key).value(value);
}

/** Raw transactions of at most 128 puts, `inFlight` at a time. */
async function putInTransactions(etcd: Etcd3, keys: Array<[string, string]>, inFlight: number): Promise<number> {
    const batches: Array<Array<[string, string]>> = [];
    for (let i = 0; i < keys.length; i += MAX_TXN_OPS) batches.push(keys.slice(i, i + MAX_TXN_OPS));
    await mapLimit(batches, inFlight, (batch) =>
        etcd.kv.txn({ compare: [], success: batch.map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })), failure: [] }),
    );
    return batches.length;
}

/** The provider as the engine holds it: serialized by the SDK, loaded back like the dynamic-provider host does. */
async function engineProvider(): Promise<pulumi.dynamic.ResourceProvider> {
    const serialized = await pulumi.runtime.serializeFunction(() => serviceRegistrationProvider, { allowSecrets: true });
    return requireFromString(serialized.text).handler();
}

async function createThroughProvider(provider: pulumi.dynamic.ResourceProvider, endpoints: string[], services: BenchService[], parallel: number): Promise<void> {
    await mapLimit(services, parallel, async (s) => {
        const news = {
            resourceName: `bench-${s.service}`,
            connection: { endpoints },
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

export const serviceSeeding: Benchmark = {
    name: "service-seeding",
    title: "Service-key seeding: ServiceRegistration create path vs one put at a time vs raw 128-op transactions",
    async run(ctx) {
        try {
            requireEtcdBinaries();
        } catch (err) {
            return { status: `skipped: ${errorMessage(err)}`, figures: [] };
        }
        const { Etcd3: Etcd3Client } = require("etcd3") as typeof import("etcd3");
        const parallel = engineDefaultParallelism();
        const batchSeed = (registration as Record<string, unknown>).seedServices as typeof registration.seedServices | undefined;
        const provider = await engineProvider();
        let cluster: EtcdTestCluster | undefined;
        let etcd: Etcd3 | undefined;
        const figures: Figure[] = [];
        const runs: Record<string, unknown>[] = [];
        try {
            ctx.log(`starting a 3-member etcd on ${FIRST_ADDRESS}-3`);
            cluster = await startEtcdCluster({ size: 3, firstAddress: FIRST_ADDRESS });
            etcd = new Etcd3Client({ hosts: cluster.endpoints });
            const endpoints = cluster.endpoints;
            let oneAtATimePerKeyMs = 0;

            for (const count of [1000, 10000]) {
                const services = benchServices(count);
                const keys = schemaKeys(services);
                const run: Record<string, unknown> = { services: count, schemaKeys: keys.length, parallel };
                const measure = async (label: string, fn: () => Promise<unknown>, expectKeys = keys.length) => {
                    await clean(etcd!);
                    ctx.log(`seeding ${count} services: ${label}`);
                    const { ms } = await timed(fn);
                    const found = await countKeys(etcd!, `${PREFIX}/`);
                    if (found !== expectKeys) throw new Error(`${label} left ${found} keys under ${PREFIX}/, expected ${expectKeys}`);
                    run[label] = round(ms, 1);
                    return ms;
                };

                let oneAtATimeMs: number;
                let oneAtATimeNote: string | undefined;
                if (count <= ONE_AT_A_TIME_SAMPLE) {
                    oneAtATimeMs = await measure("oneAtATimeMs", () => putOneAtATime(etcd!, keys));
                    oneAtATimePerKeyMs = oneAtATimeMs / keys.length;
                } else {
                    oneAtATimeMs = oneAtATimePerKeyMs * keys.length;
                    oneAtATimeNote = `extrapolated from the ${ONE_AT_A_TIME_SAMPLE}-service run (${round(oneAtATimePerKeyMs, 3)} ms per put x ${keys.length} keys), not measured at this size`;
                    run.oneAtATimeMs = `${round(oneAtATimeMs, 1)} (extrapolated)`;
                }
                const txnSequentialMs = await measure("txnSequentialMs", () => putInTransactions(etcd!, keys, 1));
                const txnParallelMs = await measure("txnParallelMs", () => putInTransactions(etcd!, keys, parallel));
                const floorMs = Math.min(txnSequentialMs, txnParallelMs);
                const floorHow = txnParallelMs <= txnSequentialMs ? `${parallel} in flight` : "one at a time";
                run.transactions = Math.ceil(keys.length / MAX_TXN_OPS);

                // The provider also writes one owner marker per service, outside the schema (not counted under /services/).
                const sessionsBefore = sharedSessionStats().opened;
                const writesBefore = coalescedWriteStats();
                const providerMs = await measure("providerCreateMs", () => createThroughProvider(provider, endpoints, services, parallel));
                const writesAfter = coalescedWriteStats();
                run.providerSessionsOpened = sharedSessionStats().opened - sessionsBefore;
                run.providerBatches = writesAfter.batches - writesBefore.batches;
                run.providerServicesPerBatch = round((writesAfter.services - writesBefore.services) / Math.max(1, writesAfter.batches - writesBefore.batches), 1);
                run.ownerMarkers = await countKeys(etcd!, "/coreos-cluster/owners/");
                let batchMs: number | undefined;
                if (batchSeed) batchMs = await measure("seedServicesMs", () => batchSeed({ endpoints }, services, PREFIX));
                runs.push(run);

                const what = `${count} services (${keys.length} schema keys)`;
                const providerWhat = `ServiceRegistration provider check()+create() per service, ${count} resources, ${parallel} at a time (engine default --parallel), ${what}`;
                figures.push(
                    figure({
                        id: `provider-vs-floor-${count}`,
                        measured: providerWhat,
                        value: providerMs,
                        unit: "ms",
                        baseline: `floor: raw etcd3 transactions of <= ${MAX_TXN_OPS} puts (${floorHow}, the faster of sequential and ${parallel} in flight)`,
                        baselineValue: floorMs,
                        target: { text: "provider <= 1.5x floor", pass: providerMs <= 1.5 * floorMs },
                    }),
                    figure({
                        id: `provider-vs-one-at-a-time-${count}`,
                        measured: providerWhat,
                        value: providerMs,
                        unit: "ms",
                        baseline: "one etcd put at a time",
                        baselineValue: oneAtATimeMs,
                        note: oneAtATimeNote,
                    }),
                );
                if (batchMs !== undefined) {
                    figures.push(
                        figure({
                            id: `seedServices-vs-floor-${count}`,
                            measured: `seedServices() batch function, all ${count} services in one call (not the path of the provider's create), ${what}`,
                            value: batchMs,
                            unit: "ms",
                            baseline: `floor: raw etcd3 transactions of <= ${MAX_TXN_OPS} puts (${floorHow})`,
                            baselineValue: floorMs,
                            target: { text: "<= 1.5x floor", pass: batchMs <= 1.5 * floorMs },
                        }),
                    );
                }
            }
            const at = (id: string) => figures.find((f) => f.id === id)?.value ?? NaN;
            figures.push(
                figure({
                    id: "provider-growth-1000-to-10000",
                    measured: "provider time for 10,000 services",
                    value: at("provider-vs-floor-10000"),
                    unit: "ms",
                    baseline: "provider time for 1,000 services x 10 (linear growth)",
                    baselineValue: at("provider-vs-floor-1000") * 10,
                }),
            );
            await clean(etcd);
            const f = (id: string) => figures.find((x) => x.id === id);
            const summary =
                `The provider's creates, ${parallel} at a time as the engine runs them, share one etcd session per connection and are merged into batches ` +
                `(${runs[0]?.providerServicesPerBatch} services per batch on average at 1,000: one read, then one transaction); each create waits for its own commit, ` +
                `so ${parallel}-way parallelism means about services / ${parallel} commits one after the other (the floor: services x 5 / ${MAX_TXN_OPS}, ${parallel} in flight). ` +
                `${round(f("provider-vs-floor-1000")?.ratio ?? NaN, 1)}x the floor at 1,000 services ` +
                `(target 1.5x: ${f("provider-vs-floor-1000")?.target?.pass ? "PASS" : "FAIL"}) and ${round(f("provider-vs-floor-10000")?.ratio ?? NaN, 1)}x at 10,000; ` +
                `one put at a time is ${round(1 / (f("provider-vs-one-at-a-time-1000")?.ratio ?? NaN), 2)}x the provider's time at 1,000. ` +
                (batchSeed ? `The batch function seedServices(), not used by the provider's create, is ${round(f("seedServices-vs-floor-1000")?.ratio ?? NaN, 1)}x the floor at 1,000 and ${round(f("seedServices-vs-floor-10000")?.ratio ?? NaN, 1)}x at 10,000. ` : "") +
                `From 1,000 to 10,000 services the provider took ${round(f("provider-growth-1000-to-10000")?.ratio ?? NaN, 2)}x the linear extrapolation.`;
            return {
                status: "ok",
                figures,
                details: {
                    summary,
                    path: "provider.check() + provider.create() of the serialized provider (what the engine runs), one call per service; seedServices() is measured separately",
                    providerWritesPerService: "5 schema keys + 1 owner marker; creates waiting together on one connection share one read transaction and their write transactions (<= 128 ops, a service never split)",
                    etcd: { members: cluster.endpoints, version: "Debian etcd 3.4" },
                    runs,
                },
            };
        } finally {
            etcd?.close();
            await cluster?.stop();
        }
    },
};
