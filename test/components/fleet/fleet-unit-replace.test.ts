// FleetUnit against the two behaviours of real fleetd that hid provider bugs: a deleted unit's
// state lingers in /state (old hash, active) after a replace, and Conflicts= can leave an instance
// unscheduled forever.
import { expect } from "chai";
import { withFleetClient } from "../../../components/fleet/fleet-client";
import { fleetUnitHash } from "../../../components/fleet/fleet-scheduling";
import { fleetUnitProvider, FleetUnitState } from "../../../components/fleet/fleet-unit";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

const v1 = "[Service]\nExecStart=/usr/bin/docker run --rm web:1\n";
const v2 = "[Service]\nExecStart=/usr/bin/docker run --rm web:2\n";
const provider = fleetUnitProvider;

describe("FleetUnit replace and scheduling, against fleetd's observed behaviour", () => {
    let server: FleetConformanceServer;
    const checked = async (news: Record<string, unknown>): Promise<FleetUnitState> => {
        const r = await provider.check({}, { endpoint: server.endpoint, pollIntervalMs: 5, retryDelayMs: 5, ...news });
        expect(r.failures, JSON.stringify(r.failures)).to.deep.equal([]);
        return r.inputs as FleetUnitState;
    };
    afterEach(async () => { await server.close(); });

    describe("replace (delete, then create under the same name)", () => {
        // a reconcile tick slow enough that the provider polls several times between two ticks
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.6.20", tickMs: 40, lingerTicks: 3 }); });

        it("the server models the race: a name-only wait is fooled by the deleted unit's lingering state", async () => {
            const first = await provider.create(await checked({ name: "web.service", content: v1 }));
            await provider.delete!("web.service", first.outs);
            await withFleetClient({ endpoint: server.endpoint }, async (c) => {
                await c.putUnit("web.service", { options: (await checked({ name: "web.service", content: v2 })).options, desiredState: "launched" });
                await c.waitForState("web.service", "launched", { timeoutMs: 5000, pollMs: 5 }); // by name only
            });
            expect(server.unit("web.service")!.currentState).to.not.equal("launched");
            expect(server.states().map((s) => s.hash)).to.deep.equal([fleetUnitHash((await checked({ name: "web.service", content: v1 })).options)]);
        });

        it("a replaced unit's create returns only once fleet runs the new unit file", async () => {
            const first = await provider.create(await checked({ name: "web.service", content: v1 }));
            const next = await checked({ name: "web.service", content: v2 });
            expect(await provider.diff!("web.service", first.outs, next)).to.deep.include({ replaces: ["content"], deleteBeforeReplace: true });
            await provider.delete!("web.service", first.outs);
            await provider.create(next);
            expect(server.unit("web.service")!.currentState).to.equal("launched");
            const running = server.states().filter((s) => s.hash === fleetUnitHash(next.options));
            expect(running.map((s) => s.systemdActiveState)).to.deep.equal(["active"]);
        });

        it("a unit deleted and created again with the same file waits for fleet to schedule it again", async () => {
            const inputs = await checked({ name: "web.service", content: v1 });
            const first = await provider.create(inputs);
            await provider.delete!("web.service", first.outs);
            await provider.create(inputs);
            expect(server.unit("web.service")!.currentState).to.equal("launched");
        });
    });

    describe("Conflicts", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.6.21", tickMs: 5, machines: [{ id: "a1b2c3d4e5f6", primaryIP: "10.0.0.1" }] }); });

        it("fails a create whose instances exclude each other on one machine, naming the unit and the conflict, within the wait", async () => {
            const content = `${v1}[X-Fleet]\nConflicts=web@*.service\n`;
            const inputs = await checked({ name: "web@.service", content, instances: [1, 2], waitTimeoutSeconds: 0.5 });
            const started = Date.now();
            const err = await failureOf(provider.create(inputs));
            expect(Date.now() - started).to.be.lessThan(5000);
            expect(err.message).to.match(/^fleet unit "web@.service": create failed: fleet unit "web@[12].service" did not reach desired state "launched" within 500 ms; last seen: inactive \(not scheduled on any machine\); fleet has not scheduled it: no machine of 1 can take it: a1b2c3d4 runs web@[12].service \(Conflicts\)/);
            expect(server.unitNames()).to.deep.equal([]);
        });
    });

    it("refuses option values fleet would rewrite (so its hash could never match)", async () => {
        server = await FleetConformanceServer.start({ host: "127.0.6.22", tickMs: 0 });
        const r = await provider.check({}, { endpoint: server.endpoint, name: "a.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/a \\" }] });
        expect(r.failures!.map((f) => f.reason).join("\n")).to.match(/fleet unit "a.service": \[Service\] ExecStart: value ends in a backslash/);
    });
});
