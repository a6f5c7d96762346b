// components/local/machine-process.ts groupRunning: a group whose processes have all exited is
// stopped, even while they wait as zombies for init to reap them (destroy used to wait for that).
import { expect } from "chai";
import { spawn, ChildProcess } from "child_process";
import { groupRunning } from "../../../components/local/machine-process";

/** A parent that never reaps: its child leads a group of its own, exits at once and stays a zombie. */
function zombieGroup(): Promise<{ parent: ChildProcess; pgid: number }> {
    const script = "import os, sys, time\npid = os.fork()\nif pid == 0:\n    os.setpgid(0, 0)\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)\n";
    const parent = spawn("python3", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] });
    return new Promise((resolve, reject) => {
        parent.stdout!.once("data", (chunk: Buffer) => resolve({ parent, pgid: Number(String(chunk).trim()) }));
        parent.once("error", reject);
    });
}

function stateOf(pid: number): string | undefined {
    try {
        const stat = require("fs").readFileSync(`/proc/${pid}/stat`, "utf8") as string;
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    } catch {
        return undefined;
    }
}

describe("local machines: when a process group has stopped", function () {
    this.timeout(20000);

    it("is running while one of its processes runs, and stopped once none does", async () => {
        const leader = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
        try {
            expect(groupRunning(leader.pid!)).to.equal(true);
        } finally {
            leader.kill("SIGKILL");
        }
        await new Promise((r) => leader.once("exit", r));
        expect(groupRunning(leader.pid!)).to.equal(false);
    });

    it("counts a zombie as stopped, although the kernel still reports its group", async () => {
        const { parent, pgid } = await zombieGroup();
        try {
            for (let i = 0; i < 100 && stateOf(pgid) !== "Z"; i++) await new Promise((r) => setTimeout(r, 20));
            expect(stateOf(pgid), "the child is a zombie").to.equal("Z");
            expect(() => process.kill(-pgid, 0), "kill(-pgid, 0) still succeeds").not.to.throw();
            expect(groupRunning(pgid)).to.equal(false);
        } finally {
            parent.kill("SIGKILL");
        }
    });
});
