// The FleetUnit provider's lifecycle against the fleet API v1 conformance server (not fleet).
import { expect } from "chai";
import { fleetUnitProvider, FleetUnitState } from "../../../components/fleet/fleet-unit";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

const content = "[Unit]\nDescription=web\n\n[Service]\nExecStart=/usr/bin/docker run --rm web\n\n[X-Fleet]\nConflicts=web@*.service\n";
const provider = fleetUnitProvider;


describe("FleetUnit provider against the fleet API conformance server", () => {
    let server: FleetConformanceServer;
    const checked = async (news: Record<string, unknown>): Promise<FleetUnitState> => {
        const r = await provider.check({}, { endpoint: server.endpoint, pollIntervalMs: 10, retryDelayMs: 5, ...news });
        expect(r.failures, JSON.stringify(r.failures)).to.deep.equal([]);
        return r.inputs as FleetUnitState;
    };

    beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.6.6", tickMs: 5 }); });
    afterEach(async () => {
        // real fleetd wedges the agent of a machine a launched template lands on: the product never pushes one
        expect(server.wedgedMachines).to.deep.equal([]);
        await server.close();
    });

    it("creates, reads, updates the desired state, and deletes a unit, returning full state", async () => {
        const inputs = await checked({ name: "web.service", content });
        expect(inputs.desiredState).to.equal("launched");
        const created = await provider.create(inputs);
        expect(created.id).to.equal("web.service");
        expect(created.outs).to.deep.equal({ ...inputs, unitNames: ["web.service"] });
        expect(server.unit("web.service")).to.deep.include({ desiredState: "launched", currentState: "launched" });
        expect(server.unit("web.service")!.options).to.deep.equal(inputs.options);

        const read = await provider.read!("web.service", created.outs);
        expect(read.id).to.equal("web.service");
        expect(await provider.diff!("web.service", read.props, inputs)).to.deep.include({ changes: false });

        const loaded = await checked({ name: "web.service", content, desiredState: "loaded" });
        const diff = await provider.diff!("web.service", created.outs, loaded);
        expect(diff).to.deep.equal({ changes: true, replaces: [], deleteBeforeReplace: false });
        const updated = await provider.update!("web.service", created.outs, loaded);
        expect(updated.outs).to.deep.equal({ ...loaded, unitNames: ["web.service"] });
        expect(server.unit("web.service")).to.deep.include({ desiredState: "loaded", currentState: "loaded" });

        await provider.delete!("web.service", updated.outs);
        expect(server.unitNames()).to.deep.equal([]);
        await provider.delete!("web.service", updated.outs); // already gone: still fine
    });

    it("pushes a template as inactive and each instance with the template's options, then changes the instance list", async () => {
        const inputs = await checked({ name: "web@.service", content, instances: [1, 2] });
        const created = await provider.create(inputs);
        expect(created.outs.unitNames).to.deep.equal(["web@.service", "web@1.service", "web@2.service"]);
        expect(server.unit("web@.service")).to.deep.include({ desiredState: "inactive", currentState: "inactive" });
        for (const n of [1, 2]) {
            expect(server.unit(`web@${n}.service`)).to.deep.include({ desiredState: "launched", currentState: "launched" });
            expect(server.unit(`web@${n}.service`)!.options).to.deep.equal(inputs.options);
        }
        const next = await checked({ name: "web@.service", content, instances: [2, 3] });
        expect(await provider.diff!("web@.service", created.outs, next)).to.deep.include({ changes: true, replaces: [] });
        const updated = await provider.update!("web@.service", created.outs, next);
        expect(server.unitNames()).to.deep.equal(["web@.service", "web@2.service", "web@3.service"]);
        expect(server.unit("web@3.service")).to.deep.include({ currentState: "launched" });
        await provider.delete!("web@.service", updated.outs);
        expect(server.unitNames()).to.deep.equal([]);
    });

    it("replaces on a content change, deleting before creating, and only updates on a comment-only change", async () => {
        const inputs = await checked({ name: "web.service", content });
        const created = await provider.create(inputs);
        const changed = await checked({ name: "web.service", content: content.replace("--rm web", "--rm web:2") });
        expect(await provider.diff!("web.service", created.outs, changed)).to.deep.equal({ changes: true, replaces: ["content"], deleteBeforeReplace: true });
        const asOptions = await checked({ name: "web.service", options: inputs.options });
        expect(await provider.diff!("web.service", created.outs, asOptions)).to.deep.include({ replaces: [] });
        const commented = await checked({ name: "web.service", content: `# the web frontend\n${content}` });
        expect(await provider.diff!("web.service", created.outs, commented)).to.deep.equal({ changes: true, replaces: [], deleteBeforeReplace: false });
        expect(await provider.diff!("web.service", created.outs, await checked({ name: "api.service", content }))).to.deep.include({ replaces: ["name"], deleteBeforeReplace: true });
    });

    it("reports drift: options changed, desired state changed, instance or unit removed by hand", async () => {
        const inputs = await checked({ name: "web@.service", content, instances: [1, 2] });
        const created = await provider.create(inputs);
        server.setDesiredStateByHand("web@1.service", "inactive");
        let read = await provider.read!("web@.service", created.outs);
        expect(read.props.desiredState).to.equal("inactive");
        expect(await provider.diff!("web@.service", read.props, inputs)).to.deep.include({ changes: true, replaces: [] });

        server.removeByHand("web@2.service");
        read = await provider.read!("web@.service", created.outs);
        expect(read.props.instances).to.deep.equal(["1"]);
        expect(read.props.unitNames).to.deep.equal(["web@.service", "web@1.service"]);
        const repaired = await provider.update!("web@.service", read.props, inputs);
        expect(server.unit("web@2.service")).to.deep.include({ desiredState: "launched", currentState: "launched" });
        expect(server.unit("web@1.service")).to.deep.include({ desiredState: "launched" });

        server.putByHand("web@.service", [{ section: "Service", name: "ExecStart", value: "/bin/other" }], "inactive");
        read = await provider.read!("web@.service", repaired.outs);
        expect(read.props.options).to.deep.equal([{ section: "Service", name: "ExecStart", value: "/bin/other" }]);
        expect(await provider.diff!("web@.service", read.props, inputs)).to.deep.include({ replaces: ["content"], deleteBeforeReplace: true });

        server.removeByHand("web@.service");
        read = await provider.read!("web@.service", repaired.outs);
        expect(read.id).to.equal("");
    });

    it("fails a create that never reaches the desired state, naming unit and states, and leaves nothing behind", async () => {
        server.stuckUnits.add("web@2.service");
        const inputs = await checked({ name: "web@.service", content, instances: [1, 2], waitTimeoutSeconds: 0.3 });
        const err = await failureOf(provider.create(inputs));
        expect(err.message).to.match(/^fleet unit "web@.service": create failed: fleet unit "web@2.service" did not reach desired state "launched" within 300 ms; last seen: inactive/);
        expect(server.unitNames()).to.deep.equal([]);
        expect(server.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).to.have.members(["/fleet/v1/units/web%401.service", "/fleet/v1/units/web%402.service", "/fleet/v1/units/web%40.service"]);
    });

    it("retries 503s, then fails clearly without leaving units, and never touches a unit it did not create", async () => {
        server.faults.push({ kind: "unavailable", times: 2 });
        const inputs = await checked({ name: "web.service", content, retries: 3 });
        await provider.create(inputs);
        await provider.delete!("web.service", inputs);

        server.faults.push({ kind: "unavailable", method: "GET", path: "/state" }); // state never answers
        const err = await failureOf(provider.create({ ...inputs, retries: 2 }));
        expect(err.message).to.match(/^fleet unit "web.service": create failed: .*GET \/state failed after 3 attempts.*503/);
        expect(server.unitNames()).to.deep.equal([]);
        server.faults.length = 0;

        server.putByHand("other.service", [{ section: "Service", name: "ExecStart", value: "/bin/mine" }]);
        const taken = await checked({ name: "other.service", content });
        const refused = await failureOf(provider.create(taken));
        expect(refused.message).to.match(/"other.service" already exists in fleet with other options/);
        expect(server.unit("other.service")!.options[0].value).to.equal("/bin/mine");
    });

    it("times out hung requests within its bounds and rolls back what it put", async () => {
        server.faults.push({ kind: "hang", method: "PUT", path: "/units/web@2.service" });
        const inputs = await checked({ name: "web@.service", content, instances: [1, 2], requestTimeoutMs: 100, retries: 1 });
        const err = await failureOf(provider.create(inputs));
        expect(err.message).to.match(/PUT \/units\/web@2.service failed after 2 attempts.*no answer within 100 ms/);
        expect(server.unitNames()).to.deep.equal([]);
    });

    it("refuses bad input in check, naming the unit and the cause, before any request", async () => {
        const bad: Array<[Record<string, unknown>, string, RegExp]> = [
            [{ name: "web.service", content: `[Service]\nExecStart=${"x".repeat(2100)}\n` }, "content", /fleet unit "web.service": .*ExecStart: option line is 2110 bytes/],
            [{ name: "web@.service", content, desiredState: "launched" }, "desiredState", /fleet unit "web@.service": template unit "web@.service" cannot be launched/],
            [{ name: "web service", content }, "name", /fleet unit "web service": unit name "web service" has invalid characters/],
            [{ name: "web.service", content: "[Service]\nExecStart=/bin/x\n[X-Fleet]\nMachineID=abc\nConflicts=web*\n" }, "content", /MachineID cannot be used with Conflicts/],
            [{ name: "web.service", options: [{ section: "X-Fleet", name: "Global", value: "true" }, { section: "X-Fleet", name: "Replaces", value: "a.service" }] }, "options", /Global cannot be used with Replaces/],
            [{ name: "web.service", content, endpoint: "tcp://fleet:1" }, "endpoint", /not supported/],
            [{ name: "web.service", content, sshTunnel: { host: "h", port: 22, username: "core" } }, "sshTunnel", /sshTunnel.privateKey/],
        ];
        for (const [news, property, reason] of bad) {
            const r = await provider.check({}, { endpoint: server.endpoint, ...news });
            expect(r.failures!.map((f) => f.property), JSON.stringify(news).slice(0, 80)).to.include(property);
            expect(r.failures!.map((f) => f.reason).join("\n")).to.match(reason);
        }
        expect(server.requests).to.deep.equal([]);
    });

    it("lets unknown preview values through check and plans a replacement when the content is unknown", async () => {
        const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
        const r = await provider.check({}, { endpoint: unknown, name: "web.service", content: unknown });
        expect(r.failures).to.deep.equal([]);
        const inputs = await checked({ name: "web.service", content });
        expect(await provider.diff!("web.service", inputs, r.inputs)).to.deep.include({ replaces: ["content"], deleteBeforeReplace: true });
    });
});
