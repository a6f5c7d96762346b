// Which recorded VPCs the sweep at the start of `npm test` may remove: only those whose stack data
// is gone or that a test run made in its scratch folder, never a developer's own `npm run local`.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawn } from "child_process";
import { orphanReason, TEST_SCRATCH_PREFIXES } from "../../../components/local/cleanup";
import type { VpcRecord } from "../../../components/local/vpc/netns";

function record(dataDir: string): VpcRecord {
    return { bridge: "cclb-0000000", subnet: "10.213.99.0/24", namespaces: [], rootGuardTable: "cclb_0000000_guard", dataDir, createdAt: "2026-12-03T00:00:00Z" };
}

describe("local cleanup: which recorded VPCs are orphans", () => {
    let tmp: string;
    before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-cleanup-unit-"))));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("a VPC whose stack data dir is gone is an orphan", () => {
        expect(orphanReason(record(path.join(tmp, "no-such-dir")), tmp)?.why).to.match(/data dir .*no-such-dir is gone/);
    });

    it("a VPC a test made in its scratch folder is an orphan, with that folder to remove", () => {
        for (const prefix of TEST_SCRATCH_PREFIXES) {
            const dataDir = path.join(tmp, `${prefix}abc`, "coreos-engine-project-x", ".local-machines");
            fs.mkdirSync(dataDir, { recursive: true });
            expect(orphanReason(record(dataDir), tmp), prefix).to.deep.equal({ why: `a test run made it in ${path.join(tmp, `${prefix}abc`)}`, scratch: path.join(tmp, `${prefix}abc`) });
        }
    });

    it("a test VPC of another test run that is still running is kept; of one that ended, swept", async () => {
        const dataDir = path.join(tmp, `${TEST_SCRATCH_PREFIXES[1]}live`, ".local-machines");
        fs.mkdirSync(dataDir, { recursive: true });
        // This process stands for the other, living run.
        expect(orphanReason({ ...record(dataDir), testRunPid: process.pid }, tmp)).to.equal(undefined);
        const ended = spawn(process.execPath, ["-e", "0"]);
        await new Promise((r) => ended.once("exit", r));
        expect(orphanReason({ ...record(dataDir), testRunPid: ended.pid! }, tmp)?.why).to.match(/a test run made it/);
    });

    it("a live stack's VPC (its data dir exists, outside the test scratch folders) is kept", () => {
        const own = path.join(tmp, "checkout", ".local-machines");
        fs.mkdirSync(own, { recursive: true });
        expect(orphanReason(record(own), tmp)).to.equal(undefined);
        // A scratch-like name outside the temp dir is not a test's.
        const elsewhere = fs.mkdtempSync(path.join(process.cwd(), ".coreos-engine-test-"));
        try {
            expect(orphanReason(record(elsewhere), tmp)).to.equal(undefined);
        } finally {
            fs.rmSync(elsewhere, { recursive: true, force: true });
        }
    });
});
