// The seeding bench's wait for quiet members: the tick reader on real processes, the waiting rule
// on scripted tick counts (a real spinner may be starved on a loaded machine; a script cannot).
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import { cpuTicks, waitForQuiet } from "../../bench/quiet-etcd";

/**
 * Ticks of each pid, advancing by the next step of its script on every read of pid 1 (one read per
 * window); `readings()` says how many times they were read (the first, then one per window).
 */
function scriptedTicks(perWindow: Record<number, number[]>): ((pid: number) => number | undefined) & { readings(): number } {
    const totals: Record<number, number> = {};
    let window = -1;
    const ticks = (pid: number) => {
        if (pid === 1) window++;
        const step = perWindow[pid]?.[Math.max(0, window)];
        if (step === undefined && !(pid in totals)) return undefined;
        totals[pid] = (totals[pid] ?? 0) + (step ?? perWindow[pid][perWindow[pid].length - 1]);
        return totals[pid];
    };
    return Object.assign(ticks, { readings: () => window + 1 });
}

describe("bench: waiting for quiet etcd members", function () {
    this.timeout(20000);
    const started: ChildProcess[] = [];
    afterEach(() => {
        for (const child of started.splice(0)) child.kill("SIGKILL");
    });

    it("reads a real process's CPU ticks, rising while it spins, and none for a pid that is gone", async () => {
        const spinner = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
        started.push(spinner);
        await new Promise((resolve, reject) => spinner.once("spawn", resolve).once("error", reject));
        const first = cpuTicks(spinner.pid!);
        expect(first).to.be.a("number");
        // However loaded the machine, a spinning process gets some CPU within a few seconds.
        const deadline = Date.now() + 10000;
        while (cpuTicks(spinner.pid!)! <= first! && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(cpuTicks(spinner.pid!)!).to.be.greaterThan(first!);
        expect(cpuTicks(2 ** 22 + 1)).to.equal(undefined);
    });

    it("waits through busy windows and stops at the first quiet one", async () => {
        // Two members: at most 1 tick per window together counts as quiet.
        const ticks = scriptedTicks({ 1: [0, 9, 7, 0], 2: [0, 8, 1, 1] });
        const result = await waitForQuiet([1, 2], { windowMs: 10, maxTicksPerProcess: 0.5, timeoutMs: 5000 }, ticks);
        expect(result.quiet).to.equal(true);
        // Windows 1 and 2 were busy (17, 8 ticks), window 3 quiet (1 tick): read once before and after
        // each of the three windows, and never again. (Counted, not timed: under load Node's timers
        // may fire a little before their delay by the wall clock, so three windows can take 29 ms.)
        expect(ticks.readings()).to.equal(4);
    });

    it("gives up at the timeout while the processes stay busy, and says so", async () => {
        const ticks = scriptedTicks({ 1: [0, 5], 2: [0, 5] });
        const result = await waitForQuiet([1, 2], { windowMs: 10, maxTicksPerProcess: 0.5, timeoutMs: 100 }, ticks);
        expect(result.quiet).to.equal(false);
        expect(result.waitedMs).to.be.at.least(100);
    });

    it("allows half a tick per member per window: 6 members may use 3", async () => {
        const six = [1, 2, 3, 4, 5, 6];
        const quietAtThree = await waitForQuiet(six, { windowMs: 10, maxTicksPerProcess: 0.5, timeoutMs: 100 }, scriptedTicks(Object.fromEntries(six.map((p) => [p, [0, p <= 3 ? 1 : 0]]))));
        expect(quietAtThree.quiet).to.equal(true);
        const busyAtFour = await waitForQuiet(six, { windowMs: 10, maxTicksPerProcess: 0.5, timeoutMs: 100 }, scriptedTicks(Object.fromEntries(six.map((p) => [p, [0, p <= 4 ? 1 : 0]]))));
        expect(busyAtFour.quiet).to.equal(false);
    });
});
