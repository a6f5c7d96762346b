// Fleet rolling update: a FleetService of 10 instances rolled to a new image against the fleet API
// conformance server (test/support: fleetd's observed behaviour, 3 simulated machines, a 20 ms
// reconcile tick standing in for fleet's ~2 s; it is not fleetd, which cannot run here). Measures
// the update's time and its fleet API calls. The floors: time, the ticks fleet needs (instances
// inactive -> loaded -> launched, then their sidekicks the same: 4 ticks); calls, the writes a roll
// cannot avoid (1 template PUT, 10 instance PUTs, 10 sidekick PUTs, 20 DELETEs) plus its 2 reads.
import { fleetServiceProvider } from "../components/fleet/fleet-service";
import { FleetConformanceServer } from "../test/support/fleet-conformance-server";
import { Benchmark, figure, Figure, round, timed } from "./support";

const HOST = "127.0.6.40";
const INSTANCES = 10;
const TICK_MS = 20;
const ROUNDS = 3;
const MIN_CALLS = 1 + 2 * INSTANCES + 2 * INSTANCES + 2;

interface RollRun { pollIntervalMs?: number; ms: number; calls: number; byKind: Record<string, number> }

async function roll(pollIntervalMs: number | undefined): Promise<RollRun> {
    const server = await FleetConformanceServer.start({ host: HOST, tickMs: TICK_MS });
    const provider = fleetServiceProvider;
    try {
        const news = (image: string) => ({
            endpoint: server.endpoint, service: "web", image, containerPort: 80, count: INSTANCES, etcdEndpoints: "http://10.0.0.2:2379",
            ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
        });
        const first = await provider.check({}, news("nginx:1.27"));
        const created = await provider.create(first.inputs);
        const next = await provider.check({}, news("nginx:1.28"));
        if ((next.failures ?? []).length > 0) throw new Error(JSON.stringify(next.failures));
        const from = server.requests.length;
        const { ms, result } = await timed(() => provider.update(created.id, created.outs, next.inputs));
        const expected = Array.from({ length: INSTANCES }, (_, i) => String(INSTANCES + 1 + i));
        if (JSON.stringify(result.outs.instances) !== JSON.stringify(expected)) throw new Error(`rolled to ${JSON.stringify(result.outs.instances)}`);
        const calls = server.requests.slice(from);
        const byKind: Record<string, number> = {};
        for (const r of calls) {
            const kind = `${r.method} ${r.path.startsWith("/fleet/v1/state") ? "/state" : r.path.startsWith("/fleet/v1/units/") ? "/units/<name>" : r.path.split("?")[0].replace("/fleet/v1", "")}`;
            byKind[kind] = (byKind[kind] ?? 0) + 1;
        }
        return { pollIntervalMs, ms: round(ms, 1), calls: calls.length, byKind };
    } finally {
        await server.close();
    }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const fleetRollingUpdate: Benchmark = {
    name: "fleet-rolling-update",
    title: `Fleet rolling update: a FleetService of ${INSTANCES} instances rolled to a new image`,
    async run(ctx) {
        const runs: RollRun[] = [];
        const figures: Figure[] = [];
        const floorMs = 4 * TICK_MS;
        for (const [id, poll] of [["default-poll", undefined], ["fast-poll", 50]] as const) {
            const these: RollRun[] = [];
            for (let i = 0; i < ROUNDS; i++) {
                ctx.log(`${id}: round ${i + 1}/${ROUNDS}`);
                these.push(await roll(poll));
            }
            runs.push(...these);
            const pollText = poll === undefined ? "the provider's default 1 s poll" : `pollIntervalMs ${poll}`;
            figures.push(figure({
                id: `${id}-time`, measured: `update of ${INSTANCES} instances, ${pollText} (median of ${ROUNDS})`, value: median(these.map((r) => r.ms)), unit: "ms",
                baseline: `fleet's own floor: 4 reconcile ticks of ${TICK_MS} ms`, baselineValue: floorMs,
            }));
            figures.push(figure({
                id: `${id}-calls`, measured: `fleet API calls of that update, ${pollText} (median of ${ROUNDS})`, value: median(these.map((r) => r.calls)), unit: "calls",
                baseline: "the writes a roll cannot avoid plus its 2 reads", baselineValue: MIN_CALLS, digits: 0,
            }));
        }
        return {
            status: "ok",
            figures,
            details: {
                summary: `Time is waiting on fleet: each wait polls /state and confirms with GET /units/<name>; the calls above the floor are those polls (${INSTANCES} instance waits, then ${INSTANCES} sidekick waits, in parallel).`,
                server: `test/support/fleet-conformance-server.ts, 3 simulated machines, reconcile tick ${TICK_MS} ms: not fleetd`,
                runs,
            },
        };
    },
};
