// The test workflow's steps as GitHub's runner takes them (issue 23, item 2): a non-root user with
// passwordless sudo runs `scripts/test.sh`, which runs itself again through the real sudo; the
// root-needing tests it selects (real network namespaces) then pass. The user and its sudoers entry
// exist only for this test.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../support/mocks";

const USER = `ccci${process.pid % 100000}`;
const SUDOERS = `/etc/sudoers.d/coreos-cluster-test-${USER}`;

describe("the suite as a non-root user with passwordless sudo (GitHub's runner)", function () {
    this.timeout(10 * 60 * 1000);

    before(function () {
        if (process.getuid?.() !== 0) throw new Error("this test makes a user and a sudoers entry: run it as root (npm test does)");
        if (spawnSync("sh", ["-c", "command -v sudo"]).status !== 0) throw new Error("sudo is missing: scripts/install-system-deps.sh installs it");
        const add = spawnSync("useradd", ["--create-home", "--shell", "/bin/bash", USER], { encoding: "utf8" });
        expect(add.status, add.stderr).to.equal(0);
        fs.writeFileSync(SUDOERS, `${USER} ALL=(ALL) NOPASSWD:ALL\n`, { mode: 0o440 });
    });

    after(() => {
        fs.rmSync(SUDOERS, { force: true });
        spawnSync("userdel", ["--remove", USER]);
    });

    it("scripts/test.sh re-runs itself through sudo and the namespace tests it selects pass", () => {
        expect(spawnSync("su", [USER, "-c", "id -u"], { encoding: "utf8" }).stdout.trim()).to.not.equal("0");
        const PATH = `${path.join(REPO_ROOT, ".engine", "bin")}:${process.env.PATH}`;
        // The leftover-namespace test needs root (ip netns, nftables): the point of the exercise.
        const command = `cd ${JSON.stringify(REPO_ROOT)} && export PATH=${JSON.stringify(PATH)} && bash scripts/test.sh --grep "a namespace deleted while held"`;
        const r = spawnSync("su", [USER, "-s", "/bin/bash", "-c", command], { encoding: "utf8", timeout: 9 * 60 * 1000 });
        const out = `${r.stdout}\n${r.stderr}`;
        expect(r.status, out.slice(-3000)).to.equal(0);
        expect(out).to.match(/not root; running it again through sudo/);
        expect(out).to.match(/2 passing/);
        expect(out).to.not.match(/failing/);
    });
});
