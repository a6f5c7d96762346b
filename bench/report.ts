// Renders bench/results.json: a short plain-text table for stdout and the Performance section
// (docs/performance.md) the README carries. `ts-node --transpile-only bench/report.ts` prints the
// markdown of the current results without running anything.
import * as fs from "fs";
import * as path from "path";
import type { BenchmarkResult, Figure } from "./support";

interface ResultsLike {
    generatedAt: string;
    /** When the run started; results dated before it were kept from an earlier run (--only). Older files lack it. */
    runStartedAt?: string;
    machine: { cores: number; cpuModel: string; memoryGiB: number; loadAverage1m: number; node: string };
    benchmarks: BenchmarkResult[];
}

function formatValue(value: number, unit: string): string {
    if (!Number.isFinite(value)) return "n/a";
    if (unit === "ms") return value >= 10000 ? `${(value / 1000).toFixed(1)} s` : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`;
    if (unit === "bytes") return value >= 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${value} B`;
    if (unit === "MiB") return `${value.toFixed(1)} MiB`;
    return `${value} ${unit}`.trim();
}

function formatRatio(f: Figure): string {
    if (!Number.isFinite(f.ratio)) return "n/a";
    return f.unit === "bytes" ? `${(f.ratio * 100).toFixed(2)} %` : `${f.ratio.toFixed(2)}x`;
}

function targetText(f: Figure): string {
    return f.target ? `${f.target.pass ? "PASS" : "FAIL"} (${f.target.text})` : "";
}

function pad(rows: string[][]): string {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()).join("\n");
}

/** Whether a result was kept from a run before this file's (never presented as this run's). */
function earlier(results: ResultsLike, b: BenchmarkResult): boolean {
    return !!results.runStartedAt && b.date < results.runStartedAt;
}

const day = (iso: string) => iso.slice(0, 16).replace("T", " ");

/** One line per figure: benchmark, figure id, value, baseline value, ratio, target. */
export function renderTable(results: ResultsLike): string {
    const m = results.machine;
    const rows: string[][] = [["benchmark", "figure", "value", "baseline", "ratio", "target"]];
    for (const b of results.benchmarks) {
        const name = earlier(results, b) ? `${b.name} (earlier run, ${day(b.date)} UTC)` : b.name;
        if (b.status !== "ok") {
            rows.push([name, b.status.length > 90 ? `${b.status.slice(0, 87)}...` : b.status, "", "", "", ""]);
            continue;
        }
        for (const f of b.figures) rows.push([name, f.id, formatValue(f.value, f.unit), formatValue(f.baselineValue, f.unit), formatRatio(f), targetText(f)]);
    }
    return `machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, load ${m.loadAverage1m}, node ${m.node}\n${pad(rows)}`;
}

function mdEscape(text: string): string {
    return text.replace(/\|/g, "\\|");
}

/** The Performance section: how to reproduce, the machine, and every figure with its baseline. */
export const NOTES_MARKER = "<!-- notes below are written by hand and kept by npm run bench -- --write-docs -->";

export function renderPerformanceDoc(results: ResultsLike, keptNotes = ""): string {
    const m = results.machine;
    const lines: string[] = [
        "## Performance",
        "",
        "`npm run bench` measures the product next to a baseline taken in the same run and writes",
        "`bench/results.json` (every figure with what was measured, its baseline, the ratio, the machine and the",
        "date; a benchmark that cannot run says why in its `status`). Ratios matter more than absolute times:",
        "the machines this runs on are shared and noisy. Targets are recorded as PASS/FAIL, never enforced; a",
        "benchmark that errors makes `npm run bench` exit 1 (after the others ran), and its old figures are gone",
        "from the results, not kept. `npm test` runs the seeding benchmark at a tiny size (test/bench/), so a",
        "change that breaks it fails a test.",
        "",
        "```sh",
        "npm run bench                                   # everything, about 11-12 minutes on 2 cores",
        "npm run bench -- --only service-seeding         # one or more (comma-separated) benchmarks",
        "npm run bench -- --write-docs                   # also regenerate this section (docs/performance.md)",
        "BENCH_SEEDING_SERVICES=100 BENCH_SEEDING_ROUNDS=3 npm run bench -- --only service-seeding --results /tmp/smoke.json  # a smoke run",
        "```",
        "",
        "It needs Debian's etcd (`scripts/install-system-deps.sh`) for the seeding benchmark and the Pulumi engine",
        "(`scripts/bootstrap-engine.sh`) for the local-stack benchmark; everything runs on 127.0.12.x, so it does",
        "not collide with a running `local` stack (127.0.10.x).",
        "",
        `Latest figures: ${day(results.generatedAt)} UTC on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB,`,
        `Node ${m.node}, load average ${m.loadAverage1m} when the run ended.`,
        "",
    ];
    const kept = results.benchmarks.filter((b) => earlier(results, b));
    if (kept.length > 0) {
        lines.push(`Not re-measured by that run, kept from earlier runs (each dated in its section): ${kept.map((b) => b.name).join(", ")}.`, "");
    }
    for (const b of results.benchmarks) {
        lines.push(`### ${b.title}`, "");
        if (earlier(results, b)) lines.push(`**From an earlier run (${day(b.date)} UTC), not the latest one.**`, "");
        if (b.status !== "ok") {
            lines.push(`Not measured in this run: \`${mdEscape(b.status)}\`.`, "");
            continue;
        }
        lines.push("| figure | measured | value | baseline | baseline value | ratio | target |", "| --- | --- | --- | --- | --- | --- | --- |");
        for (const f of b.figures) {
            const measured = f.note ? `${f.measured} (${f.note})` : f.measured;
            lines.push(`| ${f.id} | ${mdEscape(measured)} | ${formatValue(f.value, f.unit)} | ${mdEscape(f.baseline)} | ${formatValue(f.baselineValue, f.unit)} | ${formatRatio(f)} | ${targetText(f)} |`);
        }
        const summary = (b.details as { summary?: string }).summary;
        if (summary) lines.push("", summary);
        lines.push("", `Measured ${b.date.slice(0, 16).replace("T", " ")} UTC, load average ${b.machine.loadAverage1m} at its start, took ${(b.durationMs / 1000).toFixed(0)} s.`, "");
    }
    const notes = keptNotes.trim() ? `\n${NOTES_MARKER}\n${keptNotes.trim()}\n` : "";
    return `${lines.join("\n").trimEnd()}\n${notes}`;
}

/** The hand-written notes after NOTES_MARKER in an existing doc ("" when there are none). */
export function keptNotesOf(doc: string): string {
    const at = doc.indexOf(NOTES_MARKER);
    return at < 0 ? "" : doc.slice(at + NOTES_MARKER.length);
}

if (require.main === module) {
    const results = JSON.parse(fs.readFileSync(path.join(__dirname, "results.json"), "utf8")) as ResultsLike;
    const existing = path.join(__dirname, "..", "docs", "performance.md");
    process.stdout.write(renderPerformanceDoc(results, fs.existsSync(existing) ? keptNotesOf(fs.readFileSync(existing, "utf8")) : ""));
}
