// Two test runs on one machine (CI beside a developer's `npm test`, two checkouts) must not tear
// down each other's router harness: a run that finds the harness's /24 recorded by another run
// that still lives refuses with a clear error and touches nothing of it. (Before, it removed the
// other run's bridge, and that run's router tests failed at random.)
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { harnessBridge, startRouterHarness } from "../support/router-harness";
import { REGISTRY_DIR, readRecord, VpcRecord } from "../../components/local/vpc/netns";

// Addresses: 10.213.17.0/24, this suite's own (a harness on its bridge in the second test).
const SUBNET = "10.213.17.0/24";

describe("router harness: a /24 held by another live test run", function () {
    this.timeout(30000);
    const bridge = harnessBridge(SUBNET);
    const recordPath = path.join(REGISTRY_DIR, `${bridge}.json`);
    let otherRun: ReturnType<typeof spawn> | undefined;

    afterEach(() => {
        otherRun?.kill("SIGKILL");
        fs.rmSync(recordPath, { force: true });
    });

    it("is refused with the other run's pid, and its record and bridge are left alone", async () => {
        otherRun = spawn("sleep", ["60"], { stdio: "ignore" });
        const held: VpcRecord = { bridge, subnet: SUBNET, namespaces: [], rootGuardTable: `${bridge.replace(/-/g, "_")}_guard`, dataDir: "/nonexistent/other-run", createdAt: "2026-01-01T00:00:00.000Z", testRunPid: otherRun.pid };
        fs.mkdirSync(REGISTRY_DIR, { recursive: true });
        fs.writeFileSync(recordPath, JSON.stringify(held));
        const refused = await startRouterHarness({ memberAddress: "10.213.17.2", proxyAddress: "10.213.17.5", address: "10.213.17.10" }).then(
            // Taken after all (the defect): closed again, so this run leaves nothing behind.
            async (harness) => void (await harness.close()),
            (err: Error) => err,
        );
        expect(refused, "the harness refuses").to.be.instanceOf(Error);
        expect(refused!.message).to.contain(SUBNET).and.contain(`pid ${otherRun.pid}`).and.contain("Nothing was created");
        expect(readRecord(bridge), "the other run's record").to.deep.equal(held);
        expect(fs.existsSync(`/sys/class/net/${bridge}`), "no bridge made").to.equal(false);
    });

    it("takes over a record left unreadable by a killed run, and removes what it made on close", async () => {
        fs.mkdirSync(REGISTRY_DIR, { recursive: true });
        fs.writeFileSync(recordPath, "");
        const harness = await startRouterHarness({ memberAddress: "10.213.17.2", proxyAddress: "10.213.17.5", address: "10.213.17.10" });
        try {
            expect(readRecord(bridge)?.testRunPid, "the record is this run's now").to.be.a("number");
            expect(fs.existsSync(`/sys/class/net/${bridge}`), "its bridge").to.equal(true);
        } finally {
            await harness.close();
        }
        expect(fs.existsSync(recordPath), "record removed").to.equal(false);
        expect(fs.existsSync(`/sys/class/net/${bridge}`), "bridge removed").to.equal(false);
    });
});
