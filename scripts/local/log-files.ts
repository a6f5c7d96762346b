// The log files `npm run local -- logs` reads: every `*.log` under each machine's root (etcd or the
// worker's etcd gateway, the router with HAProxy's own lines, the demo backends), the bastion's sshd
// the load balancer's and the local Prometheus's, labelled `<machine> <process>`; read whole, or followed (-f) by polling
// their sizes (a recreated worker's files start again from nothing). The order is log-merge.ts's.
import * as fs from "fs";
import * as path from "path";
import type { LocalView } from "../../model/local-view";
import { LogSource, mergeEntries, formatEntries, selectMachines, timestampOf } from "./log-merge";

export interface LogFile {
    label: string;
    file: string;
}

function logsUnder(dir: string, depth = 2): string[] {
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
        return [];
    }
    return entries.flatMap((e) => {
        const full = path.join(dir, e.name);
        if (e.isFile() && e.name.endsWith(".log")) return [full];
        return e.isDirectory() && depth > 0 ? logsUnder(full, depth - 1) : [];
    });
}

/** Every log file of the chosen machines (all, or the one `wanted` names), labelled. */
export function logFilesOf(view: LocalView, wanted?: string): LogFile[] {
    const places = [
        ...view.machines.map((m) => ({ name: m.name, root: m.root, prefix: m.name })),
        ...(view.sshd ? [{ name: view.sshd.machine, root: view.sshd.root, prefix: view.sshd.machine }] : []),
        { name: view.loadBalancer.name, root: view.loadBalancer.root, prefix: view.loadBalancer.name },
        ...(view.prometheus ? [{ name: view.prometheus.name, root: view.prometheus.root, prefix: view.prometheus.name }] : []),
    ];
    const chosen = selectMachines(places, wanted);
    if (wanted && chosen.length === 0) throw new Error(`no machine named ${wanted}: ${[...new Set(places.map((p) => p.name))].join(", ")}`);
    return chosen.flatMap((p) => logsUnder(p.root).sort().map((file) => ({ label: `${p.prefix} ${path.basename(file, ".log")}`, file })));
}

function readLines(file: string): string[] {
    try {
        return fs.readFileSync(file, "utf8").split("\n");
    } catch {
        return [];
    }
}

export function readSources(files: LogFile[]): LogSource[] {
    return files.map((f) => ({ label: f.label, lines: readLines(f.file) }));
}

/**
 * Prints the new lines of every file every `intervalMs` until `stop()` resolves: each poll's lines
 * in time order; a line with no time of its own takes its file's last one, else the time it was read.
 */
export async function followLogs(files: () => LogFile[], write: (text: string) => void, stopped: () => boolean, intervalMs = 500): Promise<void> {
    const state = new Map<string, { offset: number; partial: string; last?: number }>();
    const width = () => Math.max(0, ...files().map((f) => f.label.length));
    for (const f of files()) {
        let size = 0;
        try {
            size = fs.statSync(f.file).size;
        } catch {
            /* not there yet */
        }
        state.set(f.file, { offset: size, partial: "" });
    }
    while (!stopped()) {
        await new Promise((r) => setTimeout(r, intervalMs));
        const now = Date.now();
        const sources: LogSource[] = [];
        for (const f of files()) {
            const s = state.get(f.file) ?? { offset: 0, partial: "" };
            state.set(f.file, s);
            let size: number;
            try {
                size = fs.statSync(f.file).size;
            } catch {
                continue;
            }
            if (size < s.offset) Object.assign(s, { offset: 0, partial: "" }); // a new file in its place
            if (size === s.offset) continue;
            const fd = fs.openSync(f.file, "r");
            const buf = Buffer.alloc(size - s.offset);
            fs.readSync(fd, buf, 0, buf.length, s.offset);
            fs.closeSync(fd);
            s.offset = size;
            const lines = (s.partial + buf.toString("utf8")).split("\n");
            s.partial = lines.pop() ?? "";
            sources.push({ label: f.label, lines, carry: s.last ?? now });
            for (const line of lines) s.last = timestampOf(line) ?? s.last;
        }
        const text = formatEntries(mergeEntries(sources), width());
        if (text.length) write(text.join("\n") + "\n");
    }
}
