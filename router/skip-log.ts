// What the log says about skipped services: a line when a service starts being skipped or its
// reasons change, and when it stops; never one per re-read. Pure: the watcher keeps the last map.
import { SkippedService } from "./service-parse";

/** One change logs at most this many skipped services (and says how many more). */
const MAX_SKIPS_LOGGED = 20;

/** A log line can hold no line break or control character, whatever etcd held. */
export function oneLine(text: string): string {
    return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Skipped services by name, with their reasons as one text. */
export function skipReasons(skipped: readonly SkippedService[]): Map<string, string> {
    return new Map(skipped.map((s) => [s.service, s.problems.join("; ")]));
}

/** The log lines (one line each) that take the log from `logged` to `now`. */
export function skipLogLines(logged: ReadonlyMap<string, string>, now: ReadonlyMap<string, string>, revision: number): string[] {
    const lines: string[] = [];
    for (const [service, reasons] of now) {
        if (logged.get(service) !== reasons) lines.push(`etcd revision ${revision}: skipping service ${service}, the others keep routing: ${reasons}`);
    }
    for (const service of logged.keys()) if (!now.has(service)) lines.push(`etcd revision ${revision}: service ${service} is no longer skipped`);
    const shown = lines.slice(0, MAX_SKIPS_LOGGED).map(oneLine);
    if (lines.length > MAX_SKIPS_LOGGED) shown.push(`etcd revision ${revision}: and ${lines.length - MAX_SKIPS_LOGGED} more changes of skipped services (the health JSON lists them)`);
    return shown;
}
