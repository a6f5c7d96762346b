// Fleet push: 200 units through the fleet API conformance server (test/support: it enforces
// shared/reference/fleet-api.md and simulates scheduling; it is not fleetd, which cannot run here).
// The FleetUnit provider's create pushes a unit and then polls /state until fleet reports the
// desired state. The engine runs independent creates in parallel (default --parallel = 4 x cores),
// which is the provider's actual concurrency; the baseline is the same creates one after another.
import { fleetUnitProvider } from "../components/fleet/fleet-unit";
import { FleetConformanceServer } from "../test/support/fleet-conformance-server";
import { fleetUnitEntries } from "./configs";
import { Benchmark, engineDefaultParallelism, figure, Figure, mapLimit, round, timed } from "./support";

const HOST = "127.0.12.100";
const UNITS = 200;
/** With the provider's default 1 s poll, the sequential baseline is sampled on this many units and extrapolated. */
const SEQUENTIAL_SAMPLE = 16;
/** A short poll shows the cost of the API calls themselves, without waiting out poll intervals. */
const FAST_POLL_MS = 50;

interface PushRun {
    units: number;
    inFlight: number;
    pollIntervalMs?: number;
    ms: number;
    requests: number;
}

async function push(units: Record<string, unknown>[], inFlight: number, pollIntervalMs: number | undefined): Promise<PushRun> {
    const server = await FleetConformanceServer.start({ host: HOST });
    const provider = fleetUnitProvider;
    try {
        const { ms } = await timed(() =>
            mapLimit(units, inFlight, async (unit) => {
                const news = { endpoint: server.endpoint, ...unit, ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }) };
                const checked = await provider.check({}, news);
                if ((checked.failures ?? []).length > 0) throw new Error(`check refused ${String(unit.name)}: ${checked.failures!.map((f) => f.reason).join("; ")}`);
                await provider.create(checked.inputs);
            }),
        );
        const notLaunched = units.map((u) => String(u.name)).filter((n) => server.unit(n)?.currentState !== "launched");
        if (notLaunched.length > 0) throw new Error(`${notLaunched.length} units not launched after create, e.g. ${notLaunched[0]}`);
        return { units: units.length, inFlight, pollIntervalMs, ms: round(ms, 1), requests: server.apiRequests().length };
    } finally {
        await server.close();
    }
}

export const fleetPush: Benchmark = {
    name: "fleet-push",
    title: "Fleet push: 200 units, sequential vs the engine's parallel creates",
    async run(ctx) {
        const parallel = engineDefaultParallelism();
        const units = fleetUnitEntries(UNITS);
        const runs: PushRun[] = [];
        const figures: Figure[] = [];

        ctx.log(`default poll: ${UNITS} units, ${parallel} in flight`);
        const parallelDefault = await push(units, parallel, undefined);
        ctx.log(`default poll: ${SEQUENTIAL_SAMPLE} units one at a time (sample)`);
        const sequentialSample = await push(units.slice(0, SEQUENTIAL_SAMPLE), 1, undefined);
        runs.push(parallelDefault, sequentialSample);
        const sequentialEstimate = (sequentialSample.ms / SEQUENTIAL_SAMPLE) * UNITS;
        figures.push(
            figure({
                id: "default-poll",
                measured: `${UNITS} FleetUnit creates, ${parallel} at a time (engine default --parallel), provider's default 1 s poll of /state`,
                value: parallelDefault.ms,
                unit: "ms",
                baseline: `the same creates one at a time`,
                baselineValue: sequentialEstimate,
                note: `sequential baseline measured on ${SEQUENTIAL_SAMPLE} units (${sequentialSample.ms} ms) and extrapolated to ${UNITS}`,
            }),
        );

        ctx.log(`${FAST_POLL_MS} ms poll: ${UNITS} units, ${parallel} in flight`);
        const parallelFast = await push(units, parallel, FAST_POLL_MS);
        ctx.log(`${FAST_POLL_MS} ms poll: ${UNITS} units one at a time`);
        const sequentialFast = await push(units, 1, FAST_POLL_MS);
        runs.push(parallelFast, sequentialFast);
        figures.push(
            figure({
                id: "fast-poll",
                measured: `${UNITS} FleetUnit creates, ${parallel} at a time, pollIntervalMs ${FAST_POLL_MS}`,
                value: parallelFast.ms,
                unit: "ms",
                baseline: `the same ${UNITS} creates one at a time`,
                baselineValue: sequentialFast.ms,
            }),
        );
        const speedup = (f: Figure) => round(f.baselineValue / f.value, 1);
        const summary =
            `Each create waits for fleet to report the unit launched, so time is mostly waiting: with the provider's default 1 s poll the engine's ` +
            `${parallel} parallel creates push ${UNITS} units ${speedup(figures[0])}x faster than one at a time; with a ${FAST_POLL_MS} ms poll ${speedup(figures[1])}x.`;
        return {
            status: "ok",
            figures,
            details: {
                summary,
                server: "test/support/fleet-conformance-server.ts (fleet API v1 rules, 3 simulated machines, scheduling tick 20 ms): not fleetd",
                perCreate: "GET unit, PUT unit, then GET /state until launched",
                runs,
            },
        };
    },
};
