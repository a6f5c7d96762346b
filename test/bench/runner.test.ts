// npm run bench's runner (bench/runner.ts) with benchmarks that fail: an error fails the run, never
// leaves the benchmark's older figures in the results, and results kept from an earlier run are
// never presented as this run's.
import { expect } from "chai";
import { exitCodeOf, fromEarlierRun, ResultsFile, runBenchmarks } from "../../bench/runner";
import { renderPerformanceDoc, renderTable } from "../../bench/report";
import { Benchmark, BenchmarkResult, MachineInfo } from "../../bench/support";

const machine: MachineInfo = { cores: 2, cpuModel: "test", memoryBytes: 1, memoryGiB: 1, loadAverage1m: 0, node: "v20", platform: "test" };
const fig = (id: string) => ({ id, measured: "m", value: 1, unit: "ms", baseline: "b", baselineValue: 1, ratio: 1 });
const ok = (name: string): Benchmark => ({ name, title: name, run: async () => ({ status: "ok", figures: [fig(`${name}-fig`)] }) });
const failing = (name: string): Benchmark => ({ name, title: name, run: async () => { throw new Error("COREOS_CLUSTER_SSH_KEY is not set"); } });
const old = (name: string): BenchmarkResult => ({ name, title: name, status: "ok", date: "2020-01-01T00:00:00.000Z", machine, durationMs: 1, figures: [fig(`${name}-old`)], details: {} });

function harness(clock = ["2026-01-01T00:00:00.000Z"]) {
    const saves: ResultsFile[] = [];
    let tick = 0;
    return {
        saves,
        deps: {
            repoRoot: "/nowhere",
            machine: () => machine,
            // Strictly increasing times, as a real clock gives across a run.
            now: () => new Date(Date.parse(clock[0]) + 1000 * tick++),
            log: () => undefined,
            save: (f: ResultsFile) => saves.push(JSON.parse(JSON.stringify(f))),
        },
    };
}

describe("bench runner: errors fail the run, stale figures never look current", () => {
    it("a benchmark that throws becomes an error with no figures, the others still run, and the exit code is 1", async () => {
        const all = [ok("a"), failing("b"), ok("c")];
        const { deps } = harness();
        const file = await runBenchmarks(all, all, [], deps);
        expect(file.benchmarks.map((b) => b.status)).to.deep.equal(["ok", "error: COREOS_CLUSTER_SSH_KEY is not set", "ok"]);
        expect(file.benchmarks[1].figures).to.deep.equal([]);
        expect(exitCodeOf(file)).to.equal(1);
        expect(exitCodeOf(await runBenchmarks([ok("a")], [ok("a")], [], harness().deps))).to.equal(0);
    });

    it("replaces a benchmark's earlier figures when it now errors (--only), and flags the others as from an earlier run", async () => {
        const all = [ok("a"), failing("b")];
        const { deps } = harness();
        const file = await runBenchmarks(all, [all[1]], [old("a"), old("b")], deps);
        const b = file.benchmarks.find((r) => r.name === "b")!;
        expect(b.status).to.match(/^error:/);
        expect(b.figures).to.deep.equal([]);
        expect(exitCodeOf(file)).to.equal(1);
        const a = file.benchmarks.find((r) => r.name === "a")!;
        expect(fromEarlierRun(file, a)).to.equal(true);
        expect(renderTable(file)).to.match(/a \(earlier run, 2020-01-01 00:00 UTC\)/);
        expect(renderPerformanceDoc(file)).to.match(/From an earlier run \(2020-01-01 00:00 UTC\), not the latest one/);
    });

    it("an earlier run's error does not fail a run that did not re-run that benchmark", async () => {
        const erroredBefore = { ...old("b"), status: "error: boom", figures: [] };
        const file = await runBenchmarks([ok("a"), failing("b")], [ok("a")], [erroredBefore], harness().deps);
        expect(exitCodeOf(file)).to.equal(0);
    });

    it("before anything runs, every selected benchmark's entry already says it is not finished (an interrupted run keeps no old figures)", async () => {
        const { deps, saves } = harness();
        await runBenchmarks([ok("a"), ok("b")], [ok("a"), ok("b")], [old("a"), old("b")], deps);
        const first = saves[0];
        expect(first.benchmarks.map((b) => b.status.slice(0, 19))).to.deep.equal(["error: not finished", "error: not finished"]);
        expect(first.benchmarks.flatMap((b) => b.figures)).to.deep.equal([]);
        // After the first benchmark, the second still says so.
        expect(saves[1].benchmarks.map((b) => b.status.slice(0, 19))).to.deep.equal(["ok", "error: not finished"]);
        expect(exitCodeOf(saves[1])).to.equal(1);
    });
});
