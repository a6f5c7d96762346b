// `npm run bench`: runs every benchmark, writes bench/results.json and prints a short table.
//   npm run bench -- --only service-seeding,fleet-push   run some (their results replace those in results.json)
//   npm run bench -- --write-docs                        also rewrite docs/performance.md from the results
//   npm run bench -- --docs-only                         only rewrite docs/performance.md from bench/results.json
// Benchmarks never fail the run on speed: targets are recorded as pass/fail in the results.
import * as fs from "fs";
import * as path from "path";
import { fleetPush } from "./fleet-push";
import { fleetRollingUpdate } from "./fleet-rolling-update";
import { localStack } from "./local-stack";
import { programEvaluation } from "./program-evaluation";
import { routerConvergence, routerHitlessReload } from "./router";
import { keptNotesOf, renderPerformanceDoc, renderTable } from "./report";
import { serviceSeeding } from "./service-seeding";
import { Benchmark, BenchmarkResult, errorMessage, machineInfo } from "./support";
import { userDataSize } from "./user-data-size";

const REPO_ROOT = path.resolve(__dirname, "..");
const RESULTS_FILE = path.join(__dirname, "results.json");
const DOC_FILE = path.join(REPO_ROOT, "docs", "performance.md");

export const BENCHMARKS: Benchmark[] = [userDataSize, programEvaluation, serviceSeeding, fleetPush, fleetRollingUpdate, localStack, routerConvergence, routerHitlessReload];

export interface ResultsFile {
    command: string;
    generatedAt: string;
    machine: ReturnType<typeof machineInfo>;
    benchmarks: BenchmarkResult[];
}

function parseArgs(argv: string[]): { only?: string[]; writeDocs: boolean } {
    if (argv.includes("--docs-only")) return { only: [], writeDocs: true };
    const onlyAt = argv.indexOf("--only");
    const only = onlyAt >= 0 ? argv[onlyAt + 1]?.split(",").map((s) => s.trim()).filter(Boolean) : undefined;
    const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
    if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
    return { only, writeDocs: argv.includes("--write-docs") };
}

function previousResults(): BenchmarkResult[] {
    try {
        return (JSON.parse(fs.readFileSync(RESULTS_FILE, "utf8")) as ResultsFile).benchmarks ?? [];
    } catch {
        return [];
    }
}

async function runOne(bench: Benchmark): Promise<BenchmarkResult> {
    const machine = machineInfo();
    const date = new Date().toISOString();
    const start = Date.now();
    const log = (message: string) => process.stderr.write(`[bench ${bench.name}] ${message}\n`);
    log("start");
    try {
        const outcome = await bench.run({ repoRoot: REPO_ROOT, log });
        log(`${outcome.status} in ${((Date.now() - start) / 1000).toFixed(1)} s`);
        return { name: bench.name, title: bench.title, status: outcome.status, date, machine, durationMs: Date.now() - start, figures: outcome.figures, details: outcome.details ?? {} };
    } catch (err) {
        log(`error: ${errorMessage(err)}`);
        return { name: bench.name, title: bench.title, status: `error: ${errorMessage(err).split("\n")[0]}`, date, machine, durationMs: Date.now() - start, figures: [], details: { error: errorMessage(err) } };
    }
}

function save(results: BenchmarkResult[]): ResultsFile {
    const file: ResultsFile = { command: "npm run bench", generatedAt: new Date().toISOString(), machine: machineInfo(), benchmarks: results };
    fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(file, null, 2)}\n`);
    return file;
}

async function main(): Promise<void> {
    const { only, writeDocs } = parseArgs(process.argv.slice(2));
    const selected = BENCHMARKS.filter((b) => !only || only.includes(b.name));
    // With --only, the other benchmarks keep their last recorded results (each carries its own date).
    const results = only ? previousResults().filter((r) => BENCHMARKS.some((b) => b.name === r.name)) : [];
    const started = Date.now();
    for (const bench of selected) {
        const result = await runOne(bench);
        const at = results.findIndex((r) => r.name === bench.name);
        if (at >= 0) results[at] = result;
        else results.push(result);
        results.sort((a, b) => BENCHMARKS.findIndex((x) => x.name === a.name) - BENCHMARKS.findIndex((x) => x.name === b.name));
        save(results); // after each benchmark, so an interrupted run keeps what it measured
    }
    const file = save(results);
    process.stdout.write(`${renderTable(file)}\n`);
    process.stdout.write(`\nresults: ${path.relative(process.cwd(), RESULTS_FILE)} (total ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    if (writeDocs) {
        const notes = fs.existsSync(DOC_FILE) ? keptNotesOf(fs.readFileSync(DOC_FILE, "utf8")) : "";
        fs.writeFileSync(DOC_FILE, renderPerformanceDoc(file, notes));
        process.stdout.write(`wrote ${path.relative(process.cwd(), DOC_FILE)}\n`);
    }
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`bench: ${errorMessage(err)}\n`);
        process.exit(1);
    },
);
