// Program evaluation: index.ts under the SDK's mocks (setMocks + setAllConfig) for dev, prod and a
// synthetic large stack, each in its own process so heap is measured cleanly. Baseline: the SDK
// floor, the same number of empty resources registered under the same mocks in the same way.
// Growth: the dev stack with 100 vs 1,000 services (linear growth would be 10x).
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { devWithServices, largeStack, shippedStack } from "./configs";
import { Benchmark, figure, Figure, median, medianIntervalText, round } from "./support";
import { newOpenSshPrivateKey } from "../model/ssh-key";

interface ChildResult {
    evaluationMs: number;
    heapAtStart: number;
    /** Used heap after the evaluation and a full GC: what the program keeps alive. */
    retainedHeap: number;
    sampledPeakHeap: number;
    customResources: number;
    componentResources: number;
}

interface Evaluation extends ChildResult {
    /** Process start to exit: Node start, ts-node transpiling the project, the evaluation, exit. */
    processMs: number;
    /** Largest used heap seen in the measured window: GC trace (heap before each collection) and sampling. */
    peakHeap: number;
}

const MiB = 2 ** 20;
const SMALL_POINT_TRIES = 2;
/** "Close to linear": at most this much above 10x the 100-service time. */
const GROWTH_TOLERANCE = 1.2;
const GC_LINE = /(?:Scavenge|Mark-Compact|Mark-sweep|Mark-Compact \(reduce\)|Minor Mark-Sweep)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/;

/**
 * The stacks take their tunnel key from the environment (sshTunnel.privateKeyEnv), as CI's deploy job
 * hands it: a throwaway key per run, unless the caller's environment already holds one.
 */
function throwawayTunnelKeys(): Record<string, string> {
    const key = () => newOpenSshPrivateKey();
    const out: Record<string, string> = {};
    for (const name of ["COREOS_CLUSTER_SSH_KEY", "COREOS_LOCAL_SSH_KEY"]) if (!process.env[name]) out[name] = key();
    return out;
}

function evaluate(repoRoot: string, input: Record<string, unknown>): Promise<Evaluation> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-program-"));
    const inputFile = path.join(dir, "input.json");
    const resultFile = path.join(dir, "result.json");
    fs.writeFileSync(inputFile, JSON.stringify({ ...input, resultFile }));
    const started = process.hrtime.bigint();
    return new Promise<Evaluation>((resolve, reject) => {
        const child = spawn(
            process.execPath,
            ["--expose-gc", "--trace-gc", "-r", "ts-node/register/transpile-only", path.join(__dirname, "program-evaluation-child.ts"), inputFile],
            { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...throwawayTunnelKeys(), PULUMI_NODEJS_TRANSPILE_ONLY: "true" } },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
        child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
        child.on("error", reject);
        child.on("exit", (code) => {
            const processMs = Number(process.hrtime.bigint() - started) / 1e6;
            try {
                if (code !== 0) throw new Error(`program evaluation (${String(input.stack)}, ${String(input.mode)}) exited with ${code}: ${stderr.trim().split("\n").slice(-8).join("\n")}`);
                const result = JSON.parse(fs.readFileSync(resultFile, "utf8")) as ChildResult;
                const window = stdout.slice(stdout.indexOf("BENCH-START"), stdout.indexOf("BENCH-END"));
                const gcPeaks = window.split("\n").map((line) => GC_LINE.exec(line)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]) * 1e6);
                resolve({ ...result, processMs, peakHeap: Math.max(result.sampledPeakHeap, ...gcPeaks) });
            } catch (err) {
                reject(err);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
}

/**
 * Paired rounds per stack (BENCH_EVAL_ROUNDS): one evaluation is a few hundred ms on a shared machine,
 * and one round's ratio moves by 0.3x there; 9 rounds give the median a 96% interval of ranks 2 to 8.
 */
export function evaluationRounds(env: Record<string, string | undefined> = process.env): number {
    const n = Number(env.BENCH_EVAL_ROUNDS ?? 9);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_EVAL_ROUNDS must be a positive integer, got "${env.BENCH_EVAL_ROUNDS}"`);
    return n;
}

/** The sample with the median evaluation time (an odd count gives the middle one, an even one the upper middle). */
function medianOf(samples: Evaluation[], by: (e: Evaluation) => number): Evaluation {
    return [...samples].sort((a, b) => by(a) - by(b))[Math.floor(samples.length / 2)];
}

/**
 * The program's evaluation and the SDK floor with the same resource counts (the stack itself is in
 * both), over paired rounds, the order alternating between rounds so neither side always goes first.
 * Each ratio is the median of the rounds' own ratios (a load change within a round hits both sides);
 * the values shown are each side's median.
 */
async function withFloor(repoRoot: string, stack: string, config: Record<string, unknown>, rounds: number) {
    const programs: Evaluation[] = [];
    const floors: Evaluation[] = [];
    const runProgram = () => evaluate(repoRoot, { mode: "program", stack, config });
    for (let r = 0; r < rounds; r++) {
        // The first round runs the program first: the floor needs its resource counts.
        const programFirst = r % 2 === 0 || programs.length === 0;
        const counts = programs[0];
        const runFloor = (p: Evaluation) => evaluate(repoRoot, { mode: "floor", stack, customs: p.customResources, components: p.componentResources - 1 });
        let program: Evaluation;
        let floor: Evaluation;
        if (programFirst) {
            program = await runProgram();
            floor = await runFloor(program);
        } else {
            floor = await runFloor(counts);
            program = await runProgram();
        }
        if (floor.customResources !== program.customResources || floor.componentResources !== program.componentResources) {
            throw new Error(`floor registered ${floor.customResources}+${floor.componentResources} resources, the program ${program.customResources}+${program.componentResources}`);
        }
        programs.push(program);
        floors.push(floor);
    }
    const time = (e: Evaluation) => e.evaluationMs;
    const heap = (e: Evaluation) => e.peakHeap;
    return {
        program: medianOf(programs, time),
        floor: medianOf(floors, time),
        programMs: programs.map(time),
        floorMs: floors.map(time),
        programHeap: heap(medianOf(programs, heap)),
        floorHeap: heap(medianOf(floors, heap)),
        timeRatios: programs.map((p, i) => time(p) / time(floors[i])),
        timeRatio: median(programs.map((p, i) => time(p) / time(floors[i]))),
        heapRatio: median(programs.map((p, i) => heap(p) / heap(floors[i]))),
    };
}

function describe(e: Evaluation) {
    return {
        evaluationMs: round(e.evaluationMs, 1),
        processMs: round(e.processMs, 0),
        resources: e.customResources + e.componentResources,
        customResources: e.customResources,
        componentResources: e.componentResources,
        heapAtStartMiB: round(e.heapAtStart / MiB, 1),
        peakHeapMiB: round(e.peakHeap / MiB, 1),
        retainedHeapMiB: round(e.retainedHeap / MiB, 1),
    };
}

export const programEvaluation: Benchmark = {
    name: "program-evaluation",
    title: "Program evaluation under the SDK's mocks: wall time and peak heap",
    async run(ctx) {
        const figures: Figure[] = [];
        const runs: Record<string, unknown> = {};
        const stacks: Array<[string, Record<string, unknown>, string]> = [
            ["dev", shippedStack(ctx.repoRoot, "dev"), "Pulumi.dev.yaml"],
            ["prod", shippedStack(ctx.repoRoot, "prod"), "Pulumi.prod.yaml"],
            ["large", largeStack(), "7 members, 500-worker group, 1,000 services, 200 fleet units"],
        ];
        const rounds = evaluationRounds();
        for (const [stack, config, what] of stacks) {
            ctx.log(`${stack}: program and SDK floor, ${rounds} paired rounds`);
            const m = await withFloor(ctx.repoRoot, stack, config, rounds);
            const { program, floor } = m;
            runs[stack] = { program: describe(program), floor: describe(floor), programMs: m.programMs.map((v) => round(v, 0)), floorMs: m.floorMs.map((v) => round(v, 0)) };
            const n = program.customResources + program.componentResources;
            const timeGoal = stack === "large" ? 3 : 2;
            const { timeRatio, heapRatio } = m;
            figures.push(
                figure({
                    id: `${stack}-time`,
                    measured: `${stack} (${what}): evaluation wall time, ${n} resources registered (project modules preloaded); median of ${rounds} paired rounds (ratio: the median of the rounds' own ratios)`,
                    value: program.evaluationMs,
                    unit: "ms",
                    baseline: `SDK floor: ${n} single-input resources under the same mocks (median of the same rounds)`,
                    baselineValue: floor.evaluationMs,
                    ratio: timeRatio,
                    target: { text: `program <= ${timeGoal}x SDK floor`, pass: timeRatio <= timeGoal },
                    note: `ratio: the median of each round's ratio (${m.timeRatios.map((r) => round(r, 2)).join(", ")}); ${medianIntervalText(m.timeRatios)}`,
                }),
                figure({
                    id: `${stack}-peak-heap`,
                    measured: `${stack}: peak used heap during evaluation (median of ${rounds})`,
                    value: m.programHeap / MiB,
                    unit: "MiB",
                    baseline: "SDK floor's peak used heap (median of the same rounds)",
                    baselineValue: m.floorHeap / MiB,
                    ratio: heapRatio,
                    target: { text: "peak heap <= 2x the floor's", pass: heapRatio <= 2 },
                }),
            );
        }

        // The short 100-service run is the one a slow moment on a shared machine distorts most: best of
        // two. Taking the faster run only there can only raise time(1000)/time(100), never flatter it.
        const growth: Record<number, Evaluation> = {};
        for (const services of [100, 1000]) {
            const tries: Evaluation[] = [];
            const count = services === 100 ? SMALL_POINT_TRIES : 1;
            for (let attempt = 1; attempt <= count; attempt++) {
                ctx.log(`growth: dev with ${services} services (${attempt}/${count})`);
                tries.push(await evaluate(ctx.repoRoot, { mode: "program", stack: "dev", config: devWithServices(ctx.repoRoot, services) }));
            }
            growth[services] = tries.reduce((a, b) => (b.evaluationMs < a.evaluationMs ? b : a));
            runs[`dev+${services}services`] = { ...describe(growth[services]), triesMs: tries.map((t) => round(t.evaluationMs, 0)) };
        }
        const [small, big] = [growth[100], growth[1000]];
        const perResource = (e: Evaluation) => e.evaluationMs / (e.customResources + e.componentResources);
        figures.push(
            figure({
                id: "growth-100-to-1000-services",
                measured: "evaluation time of dev with 1,000 services",
                value: big.evaluationMs,
                unit: "ms",
                baseline: `10 x evaluation time of dev with 100 services (best of ${SMALL_POINT_TRIES}; linear growth)`,
                baselineValue: 10 * small.evaluationMs,
                target: { text: `close to linear: at most ${GROWTH_TOLERANCE}x the linear extrapolation`, pass: big.evaluationMs <= GROWTH_TOLERANCE * 10 * small.evaluationMs },
                note: `time(1000)/time(100) = ${round(big.evaluationMs / small.evaluationMs, 2)} (linear: 10); per registered resource ${round(perResource(small), 2)} ms -> ${round(perResource(big), 2)} ms; peak heap ${round(small.peakHeap / MiB, 0)} -> ${round(big.peakHeap / MiB, 0)} MiB`,
            }),
        );
        const at = (id: string) => figures.find((f) => f.id === id)!;
        const summary =
            `Against the SDK floor (the same number of resources with a single input each), the program takes ${round(at("dev-time").ratio, 1)}x (dev), ${round(at("prod-time").ratio, 1)}x (prod) and ` +
            `${round(at("large-time").ratio, 1)}x (large, ${round(at("large-time").value / 1000, 1)} s, peak heap ${round(at("large-peak-heap").value, 0)} MiB, ` +
            `${round(big.retainedHeap / MiB, 0)} MiB retained for dev with 1,000 services). From 100 to 1,000 services evaluation took ` +
            `${round(big.evaluationMs / small.evaluationMs, 2)}x (linear: 10x) for ${round((big.customResources + big.componentResources) / (small.customResources + small.componentResources), 2)}x the resources.`;
        return {
            status: "ok",
            figures,
            details: {
                summary,
                how: "paired rounds (program, then floor), each evaluation in a fresh node process (--expose-gc --trace-gc, ts-node transpile-only); the program's imports are loaded before the clock starts; timed from runInPulumiStack until every registration RPC finished; peak heap = largest used heap in the window (GC trace before each collection, and 2 ms sampling)",
                mocks: "test/support/mocks.ts GceMocks outputs, nothing recorded",
                runs,
            },
        };
    },
};
