// Waits for etcd members to go quiet between benchmark samples. After a burst of writes, followers
// keep applying entries and every member compacts the history clean() dropped, for up to a second
// or more on this 2-core machine shared by 6 members: whichever sample runs next pays for the one
// before (in one full run, the floor taken after the set's create was 20% faster than the floor
// before it). A fresh `pulumi up` finds a cluster that is not mid-compaction of its own last burst.
import * as fs from "fs";

/** utime + stime of a process in clock ticks; undefined when it is gone. */
export function cpuTicks(pid: number): number | undefined {
    let stat: string;
    try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
        return undefined;
    }
    // Fields after the command (which may hold spaces or parentheses): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
}

export interface QuietOptions {
    /** Length of one observation window. */
    windowMs: number;
    /**
     * At most this many clock ticks (10 ms each) per process, on average, in a window counts as
     * quiet. An idle member uses about 0.3 per 100 ms (raft heartbeats); one applying a backlog or
     * compacting, close to 10.
     */
    maxTicksPerProcess: number;
    /** Give up (and say so) after this long. */
    timeoutMs: number;
}

export const DEFAULT_QUIET: QuietOptions = { windowMs: 100, maxTicksPerProcess: 0.5, timeoutMs: 15000 };

/** Resolves once the processes used few enough ticks in one window; returns how long it waited and whether it got there. */
export async function waitForQuiet(pids: number[], opts: QuietOptions = DEFAULT_QUIET, ticksOf: (pid: number) => number | undefined = cpuTicks): Promise<{ waitedMs: number; quiet: boolean }> {
    const maxTicks = Math.max(1, Math.floor(opts.maxTicksPerProcess * pids.length));
    const started = Date.now();
    // A process that is gone uses nothing from then on.
    const total = () => pids.reduce((sum, pid) => sum + (ticksOf(pid) ?? 0), 0);
    let before = total();
    while (Date.now() - started < opts.timeoutMs) {
        await new Promise((r) => setTimeout(r, opts.windowMs));
        const now = total();
        if (now - before <= maxTicks) return { waitedMs: Date.now() - started, quiet: true };
        before = now;
    }
    return { waitedMs: Date.now() - started, quiet: false };
}
