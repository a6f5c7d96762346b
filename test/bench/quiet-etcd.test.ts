// The seeding bench's wait for quiet members, on real processes: one sleeping, one spinning.
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import { cpuTicks, waitForQuiet } from "../../bench/quiet-etcd";

describe("bench: waiting for quiet processes (real processes)", function () {
    this.timeout(20000);
    const started: ChildProcess[] = [];
    const start = (args: string[]) => {
        const child = spawn(process.execPath, args, { stdio: "ignore" });
        started.push(child);
        return child.pid!;
    };
    afterEach(() => {
        for (const child of started.splice(0)) child.kill("SIGKILL");
    });

    it("reads a process's CPU ticks, and none for a pid that is gone", async () => {
        const spinner = start(["-e", "for (;;) {}"]);
        const first = cpuTicks(spinner)!;
        await new Promise((r) => setTimeout(r, 300));
        expect(cpuTicks(spinner)!).to.be.greaterThan(first);
        expect(cpuTicks(2 ** 22 + 1)).to.equal(undefined);
    });

    it("a sleeping process is quiet at once; a spinning one never, until the timeout says so", async () => {
        const sleeper = start(["-e", "setTimeout(() => {}, 60000)"]);
        const spinner = start(["-e", "for (;;) {}"]);
        await new Promise((r) => setTimeout(r, 300)); // past node's own start-up
        expect((await waitForQuiet([sleeper])).quiet).to.equal(true);
        const busy = await waitForQuiet([sleeper, spinner], { windowMs: 100, maxTicksPerProcess: 0.5, timeoutMs: 600 });
        expect(busy.quiet).to.equal(false);
        expect(busy.waitedMs).to.be.at.least(600);
    });
});
