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

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * A distribution-free interval for the median of `values` (pure): the k-th smallest and k-th largest
 * sample, with k the largest for which the interval holds the true median with at least `confidence`
 * (the number of samples below the median is Binomial(n, 1/2)). Rounds on this machine are noisy
 * (one round's ratio moves by 0.3x), so a median near a goal says little without it.
 */
export function medianInterval(values: number[], confidence = 0.9): { low: number; high: number; coverage: number } {
    const sorted = [...values].sort((a, b) => a - b);
    const n = sorted.length;
    if (n === 0) throw new Error("medianInterval: no values");
    // P(X <= j) for X ~ Binomial(n, 1/2), j = 0..n.
    const below: number[] = [];
    let term = 0.5 ** n;
    let cumulative = 0;
    for (let j = 0; j <= n; j++) {
        cumulative += term;
        below.push(cumulative);
        term = (term * (n - j)) / (j + 1);
    }
    // The interval [x(k), x(n-k+1)] misses the median with probability 2 * P(X <= k - 1).
    let k = 1;
    while (k + 1 <= Math.ceil(n / 2) && 1 - 2 * below[k] >= confidence) k++;
    return { low: sorted[k - 1], high: sorted[n - k], coverage: Math.max(0, 1 - 2 * below[k - 1]) };
}

/** The confidence asked of every interval around a median ratio in the results. */
export const INTERVAL_CONFIDENCE = 0.9;

/** How far the rounds let a median ratio be trusted: its interval (medianInterval), or that there are too few rounds for one. */
export function medianIntervalText(values: number[], confidence = INTERVAL_CONFIDENCE): string {
    const i = medianInterval(values, confidence);
    return i.coverage >= confidence ? `the median lies in ${round(i.low, 2)}-${round(i.high, 2)} with ${Math.floor(i.coverage * 1000) / 10}% confidence` : `too few rounds for a ${confidence * 100}% interval around the median`;
}
