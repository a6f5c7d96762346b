// How `npm run bench` runs benchmarks and keeps results.json honest, apart from the CLI (run.ts) so
// a test can drive it with benchmarks that fail (test/bench/runner.test.ts):
// - a benchmark that throws becomes `error: ...` with no figures, the others still run, and the
//   run's exit code is 1;
// - before anything runs, every selected benchmark's entry becomes an error saying the run has not
//   finished it: a run killed half-way leaves no older figures looking like this run's;
// - results kept from an earlier run (--only) carry that run's date and are flagged as such.
import { Benchmark, BenchmarkResult, errorMessage, MachineInfo } from "./support";

export interface ResultsFile {
    command: string;
    /** When this file was last written. */
    generatedAt: string;
    /** When the run that wrote it started: a result dated before it comes from an earlier run. */
    runStartedAt: string;
    machine: MachineInfo;
    benchmarks: BenchmarkResult[];
}

export interface RunnerDeps {
    machine(): MachineInfo;
    now(): Date;
    log(bench: string, message: string): void;
    /** Writes the file (after the placeholders, then after each benchmark). */
    save(file: ResultsFile): void;
    repoRoot: string;
}

export function isError(result: BenchmarkResult): boolean {
    return result.status.startsWith("error");
}

/** 1 when any benchmark this run ran ended in an error, else 0. */
export function exitCodeOf(file: ResultsFile): number {
    return file.benchmarks.some((b) => !fromEarlierRun(file, b) && isError(b)) ? 1 : 0;
}

/** Whether a result was kept from a run before the one that wrote the file. */
export function fromEarlierRun(file: Pick<ResultsFile, "runStartedAt">, result: BenchmarkResult): boolean {
    return !!file.runStartedAt && result.date < file.runStartedAt;
}

/** What a selected benchmark's entry says until it has run. */
export function placeholder(bench: Benchmark, machine: MachineInfo, startedAt: string): BenchmarkResult {
    return { name: bench.name, title: bench.title, status: `error: not finished (the run started ${startedAt} ended before it did)`, date: startedAt, machine, durationMs: 0, figures: [], details: {} };
}

async function runOne(bench: Benchmark, deps: RunnerDeps): Promise<BenchmarkResult> {
    const machine = deps.machine();
    const date = deps.now().toISOString();
    const start = Date.now();
    const log = (message: string) => deps.log(bench.name, message);
    log("start");
    try {
        const outcome = await bench.run({ repoRoot: deps.repoRoot, log });
        log(`${outcome.status} in ${((Date.now() - start) / 1000).toFixed(1)} s`);
        return { name: bench.name, title: bench.title, status: outcome.status, date, machine, durationMs: Date.now() - start, figures: outcome.figures, details: outcome.details ?? {} };
    } catch (err) {
        log(`error: ${errorMessage(err)}`);
        return { name: bench.name, title: bench.title, status: `error: ${errorMessage(err).split("\n")[0]}`, date, machine, durationMs: Date.now() - start, figures: [], details: { error: errorMessage(err) } };
    }
}

/**
 * Runs `selected` in order. `kept` are earlier results of the other benchmarks of `all` (--only);
 * a full run passes none. Returns the file as last saved.
 */
export async function runBenchmarks(all: Benchmark[], selected: Benchmark[], kept: BenchmarkResult[], deps: RunnerDeps): Promise<ResultsFile> {
    const order = (r: BenchmarkResult) => all.findIndex((b) => b.name === r.name);
    const runStartedAt = deps.now().toISOString();
    const results = new Map<string, BenchmarkResult>();
    for (const r of kept) if (all.some((b) => b.name === r.name) && !selected.some((b) => b.name === r.name)) results.set(r.name, r);
    for (const bench of selected) results.set(bench.name, placeholder(bench, deps.machine(), runStartedAt));
    const file = (): ResultsFile => ({
        command: "npm run bench",
        generatedAt: deps.now().toISOString(),
        runStartedAt,
        machine: deps.machine(),
        benchmarks: [...results.values()].sort((a, b) => order(a) - order(b)),
    });
    deps.save(file());
    for (const bench of selected) {
        results.set(bench.name, await runOne(bench, deps));
        deps.save(file()); // after each benchmark, so an interrupted run keeps what it measured
    }
    const last = file();
    deps.save(last);
    return last;
}
