// What /proc says of a pid, judged once for every caller that watches a process it started (the
// local platform's launcher, the router's HAProxy supervisor). Pure: the caller reads /proc.
//
// The kernel shows an empty cmdline while execve swaps a process's image (the new memory is in
// place, its argument area not yet) and for a zombie. The pid survives an exec, so the first means
// "the same process, about to show its new command": `ip netns exec` becoming its command, an
// HAProxy master re-executing itself on every reload. Only a missing pid or a zombie is gone.

export type ProcessView = { kind: "gone" } | { kind: "exec-ing" } | { kind: "running"; argv: string[] };

/** `cmdline`: /proc/<pid>/cmdline (undefined: no such pid); `procState`: the state letter of /proc/<pid>/stat. */
export function judgeProcess(cmdline: string | undefined, procState: string | undefined): ProcessView {
    if (cmdline === undefined || procState === "Z" || procState === "X") return { kind: "gone" };
    if (cmdline === "") return { kind: "exec-ing" };
    const argv = cmdline.split("\0");
    if (argv[argv.length - 1] === "") argv.pop();
    return { kind: "running", argv };
}

/** The state letter in the text of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
export function procStateLetter(stat: string): string {
    const close = stat.lastIndexOf(")");
    return stat.slice(close + 2, close + 3);
}
