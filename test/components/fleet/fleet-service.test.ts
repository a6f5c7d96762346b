// FleetService end to end against the fleet conformance server, through the provider bundle the
// engine runs (bundled-provider.ts): create, rolling update, a failure halfway, a retry, an
// interrupted run, refresh and delete.
import { expect } from "chai";
import { fleetServiceProvider, FleetServiceState } from "../../../components/fleet/fleet-service";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

const provider = fleetServiceProvider;
const base = { service: "web", image: "nginx:1.27", containerPort: 80, count: 3, etcdEndpoints: "http://10.0.0.2:2379", pollIntervalMs: 5, retryDelayMs: 5, waitTimeoutSeconds: 5 };
const launched = (server: FleetConformanceServer, names: string[]) => names.every((n) => server.unit(n)?.currentState === "launched");
const instancesOf = (server: FleetConformanceServer) => server.unitNames().filter((n) => /^web@\d+/.test(n));

describe("FleetService against the fleet conformance server", () => {
    let server: FleetConformanceServer;
    const checked = async (news: Record<string, unknown>): Promise<FleetServiceState> => {
        const r = await provider.check({}, { endpoint: server.endpoint, ...base, ...news });
        expect(r.failures, JSON.stringify(r.failures)).to.deep.equal([]);
        return r.inputs as FleetServiceState;
    };
    beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.6.30", tickMs: 5 }); });
    afterEach(async () => {
        // real fleetd wedges the agent of a machine a launched template lands on: the product never pushes one
        expect(server.wedgedMachines).to.deep.equal([]);
        await server.close();
    });

    it("creates the templates, the instances and their sidekicks (on the instance's machine), all running", async () => {
        const created = await provider.create(await checked({}));
        expect(created.id).to.equal("/services/web");
        expect(created.outs.instances).to.deep.equal(["1", "2", "3"]);
        expect(server.unitNames()).to.deep.equal(["web@.service", "web@1.service", "web@2.service", "web@3.service", "web_presence@.service", "web_presence@1.service", "web_presence@2.service", "web_presence@3.service"]);
        expect(launched(server, ["1", "2", "3"].flatMap((n) => [`web@${n}.service`, `web_presence@${n}.service`]))).to.equal(true);
        for (const n of ["1", "2", "3"]) expect(server.unit(`web_presence@${n}.service`)!.machineIDs).to.deep.equal(server.unit(`web@${n}.service`)!.machineIDs);
        const read = await provider.read("/services/web", created.outs);
        expect(await provider.diff("/services/web", read.props, await checked({}))).to.deep.include({ changes: false });
    });

    it("an update that meets fleet while etcd is away (empty 500s, then 503s) waits it out and rolls once etcd is back", async () => {
        const created = await provider.create(await checked({ clusterWaitSeconds: 10 }));
        server.loseEtcd({ emptyErrorMs: 300 });
        setTimeout(() => server.restoreEtcd(), 900);
        const updated = await provider.update("/services/web", created.outs, await checked({ image: "nginx:1.28", clusterWaitSeconds: 10 }));
        expect(updated.outs.instances).to.deep.equal(["4", "5", "6"]);
        expect(launched(server, ["web@4.service", "web@5.service", "web@6.service"])).to.equal(true);
    });

    it("rolls a change: new instances after the highest run with their sidekicks before any old unit is stopped", async () => {
        const created = await provider.create(await checked({}));
        const next = await checked({ image: "nginx:1.28" });
        expect(await provider.diff("/services/web", created.outs, next)).to.deep.equal({ changes: true, replaces: [], deleteBeforeReplace: false });
        const from = server.requests.length;
        const updated = await provider.update("/services/web", created.outs, next);
        expect(updated.outs.instances).to.deep.equal(["4", "5", "6"]);
        expect(instancesOf(server)).to.deep.equal(["web@4.service", "web@5.service", "web@6.service"]);
        expect(server.unit("web@4.service")!.options.find((o) => o.name === "ExecStart")!.value).to.match(/nginx:1\.28$/);
        const ops = server.requests.slice(from).filter((r) => r.method !== "GET").map((r) => `${r.method} ${decodeURIComponent(r.path.replace("/fleet/v1/units/", ""))}`);
        const firstDelete = ops.findIndex((o) => o.startsWith("DELETE"));
        expect(ops.slice(0, firstDelete)).to.deep.equal(["PUT web@.service", "PUT web@4.service", "PUT web@5.service", "PUT web@6.service", "PUT web_presence@4.service", "PUT web_presence@5.service", "PUT web_presence@6.service"]);
        expect(ops.slice(firstDelete)).to.deep.equal(["DELETE web_presence@1.service", "DELETE web_presence@2.service", "DELETE web_presence@3.service", "DELETE web@1.service", "DELETE web@2.service", "DELETE web@3.service"]);
        // the sidekick template did not change (the image is not in it), so it is not put again;
        // the first DELETE came only after /state showed the new sidekicks running
        const lastStatePoll = server.requests.slice(from).map((r, i) => ({ r, i })).filter(({ r }) => r.path.startsWith("/fleet/v1/state")).pop()!.i;
        expect(lastStatePoll).to.be.lessThan(server.requests.slice(from).findIndex((r) => r.method === "DELETE"));
    });

    it("a new instance that never runs fails the update halfway: the old generation keeps serving, the state says so, a retry converges", async () => {
        const created = await provider.create(await checked({}));
        server.stuckUnits.add("web@5.service");
        const next = await checked({ image: "nginx:1.28", waitTimeoutSeconds: 0.3 });
        const err = await failureOf(provider.update("/services/web", created.outs, next));
        expect(err.message).to.match(/^fleet service "web": update failed: rolling update failed before anything old was stopped: fleet unit "web@5.service" did not reach desired state "launched" within 300 ms.*; the previous instances \(1, 2, 3\) keep serving/);
        expect(instancesOf(server)).to.deep.equal(["web@1.service", "web@2.service", "web@3.service"]);
        expect(launched(server, ["web@1.service", "web@2.service", "web@3.service", "web_presence@1.service", "web_presence@2.service", "web_presence@3.service"])).to.equal(true);
        // the engine keeps the old outputs on a failed update; refresh agrees with them
        const read = await provider.read("/services/web", created.outs);
        expect(read.props.instances).to.deep.equal(["1", "2", "3"]);
        expect(await provider.diff("/services/web", read.props, next)).to.deep.include({ changes: true });
        server.stuckUnits.clear();
        const retried = await provider.update("/services/web", read.props, next);
        expect(retried.outs.instances).to.deep.equal(["4", "5", "6"]);
        expect(instancesOf(server)).to.deep.equal(["web@4.service", "web@5.service", "web@6.service"]);
    });

    it("after an interrupted run (new instances put, the process gone), refresh shows them and a retry converges", async () => {
        const created = await provider.create(await checked({}));
        const options = server.unit("web@1.service")!.options.map((o) => (o.name === "ExecStart" ? { ...o, value: o.value.replace("1.27", "1.28") } : o));
        server.putByHand("web@4.service", options); // what a killed `pulumi up` left: one new instance, no sidekick
        const read = await provider.read("/services/web", created.outs);
        expect(read.props.instances).to.deep.equal(["1", "2", "3", "4"]);
        const next = await checked({ image: "nginx:1.28" });
        const retried = await provider.update("/services/web", read.props, next);
        expect(retried.outs.instances).to.deep.equal(["5", "6", "7"]);
        expect(instancesOf(server)).to.deep.equal(["web@5.service", "web@6.service", "web@7.service"]);
        expect(await provider.diff("/services/web", (await provider.read("/services/web", retried.outs)).props, next)).to.deep.include({ changes: false });
    });

    it("scales without rolling when only the count changes, and deletes everything", async () => {
        const created = await provider.create(await checked({}));
        const scaled = await provider.update("/services/web", created.outs, await checked({ count: 4 }));
        expect(scaled.outs.instances).to.deep.equal(["1", "2", "3", "4"]);
        const down = await provider.update("/services/web", scaled.outs, await checked({ count: 2 }));
        expect(down.outs.instances).to.deep.equal(["3", "4"]);
        await provider.delete("/services/web", down.outs);
        expect(server.unitNames()).to.deep.equal([]);
    });

    it("refuses to take over units of that name it did not create", async () => {
        server.putByHand("web@1.service", [{ section: "Service", name: "ExecStart", value: "/bin/mine" }]);
        const err = await failureOf(provider.create(await checked({})));
        expect(err.message).to.match(/^fleet service "web": create failed: "web@1.service" exists in fleet but was not created by a FleetService/);
        expect(server.unitNames()).to.deep.equal(["web@1.service"]);
    });
});

describe("FleetService placement and the wait for a booting cluster (conformance server, 127.0.6.32-33)", function () {
    this.timeout(30_000);
    const member = { id: `e1${"0".repeat(30)}`, primaryIP: "10.0.0.2", metadata: { role: "etcd" } };
    const worker = { id: `w1${"0".repeat(30)}`, primaryIP: "10.0.0.10", metadata: { role: "worker" } };
    let server: FleetConformanceServer | undefined;
    afterEach(async () => { await server?.close(); server = undefined; });

    it("runs every instance on a worker, never on a member (the sidekick announces the machine's address; only workers route)", async () => {
        server = await FleetConformanceServer.start({ host: "127.0.6.32", tickMs: 5, machines: [member, worker] });
        for (const form of [{}, { image: undefined, containerPort: undefined, content: "[Service]\nExecStart=/usr/bin/web --port 8000 %i\n", instancePort: 8000 }]) {
            const { inputs, failures } = await provider.check({}, { endpoint: server.endpoint, ...base, ...form, service: form.content ? "plain" : "web" });
            expect(failures, JSON.stringify(failures)).to.deep.equal([]);
            const created = await provider.create(inputs);
            for (const unit of created.outs.unitNames.filter((n: string) => !n.endsWith("@.service"))) {
                expect(server.unit(unit)!.machineIDs, unit).to.deep.equal([worker.id]);
            }
        }
    });

    it("a unit file that places itself keeps its own placement", async () => {
        server = await FleetConformanceServer.start({ host: "127.0.6.32", tickMs: 5, machines: [member, worker] });
        const content = "[Service]\nExecStart=/usr/bin/agent %i\n[X-Fleet]\nMachineMetadata=role=etcd\n";
        const { inputs } = await provider.check({}, { endpoint: server.endpoint, ...base, image: undefined, containerPort: undefined, content, instancePort: 9000, service: "agent", count: 1 });
        const created = await provider.create(inputs);
        expect(server.unit("agent@1.service")!.machineIDs).to.deep.equal([member.id]);
        expect(server.unit("agent@1.service")!.options.filter((o) => o.name === "MachineMetadata").map((o) => o.value)).to.deep.equal(["role=etcd"]);
        expect(created.outs.instances).to.deep.equal(["1"]);
    });

    it("create waits (bounded by clusterWaitSeconds) for a fleet API that answers only later, then rolls out", async () => {
        const { inputs, failures } = await provider.check({}, { endpoint: "http://127.0.6.33:49153", ...base, count: 1, clusterWaitSeconds: 30 });
        expect(failures).to.deep.equal([]);
        let settled = false;
        const creating = provider.create(inputs);
        creating.then(() => (settled = true), () => (settled = true));
        await new Promise((r) => setTimeout(r, 1500));
        expect(settled, "create went on before fleet answered").to.equal(false);
        server = await FleetConformanceServer.start({ host: "127.0.6.33", port: 49153, tickMs: 5 });
        expect((await creating).outs.instances).to.deep.equal(["1"]);
    });

    it("gives up after the bound naming clusterWaitSeconds, and check refuses a wait out of range", async () => {
        const { inputs } = await provider.check({}, { endpoint: "http://127.0.6.33:49153", ...base, clusterWaitSeconds: 2 });
        const err = await failureOf(provider.create(inputs));
        expect(err.message).to.match(/^fleet service "web": create failed: fleet API at http:\/\/127\.0\.6\.33:49153 did not answer within the bound of 2 s \(clusterWaitSeconds=2;/);
        const { failures } = await provider.check({}, { endpoint: "http://127.0.6.33:49153", ...base, clusterWaitSeconds: 7200 });
        expect((failures ?? []).map((f) => f.property)).to.include("clusterWaitSeconds");
    });
});
