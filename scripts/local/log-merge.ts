// `npm run local -- logs`: every machine's log files interleaved in time order, each line prefixed
// with its machine and process. Pure: lines in, lines out (test/scripts/local-logs.test.ts); reading
// and following the files is log-files.ts. The files mix formats: ISO times (the router, the load
// balancer, the supervisors' and spawners' own lines), etcd 3.4's capnslog ("2026-12-06 19:30:01.123456
// I | ..."), zap JSON ("ts":...), and lines with no time at all (sshd -e, HAProxy's notices), which
// keep the time of the line before them in their file, so a file's own order is never changed.

export interface LogSource {
    /** `<machine> <process>`, e.g. `local-etcd-0 etcd`. */
    label: string;
    lines: string[];
    /** The time of lines before the first one that carries its own (ms; default: before everything). */
    carry?: number;
}

export interface LogEntry {
    label: string;
    line: string;
    at: number;
}

const ISO_AT_START = /^(?:---\s+)?(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?/;
const ZAP_TS = /^\{.*?"ts"\s*:\s*"([^"]+)"/;

/** The time a log line carries (ms since the epoch), or undefined. A time without a zone is local time, as capnslog writes it. */
export function timestampOf(line: string): number | undefined {
    const zap = ZAP_TS.exec(line);
    if (zap) {
        const t = Date.parse(zap[1]);
        return Number.isNaN(t) ? undefined : t;
    }
    const m = ISO_AT_START.exec(line);
    if (!m) return undefined;
    // Date.parse takes milliseconds only: etcd writes microseconds.
    const [whole, frac = ""] = m[2].split(".");
    const t = Date.parse(`${m[1]}T${whole}${frac ? `.${frac.slice(0, 3).padEnd(3, "0")}` : ""}${m[3] ?? ""}`);
    return Number.isNaN(t) ? undefined : t;
}

/** Each source's lines with their times (own, or carried from the line before). */
export function entriesOf(source: LogSource): LogEntry[] {
    let at = source.carry ?? Number.NEGATIVE_INFINITY;
    return source.lines.filter((line) => line.length > 0).map((line) => {
        at = timestampOf(line) ?? at;
        return { label: source.label, line, at };
    });
}

/** Every source's entries in time order; equal times keep the sources' order and each file's own order. */
export function mergeEntries(sources: LogSource[]): LogEntry[] {
    const all = sources.flatMap((s, si) => entriesOf(s).map((e, li) => ({ e, si, li })));
    all.sort((a, b) => (a.e.at !== b.e.at ? (a.e.at < b.e.at ? -1 : 1) : a.si !== b.si ? a.si - b.si : a.li - b.li));
    return all.map((x) => x.e);
}

/** `label | line`, labels padded to one width so the lines start in one column. */
export function formatEntries(entries: LogEntry[], width = Math.max(0, ...entries.map((e) => e.label.length))): string[] {
    return entries.map((e) => `${e.label.padEnd(width)} | ${e.line}`);
}

export function mergeLogs(sources: LogSource[]): string[] {
    return formatEntries(mergeEntries(sources), Math.max(0, ...sources.map((s) => s.label.length)));
}

/** Which machines' logs to show: all, or the one named (full name, or its tail such as `worker-1`). */
export function selectMachines<T extends { name: string }>(machines: T[], wanted: string | undefined): T[] {
    if (!wanted) return machines;
    const exact = machines.filter((m) => m.name === wanted);
    if (exact.length > 0) return exact;
    return machines.filter((m) => m.name.endsWith(`-${wanted}`));
}
