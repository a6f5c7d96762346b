// Shared shapes and helpers of the benchmarks: every figure is a measurement next to a baseline
// taken in the same run (absolute times on shared machines are noisy; ratios travel better).
import * as os from "os";

export interface MachineInfo {
    cores: number;
    cpuModel: string;
    memoryBytes: number;
    memoryGiB: number;
    /** 1-minute load average when the benchmark started: a loaded machine explains slow figures. */
    loadAverage1m: number;
    node: string;
    platform: string;
}

export interface Target {
    /** e.g. "provider <= 1.5x floor" */
    text: string;
    pass: boolean;
}

/** One measured figure and the baseline it is compared with. */
export interface Figure {
    id: string;
    measured: string;
    value: number;
    unit: string;
    baseline: string;
    baselineValue: number;
    /** value / baselineValue */
    ratio: number;
    target?: Target;
    /** How the figure was obtained when it is not a plain single measurement (sampling, extrapolation). */
    note?: string;
}

export interface BenchmarkResult {
    name: string;
    title: string;
    /** `ok`, `skipped: <reason>` (could not run here) or `error: <message>` (crashed while running). */
    status: string;
    date: string;
    machine: MachineInfo;
    durationMs: number;
    figures: Figure[];
    details: Record<string, unknown>;
}

/** What a benchmark module returns; run.ts adds name, date, machine and duration. */
export interface BenchmarkOutcome {
    status: "ok" | `skipped: ${string}`;
    figures: Figure[];
    details?: Record<string, unknown>;
}

export interface Benchmark {
    name: string;
    title: string;
    run(ctx: BenchContext): Promise<BenchmarkOutcome>;
}

export interface BenchContext {
    repoRoot: string;
    /** Prints a progress line on stderr (stdout carries the final table). */
    log(message: string): void;
}

export function machineInfo(): MachineInfo {
    const cpus = os.cpus();
    return {
        cores: cpus.length,
        cpuModel: cpus[0]?.model ?? "unknown",
        memoryBytes: os.totalmem(),
        memoryGiB: round(os.totalmem() / 2 ** 30, 1),
        loadAverage1m: round(os.loadavg()[0], 2),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
    };
}

/** The engine's default `--parallel` (pulumi v3.248 cmd/pulumi/operations/up.go: 4 x GOMAXPROCS, i.e. 4 x cores). */
export function engineDefaultParallelism(): number {
    const fromEnv = Number(process.env.PULUMI_PARALLEL);
    return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 4 * os.cpus().length;
}

export function round(value: number, digits = 2): number {
    const f = 10 ** digits;
    return Math.round(value * f) / f;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
    const start = process.hrtime.bigint();
    const result = await fn();
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

/** Runs `fn` over `items` with at most `limit` in flight, like an engine running independent resource operations. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    return results;
}

/** A figure; its ratio is value / baseline unless given (e.g. a median of paired per-round ratios, said in its note). */
export function figure(f: Omit<Figure, "ratio" | "value" | "baselineValue"> & { value: number; baselineValue: number; ratio?: number; digits?: number }): Figure {
    const digits = f.digits ?? 1;
    const { digits: _ignored, ratio, ...rest } = f;
    return { ...rest, value: round(f.value, digits), baselineValue: round(f.baselineValue, digits), ratio: round(ratio ?? f.value / f.baselineValue, 3) };
}

export function errorMessage(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
