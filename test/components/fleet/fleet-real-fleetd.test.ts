// The fleet providers against what real fleetd does and the conformance server once did not
// (issue 23): an etcd outage as fleetd presents it, a template never pushed launched, Replaces=,
// and a unit whose process exits. Conformance server (not fleet) on 127.0.51.20-23.
import { expect } from "chai";
import { fleetUnitProvider, FleetUnitState } from "../../../components/fleet/fleet-unit";
import { waitForFleetApi } from "../../../components/fleet/fleet-wait";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

const provider = fleetUnitProvider;
const run = "[Service]\nExecStart=/bin/sleep infinity\n";

describe("fleet providers against real fleetd's behaviour (conformance server, 127.0.51.20-23)", function () {
    this.timeout(30000);
    let server: FleetConformanceServer;
    const checked = async (news: Record<string, unknown>): Promise<FleetUnitState> => {
        const r = await provider.check({}, { endpoint: server.endpoint, pollIntervalMs: 10, retryDelayMs: 5, waitTimeoutSeconds: 5, ...news });
        expect(r.failures, JSON.stringify(r.failures)).to.deep.equal([]);
        return r.inputs as FleetUnitState;
    };
    afterEach(async () => {
        // whatever a test did, the product never wedged a machine with a launched template
        expect(server.wedgedMachines).to.deep.equal([]);
        await server.close();
    });

    describe("etcd away", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.20", tickMs: 5 }); });

        it("the wait for fleet rides out fleetd's empty 500s and its 503s, and ends when etcd is back", async () => {
            server.loseEtcd({ emptyErrorMs: 200 });
            setTimeout(() => server.restoreEtcd(), 700);
            const started = Date.now();
            await waitForFleetApi({ endpoint: server.endpoint }, 10);
            expect(Date.now() - started).to.be.within(600, 8000);
            const answers = server.requests.filter((r) => r.path.endsWith("/machines")).length;
            expect(answers).to.be.greaterThan(1);
        });

        it("a create with clusterWaitSeconds pushes its unit once etcd is back", async () => {
            server.loseEtcd({ emptyErrorMs: 300 });
            setTimeout(() => server.restoreEtcd(), 800);
            await provider.create(await checked({ name: "a.service", content: run, clusterWaitSeconds: 10 }));
            expect(server.unit("a.service")).to.deep.include({ currentState: "launched" });
        });

        it("a 500 that carries a message ends the wait at once: waiting does not cure a real error", async () => {
            server.faults.push({ kind: "error", status: 500 });
            const started = Date.now();
            const err = await failureOf(waitForFleetApi({ endpoint: server.endpoint }, 5));
            expect(Date.now() - started).to.be.lessThan(900);
            expect(err.message).to.match(/refused GET machines \(HTTP 500\): injected failure/);
            expect(err.message).to.not.match(/did not answer within/);
        });
    });

    describe("templates", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.21", tickMs: 5 }); });

        it("check refuses a template launched with no instances, naming desiredState and why", async () => {
            const r = await provider.check({}, { endpoint: server.endpoint, name: "t@.service", content: run, desiredState: "launched" });
            expect((r.failures ?? []).map((f) => f.property)).to.deep.equal(["desiredState"]);
            expect(r.failures![0].reason).to.match(/cannot be launched with no instances: fleet would schedule the template itself to a machine, systemd cannot start a template, and that machine's fleet agent then stops for good/);
        });

        it("a template with instances launched: the template itself is PUT inactive, only the instances launched", async () => {
            await provider.create(await checked({ name: "t@.service", content: run, instances: [1, 2] }));
            const puts = server.apiRequests().filter((r) => r.method === "PUT").map((r) => [decodeURIComponent(r.path.split("/").pop()!), JSON.parse(r.body).desiredState]);
            expect(puts).to.deep.equal([["t@.service", "inactive"], ["t@1.service", "launched"], ["t@2.service", "launched"]]);
        });
    });

    describe("Replaces= on one machine", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.22", tickMs: 5, machines: [{ id: "m1", primaryIP: "10.0.0.1" }] }); });

        it("a unit that Replaces another reaches launched; the replaced one is unscheduled and stopped", async () => {
            await provider.create(await checked({ name: "old.service", content: run }));
            await provider.create(await checked({ name: "new.service", content: `${run}[X-Fleet]\nReplaces=old.service\n` }));
            expect(server.unit("new.service")).to.deep.include({ currentState: "launched", machineIDs: ["m1"] });
            await new Promise((r) => setTimeout(r, 100));
            expect(server.unit("old.service")).to.deep.include({ currentState: "inactive", machineIDs: [] });
            expect(server.states().map((s) => s.name)).to.deep.equal(["new.service"]);
        });
    });

    describe("a unit whose process exits", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.23", tickMs: 5 }); });

        it("create fails at once, saying the process exited, and removes the unit it added", async () => {
            server.exitingUnits.add("crash.service");
            const started = Date.now();
            const err = await failureOf(provider.create(await checked({ name: "crash.service", content: run, waitTimeoutSeconds: 20 })));
            expect(Date.now() - started).to.be.lessThan(5000);
            expect(err.message).to.match(/fleet unit "crash.service": create failed: .*its process exited; systemd reports loaded \(loaded\/failed\/failed/);
            expect(server.unitNames()).to.deep.equal([]);
        });
    });
});
