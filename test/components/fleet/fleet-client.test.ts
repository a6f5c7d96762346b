import { expect } from "chai";
import { FleetApiError, FleetClient, observedState, parseFleetEndpoint, withFleetClient } from "../../../components/fleet/fleet-client";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { failureOf } from "../../support/failure-of";

const options = [{ section: "Service", name: "ExecStart", value: "/bin/sleep infinity" }];


describe("fleet client against the conformance server", () => {
    let server: FleetConformanceServer;
    beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.4", tickMs: 5, pageSize: 3 }); });
    afterEach(async () => { await server.close(); });

    it("parses the endpoints fleet serves and refuses others", () => {
        expect(parseFleetEndpoint("unix:///var/run/fleet.sock")).to.deep.equal({ socketPath: "/var/run/fleet.sock" });
        expect(parseFleetEndpoint("http://127.0.0.1:49153")).to.deep.equal({ host: "127.0.0.1", port: 49153 });
        expect(() => parseFleetEndpoint("https://x:1")).to.throw(/not supported/);
        expect(() => parseFleetEndpoint("unix://relative.sock")).to.throw(/absolute/);
        expect(() => parseFleetEndpoint("http://u:p@x:1")).to.throw(/credentials/);
        expect(() => parseFleetEndpoint("fleet")).to.throw(/unix:\/\/\/path.sock or http/);
    });

    it("puts, gets and deletes units with fleet's status codes", async () => {
        await withFleetClient({ endpoint: server.endpoint }, async (c) => {
            expect(await c.getUnit("a.service")).to.equal(undefined);
            expect(await c.putUnit("a.service", { options, desiredState: "loaded" })).to.equal("created");
            expect(await c.putUnit("a.service", { options, desiredState: "launched" })).to.equal("updated");
            expect(await c.getUnit("a.service")).to.deep.include({ name: "a.service", desiredState: "launched", options });
            expect(await c.deleteUnit("a.service")).to.equal(true);
            expect(await c.deleteUnit("a.service")).to.equal(false);
        });
    });

    it("reads every page, including fleet's empty page after a full one", async () => {
        await withFleetClient({ endpoint: server.endpoint }, async (c) => {
            for (let i = 0; i < 6; i++) await c.putUnit(`u${i}.service`, { options, desiredState: "launched" });
            expect((await c.listUnits()).map((u) => u.name)).to.deep.equal([0, 1, 2, 3, 4, 5].map((i) => `u${i}.service`));
            expect(await c.listMachines()).to.have.length(3);
            for (let i = 0; i < 6; i++) await c.waitForState(`u${i}.service`, "launched", { timeoutMs: 5000, pollMs: 10 });
            expect(await c.listStates()).to.have.length(6);
            expect(await c.listStates({ unitName: "u4.service" })).to.have.length(1);
        });
        expect(server.requests.filter((r) => r.path.includes("nextPageToken")).length).to.be.greaterThan(1);
    });

    it("waits by polling until fleet reports the desired state", async () => {
        await server.close();
        server = await FleetConformanceServer.start({ host: "127.0.51.4", tickMs: 0 });
        await withFleetClient({ endpoint: server.endpoint }, async (c) => {
            await c.putUnit("a.service", { options, desiredState: "launched" });
            const waiting = c.waitForState("a.service", "launched", { timeoutMs: 10000, pollMs: 10 });
            let done = false;
            void waiting.then(() => (done = true));
            await new Promise((r) => setTimeout(r, 50));
            expect(done).to.equal(false); // no tick yet: still inactive
            server.tick();
            server.tick();
            await waiting;
        });
        expect(server.requests.filter((r) => r.path.startsWith("/fleet/v1/state")).length).to.be.greaterThan(1);
    });

    it("fails a wait clearly, naming the unit, the desired and the last seen state", async () => {
        server.stuckUnits.add("a.service");
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint }, async (c) => {
            await c.putUnit("a.service", { options, desiredState: "launched" });
            await c.waitForState("a.service", "launched", { timeoutMs: 200, pollMs: 20 });
        }));
        expect(err).to.be.instanceOf(FleetApiError);
        expect(err.message).to.match(/fleet unit "a.service" did not reach desired state "launched" within 200 ms; last seen: inactive/);
    });

    it("retries a 503 a bounded number of times with backoff, then fails clearly", async () => {
        server.faults.push({ kind: "unavailable", times: 2 });
        await withFleetClient({ endpoint: server.endpoint, retries: 2, retryDelayMs: 5 }, (c) => c.listUnits());
        expect(server.requests).to.have.length(3);
        server.faults.push({ kind: "unavailable" }); // from now on: fleetd cannot reach etcd
        const before = server.requests.length;
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint, retries: 2, retryDelayMs: 5 }, (c) => c.getUnit("a.service")));
        expect(server.requests.length - before).to.equal(3);
        expect(err.message).to.match(/GET \/units\/a.service failed after 3 attempts.*HTTP 503: fleet server unable to communicate with etcd/);
    });

    it("times out a hung request, retries it, and does not retry a refusal", async () => {
        server.faults.push({ kind: "hang", times: 1 });
        await withFleetClient({ endpoint: server.endpoint, timeoutMs: 100, retryDelayMs: 5 }, (c) => c.listUnits());
        server.faults.push({ kind: "hang" });
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint, timeoutMs: 100, retries: 1, retryDelayMs: 5 }, (c) => c.listUnits()));
        expect(err.message).to.match(/failed after 2 attempts.*no answer within 100 ms/);
        server.faults.length = 0;
        const before = server.requests.length;
        const refused = await failureOf(withFleetClient({ endpoint: server.endpoint }, (c) => c.putUnit("@bad.service", { options })));
        expect(server.requests.length - before).to.equal(1);
        expect((refused as FleetApiError).status).to.equal(400);
        expect(refused.message).to.match(/refused PUT @bad.service \(HTTP 400\)/);
    });

    it("reports fleetd's 500s (a unit stored with a bogus desired state) and connection resets clearly", async () => {
        await withFleetClient({ endpoint: server.endpoint, retries: 1, retryDelayMs: 5 }, async (c) => {
            await c.putUnit("a.service", { options });
            await c.putUnit("a.service", { desiredState: "running" as never }); // fleetd takes it (204)...
            const before = server.requests.length;
            const got = await failureOf(c.getUnit("a.service")); // ...and can no longer read it back
            // the same empty 500 as while etcd is away: retried within the bound, then named with both causes
            expect(server.requests.length - before).to.equal(2);
            expect((got as FleetApiError).status).to.equal(500);
            expect(got.message).to.match(/GET \/units\/a.service failed after 2 attempts.*HTTP 500 with no error message \(real fleetd answers so for about 20 s after it loses etcd.*a unit it cannot decode\)/);
            server.faults.push({ kind: "reset", path: "/units" });
            const reset = await failureOf(c.listUnits());
            expect(reset.message).to.match(/GET \/units failed after 2 attempts.*(ECONNRESET|socket hang up)/);
        });
    });

    it("rides out an etcd outage as real fleetd presents it: 500s with no message, then 503s, then answers", async () => {
        await withFleetClient({ endpoint: server.endpoint }, (c) => c.putUnit("a.service", { options, desiredState: "launched" }));
        server.loseEtcd({ emptyErrorMs: 150 });
        setTimeout(() => server.restoreEtcd(), 450);
        const before = server.requests.length;
        const unit = await withFleetClient({ endpoint: server.endpoint, retries: 6, retryDelayMs: 50 }, (c) => c.getUnit("a.service"));
        expect(unit).to.deep.include({ name: "a.service" });
        expect(server.requests.length - before).to.be.greaterThan(2); // at least a 500, a 503 and the answer
    });

    it("gives up on an outage within its retries, naming fleetd's empty 500 (status kept, marked transient)", async () => {
        server.loseEtcd({ emptyErrorMs: 60000 });
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint, retries: 2, retryDelayMs: 5 }, (c) => c.listMachines())) as FleetApiError;
        expect([err.status, err.transient]).to.deep.equal([500, true]);
        expect(err.message).to.match(/GET \/machines failed after 3 attempts \(fleetd away from etcd.*HTTP 500 with no error message/);
    });

    it("does not retry a 500 that carries a message: that is a real error", async () => {
        server.faults.push({ kind: "error", status: 500, times: 5 });
        const before = server.requests.length;
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint, retries: 3, retryDelayMs: 5 }, (c) => c.listUnits())) as FleetApiError;
        expect(server.requests.length - before).to.equal(1);
        expect([err.status, err.transient]).to.deep.equal([500, false]);
        expect(err.message).to.match(/refused GET units \(HTTP 500\): injected failure/);
    });

    it("never sends a template with a desired state other than inactive (real fleetd's agent would wedge)", async () => {
        const template = await failureOf(withFleetClient({ endpoint: server.endpoint }, (c) => c.putUnit("t@.service", { options, desiredState: "launched" })));
        expect(template.message).to.match(/not sending PUT t@.service: template unit "t@.service" must never be pushed launched: fleet would schedule the template itself to a machine/);
        expect(server.apiRequests()).to.deep.equal([]);
        await withFleetClient({ endpoint: server.endpoint }, (c) => c.putUnit("t@.service", { options, desiredState: "inactive" }));
        expect(server.wedgedMachines).to.deep.equal([]);
    });

    it("sends exactly one Content-Type, application/json, as fleetd insists", async () => {
        await withFleetClient({ endpoint: server.endpoint }, (c) => c.putUnit("a.service", { options }));
        expect(server.apiRequests().filter((r) => r.method === "PUT").map((r) => r.contentType)).to.deep.equal(["application/json"]);
    });

    it("fails a wait for launched at once when systemd reports the unit's process exited (failed)", async () => {
        const exits = [{ section: "Service", name: "ExecStart", value: "/bin/false" }];
        const started = Date.now();
        const err = await failureOf(withFleetClient({ endpoint: server.endpoint }, async (c) => {
            await c.putUnit("f.service", { options: exits, desiredState: "launched" });
            await c.waitForState("f.service", "launched", { timeoutMs: 10000, pollMs: 10, hash: server.unit("f.service")!.hash });
        }));
        expect(Date.now() - started).to.be.lessThan(5000);
        expect(err.message).to.match(/fleet unit "f.service" did not reach desired state "launched": its process exited; systemd reports loaded \(loaded\/failed\/failed on m1000000\)/);
    });

    it("gives up on an unreachable endpoint within its retries", async () => {
        const err = await failureOf(FleetClient.open({ endpoint: "http://127.0.51.5:9", retries: 1, retryDelayMs: 5 }).then((c) => c.listUnits()));
        expect(err.message).to.match(/fleet API at http:\/\/127.0.51.5:9: GET \/units failed after 2 attempts.*ECONNREFUSED/);
    });

    it("derives the observed state from /state entries", () => {
        expect(observedState([])).to.equal("inactive");
        expect(observedState([{ name: "a", systemdActiveState: "inactive" }])).to.equal("loaded");
        expect(observedState([{ name: "a", systemdActiveState: "active" }, { name: "a", systemdActiveState: "activating" }])).to.equal("loaded");
        expect(observedState([{ name: "a", systemdActiveState: "active" }])).to.equal("launched");
    });
});
