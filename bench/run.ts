// `npm run bench`: runs every benchmark, writes bench/results.json and prints a short table.
//   npm run bench -- --only service-seeding,fleet-push   run some (their results replace those in results.json)
//   npm run bench -- --write-docs                        also rewrite docs/performance.md from the results
//   npm run bench -- --docs-only                         only rewrite docs/performance.md from bench/results.json
//   npm run bench -- --results /tmp/smoke.json            write results elsewhere (smoke runs; bench/results.json untouched)
// Benchmarks never fail the run on speed: targets are recorded as pass/fail in the results. A
// benchmark that errors fails the run (exit code 1) after the others have run (bench/runner.ts).
import * as fs from "fs";
import * as path from "path";
import { fleetPush } from "./fleet-push";
import { fleetRollingUpdate } from "./fleet-rolling-update";
import { localStack } from "./local-stack";
import { programEvaluation } from "./program-evaluation";
import { routerConvergence, routerHitlessReload, routerServiceConvergence } from "./router";
import { keptNotesOf, renderPerformanceDoc, renderTable } from "./report";
import { serviceSeeding } from "./service-seeding";
import { exitCodeOf, fromEarlierRun, isError, ResultsFile, runBenchmarks } from "./runner";
import { Benchmark, errorMessage, machineInfo } from "./support";
import { userDataSize } from "./user-data-size";

const REPO_ROOT = path.resolve(__dirname, "..");
const RESULTS_FILE = path.join(__dirname, "results.json");
const DOC_FILE = path.join(REPO_ROOT, "docs", "performance.md");

export const BENCHMARKS: Benchmark[] = [userDataSize, programEvaluation, serviceSeeding, fleetPush, fleetRollingUpdate, localStack, routerConvergence, routerServiceConvergence, routerHitlessReload];

export type { ResultsFile } from "./runner";

interface Args {
    only?: string[];
    writeDocs: boolean;
    docsOnly: boolean;
    /** Where results go (default bench/results.json); a smoke run writes elsewhere. */
    resultsFile: string;
}

function parseArgs(argv: string[]): Args {
    const valueOf = (flag: string) => {
        const at = argv.indexOf(flag);
        if (at < 0) return undefined;
        const value = argv[at + 1];
        if (value === undefined || value.startsWith("--")) throw new Error(`${flag} needs a value`);
        return value;
    };
    const resultsFile = path.resolve(valueOf("--results") ?? RESULTS_FILE);
    if (argv.includes("--docs-only")) return { only: [], writeDocs: true, docsOnly: true, resultsFile };
    const only = valueOf("--only")?.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = only?.filter((n) => !BENCHMARKS.some((b) => b.name === n)) ?? [];
    if (unknown.length > 0) throw new Error(`unknown benchmark(s) ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
    return { only, writeDocs: argv.includes("--write-docs"), docsOnly: false, resultsFile };
}

function readResults(file: string): ResultsFile | undefined {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as ResultsFile;
    } catch {
        return undefined;
    }
}

function writeDocs(file: ResultsFile): void {
    const notes = fs.existsSync(DOC_FILE) ? keptNotesOf(fs.readFileSync(DOC_FILE, "utf8")) : "";
    fs.writeFileSync(DOC_FILE, renderPerformanceDoc(file, notes));
    process.stdout.write(`wrote ${path.relative(process.cwd(), DOC_FILE)}\n`);
}

/** Returns the exit code: 1 when any benchmark of this run errored. */
async function main(): Promise<number> {
    const args = parseArgs(process.argv.slice(2));
    if (args.docsOnly) {
        const file = readResults(args.resultsFile);
        if (!file) throw new Error(`no results to render in ${args.resultsFile}`);
        writeDocs(file);
        return 0;
    }
    const selected = BENCHMARKS.filter((b) => !args.only || args.only.includes(b.name));
    // With --only, the other benchmarks keep their last recorded results (flagged as from an earlier run).
    const kept = args.only ? (readResults(args.resultsFile)?.benchmarks ?? []) : [];
    const started = Date.now();
    const file = await runBenchmarks(BENCHMARKS, selected, kept, {
        repoRoot: REPO_ROOT,
        machine: machineInfo,
        now: () => new Date(),
        log: (name, message) => process.stderr.write(`[bench ${name}] ${message}\n`),
        save: (f) => fs.writeFileSync(args.resultsFile, `${JSON.stringify(f, null, 2)}\n`),
    });
    process.stdout.write(`${renderTable(file)}\n`);
    process.stdout.write(`\nresults: ${path.relative(process.cwd(), args.resultsFile)} (total ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    if (args.writeDocs) writeDocs(file);
    const code = exitCodeOf(file);
    if (code !== 0) process.stderr.write(`bench: ${file.benchmarks.filter((b) => !fromEarlierRun(file, b) && isError(b)).map((b) => b.name).join(", ")} errored (see their status)\n`);
    return code;
}

main().then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`bench: ${errorMessage(err)}\n`);
        process.exit(1);
    },
);
