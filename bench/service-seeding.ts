// Service-key seeding against a real 3-member etcd (Debian's etcd, 127.0.12.1-3, data in a temp
// dir): the providers' create paths, as the engine runs them, against (a) one etcd put at a time and
// (b) the floor, raw etcd3 transactions of at most 128 operations.
//
// How the engine runs a provider: one dynamic-provider process, the provider deserialized from the
// text pulumi.dynamic.Resource stores, check() then create() per resource, at most `--parallel`
// (default 4 x cores) operations at a time.
// - ServiceRegistrationSet (how the program registers its config's services): one resource, one
//   create for all services: one read, then <= 128-op transactions. This is the seeding figure.
// - ServiceRegistration (one resource per service, for stacks registering a few services each):
//   each create returns only once its own service is committed, so at most `--parallel` services
//   wait together; the provider merges them into one batch, but it still needs about
//   services / parallel commits one after the other. Reported beside it, without a target.
import * as pulumi from "@pulumi/pulumi";
import type { Etcd3 } from "etcd3";
import { coalescedWriteStats, SERVICE_REGISTRATION_PROVIDER_VERSION, serviceRegistrationProvider } from "../components/services/service-registration";
import { SERVICE_REGISTRATION_SET_PROVIDER_VERSION, serviceRegistrationSetProvider } from "../components/services/service-registration-set";
import { sharedSessionStats } from "../components/etcd/etcd-shared-sessions";
import { MAX_TXN_OPS, serviceKeyValues } from "../model/service-keys";
import { requireEtcdBinaries, startEtcdCluster, EtcdTestCluster } from "../test/support/etcd-cluster";
import { BenchService, benchServices } from "./configs";
import { Benchmark, engineDefaultParallelism, errorMessage, figure, Figure, mapLimit, round, timed } from "./support";

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const FIRST_ADDRESS = "127.0.12.1";
const PREFIX = "/services";
/** One-at-a-time puts are sampled at this many services and extrapolated beyond (to keep the run short). */
const ONE_AT_A_TIME_SAMPLE = 1000;
/** The provider commits up to 16 transactions at a time, so the floor is also taken that wide. */
const WIDE_IN_FLIGHT = 16;
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

/** A provider as the engine holds it: serialized by the SDK, loaded back like the dynamic-provider host does. */
async function engineProvider(provider: pulumi.dynamic.ResourceProvider): Promise<pulumi.dynamic.ResourceProvider> {
    const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
    return requireFromString(serialized.text).handler();
}

/** One ServiceRegistrationSet holding every service: check() and create(), as `pulumi up` runs them. */
async function createSetThroughProvider(provider: pulumi.dynamic.ResourceProvider, endpoints: string[], services: BenchService[]): Promise<void> {
    const news = {
        resourceName: "bench-services",
        ownerKey: "organization/coreos-cluster/bench/bench-services",
        connection: { endpoints },
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
    title: "Service-key seeding: ServiceRegistrationSet and ServiceRegistration create paths vs one put at a time vs raw 128-op transactions",
    async run(ctx) {
        try {
            requireEtcdBinaries();
        } catch (err) {
            return { status: `skipped: ${errorMessage(err)}`, figures: [] };
        }
        const { Etcd3: Etcd3Client } = require("etcd3") as typeof import("etcd3");
        const parallel = engineDefaultParallelism();
        const setProvider = await engineProvider(serviceRegistrationSetProvider);
        const perServiceProvider = await engineProvider(serviceRegistrationProvider);
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
                const measure = async (label: string, fn: () => Promise<unknown>) => {
                    await clean(etcd!);
                    ctx.log(`seeding ${count} services: ${label}`);
                    const { ms } = await timed(fn);
                    const found = await countKeys(etcd!, `${PREFIX}/`);
                    if (found !== keys.length) throw new Error(`${label} left ${found} keys under ${PREFIX}/, expected ${keys.length}`);
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
                // The floor and the set alternate over several rounds, and each round's set time is
                // divided by that same round's floor: this machine's load drifts during a run (3x between
                // rounds has been seen), and samples taken minutes apart would compare two machines. The
                // floor is the strategy (1, 8 or 16 in flight) with the lowest median; taking the fastest
                // of the three in each round instead would pick the luckiest sample and bias the floor low.
                const rounds = count <= 1000 ? 15 : 5;
                const samples: Record<string, number[]> = { txnSequentialMs: [], txnParallelMs: [], txnParallelWideMs: [], setCreateMs: [] };
                const revision = async () => Number((await etcd!.get("/").exec()).header.revision);
                // One round first, not counted, so both sides are measured warm (JIT, connections); the
                // set's first create in a process also compiles its bundle: reported as coldSetCreateMs.
                if (count === 1000) {
                    run.coldSetCreateMs = round(await measure("setCreateMs", () => createSetThroughProvider(setProvider, endpoints, services)), 1);
                    await measure("txnParallelWideMs", () => putInTransactions(etcd!, keys, WIDE_IN_FLIGHT));
                }
                for (let r = 0; r < rounds; r++) {
                    samples.txnSequentialMs.push(await measure("txnSequentialMs", () => putInTransactions(etcd!, keys, 1)));
                    samples.txnParallelMs.push(await measure("txnParallelMs", () => putInTransactions(etcd!, keys, parallel)));
                    samples.txnParallelWideMs.push(await measure("txnParallelWideMs", () => putInTransactions(etcd!, keys, WIDE_IN_FLIGHT)));
                    // clean() deletes the previous keys in one revision; each write transaction is one more.
                    const before = await revision();
                    samples.setCreateMs.push(await measure("setCreateMs", () => createSetThroughProvider(setProvider, endpoints, services)));
                    run.setWriteTransactions = (await revision()) - before - 1;
                }
                for (const [label, values] of Object.entries(samples)) run[label] = { median: round(median(values), 1), samples: values.map((v) => round(v, 1)) };
                const strategies: Array<[string, number[]]> = [
                    ["one at a time", samples.txnSequentialMs],
                    [`${parallel} in flight`, samples.txnParallelMs],
                    [`${WIDE_IN_FLIGHT} in flight`, samples.txnParallelWideMs],
                ];
                const [floorHow, floorSamples] = strategies.reduce((best, s) => (median(s[1]) < median(best[1]) ? s : best));
                const roundRatios = samples.setCreateMs.map((setMs, r) => setMs / floorSamples[r]);
                run.setToFloorPerRound = roundRatios.map((v) => round(v, 2));
                const floorMs = median(floorSamples);
                const setMs = median(samples.setCreateMs);
                const setRatio = median(roundRatios);
                run.transactions = Math.ceil(keys.length / MAX_TXN_OPS);
                run.ownerMarkers = await countKeys(etcd!, "/coreos-cluster/owners/");

                const sessionsBefore = sharedSessionStats().opened;
                const writesBefore = coalescedWriteStats();
                const perServiceMs = await measure("perServiceCreateMs", () => createThroughProvider(perServiceProvider, endpoints, services, parallel));
                const writesAfter = coalescedWriteStats();
                run.perServiceSessionsOpened = sharedSessionStats().opened - sessionsBefore;
                run.perServiceBatches = writesAfter.batches - writesBefore.batches;
                run.perServiceServicesPerBatch = round((writesAfter.services - writesBefore.services) / Math.max(1, writesAfter.batches - writesBefore.batches), 1);
                runs.push(run);

                const what = `${count} services (${keys.length} schema keys)`;
                const setWhat = `ServiceRegistrationSet provider check()+create() of one set of ${count} services (how the program registers its config's services), ${what}`;
                const floorBaseline = `floor: raw etcd3 transactions of <= ${MAX_TXN_OPS} puts, ${floorHow} (the fastest of 1, ${parallel} and ${WIDE_IN_FLIGHT} in flight by median over ${rounds} rounds: ${strategies.map(([how, v]) => `${how} ${round(median(v), 1)} ms`).join(", ")})`;
                figures.push(
                    figure({
                        id: `set-vs-floor-${count}`,
                        measured: `${setWhat}; median of ${rounds} rounds`,
                        value: setMs,
                        unit: "ms",
                        baseline: floorBaseline,
                        baselineValue: floorMs,
                        ratio: setRatio,
                        note: `ratio: the median over ${rounds} rounds of each round's set time over that round's floor sample (${roundRatios.map((v) => round(v, 2)).join(", ")})`,
                        target: { text: "provider <= 1.5x floor", pass: setRatio <= 1.5 },
                    }),
                    figure({ id: `set-vs-one-at-a-time-${count}`, measured: setWhat, value: setMs, unit: "ms", baseline: "one etcd put at a time", baselineValue: oneAtATimeMs, note: oneAtATimeNote }),
                    figure({
                        id: `per-service-resources-vs-floor-${count}`,
                        measured: `ServiceRegistration provider check()+create() per service, ${count} resources, ${parallel} at a time (engine default --parallel), ${what}`,
                        value: perServiceMs,
                        unit: "ms",
                        baseline: floorBaseline,
                        baselineValue: floorMs,
                        note: "one resource per service: each create waits for its own commit, so about services / --parallel commits run one after the other; for stacks registering a few services, not for seeding",
                    }),
                );
            }
            const at = (id: string) => figures.find((f) => f.id === id)?.value ?? NaN;
            figures.push(
                figure({
                    id: "set-growth-1000-to-10000",
                    measured: "ServiceRegistrationSet create time for 10,000 services",
                    value: at("set-vs-floor-10000"),
                    unit: "ms",
                    baseline: "the same for 1,000 services x 10 (linear growth)",
                    baselineValue: at("set-vs-floor-1000") * 10,
                }),
            );
            await clean(etcd);
            const f = (id: string) => figures.find((x) => x.id === id);
            const pass = (id: string) => (f(id)?.target?.pass ? "PASS" : "FAIL");
            const summary =
                `One ServiceRegistrationSet create (one read, then <= ${MAX_TXN_OPS}-op transactions, ${runs[0]?.setWriteTransactions} at 1,000 services) is ` +
                `${round(f("set-vs-floor-1000")?.ratio ?? NaN, 2)}x the floor at 1,000 services (target 1.5x: ${pass("set-vs-floor-1000")}) and ` +
                `${round(f("set-vs-floor-10000")?.ratio ?? NaN, 2)}x at 10,000 (${pass("set-vs-floor-10000")}), measured warm; the first create in a fresh process ` +
                `(compiling the provider's bundle, cold JIT) took ${runs[0]?.coldSetCreateMs} ms at 1,000. One put at a time is ` +
                `${round(1 / (f("set-vs-one-at-a-time-1000")?.ratio ?? NaN), 1)}x its time at 1,000. From 1,000 to 10,000 services it took ` +
                `${round(f("set-growth-1000-to-10000")?.ratio ?? NaN, 2)}x the linear extrapolation. One ServiceRegistration per service, ${parallel} creates at a time ` +
                `as the engine runs them, costs ${round(f("per-service-resources-vs-floor-1000")?.ratio ?? NaN, 1)}x the floor at 1,000 ` +
                `(${runs[0]?.perServiceServicesPerBatch} services per merged batch): each create waits for its own commit.`;
            return {
                status: "ok",
                figures,
                details: {
                    summary,
                    path: "provider.check() + provider.create() of the serialized providers (what the engine runs): one call for the set, one call per service for ServiceRegistration",
                    providerWritesPerService: "5 schema keys + 1 owner marker, a service never split across transactions",
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
