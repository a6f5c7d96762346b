// The conformance server against the second table of shared/reference/fleet-api.md ("Observed later":
// fleetd under a real systemd, units really running), one test per row, with raw HTTP. Each failed
// on the server before issue 23's fixes (etcd outage, launched template, Replaces, replace with new
// options, a process that exits, texts, Content-Type and page tokens). Loopback 127.0.51.10-11.
import { expect } from "chai";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { request } from "../../support/fleet-raw-request";

const options = [{ section: "Service", name: "ExecStart", value: "/bin/sleep infinity" }];
const xf = (name: string, value: string) => ({ section: "X-Fleet", name, value });
const machines = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `m${i + 1}`, primaryIP: `10.0.0.${i + 1}` }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fleet conformance server: observed later (fleetd under a real systemd)", () => {
    let server: FleetConformanceServer;
    const call = (method: string, p: string, body?: unknown, ct?: string | string[] | null) => request(server.endpoint, method, `/fleet/v1${p}`, body, ct === undefined ? "application/json" : ct);
    const ticks = (n: number) => { for (let i = 0; i < n; i++) server.tick(); };
    const start = async (n = 3) => { server = await FleetConformanceServer.start({ host: "127.0.51.10", tickMs: 0, machines: machines(n) }); };
    afterEach(async () => { if (server) await server.close(); });

    it("a template created launched is scheduled and wedges its machine for good, even after the template is deleted", async () => {
        await start(1);
        expect((await call("PUT", "/units/t%40.service", { options, desiredState: "launched" })).status).to.equal(201);
        ticks(2);
        expect(server.wedgedMachines).to.deep.equal(["m1"]);
        expect((await call("DELETE", "/units/t%40.service")).status).to.equal(204);
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        ticks(10);
        expect((await call("GET", "/state")).json).to.deep.equal({}); // nothing on m1 starts again
    });

    it("a running unit replaced with new options and no desiredState: GET still says launched on its machine; /state then empties (no stale entry)", async () => {
        await start();
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        ticks(2);
        const before = (await call("GET", "/units/a.service")).json;
        const changed = [...options, { section: "Service", name: "Restart", value: "always" }];
        expect((await call("PUT", "/units/a.service", { options: changed })).status).to.equal(201);
        expect((await call("GET", "/units/a.service")).json).to.deep.include({ desiredState: "inactive", currentState: "launched", machineID: before.machineID });
        ticks(3);
        expect((await call("GET", "/state")).json).to.deep.equal({});
        expect((await call("GET", "/units/a.service")).json).to.deep.include({ currentState: "inactive" });
    });

    it("a running unit replaced with new options and launched: /state holds only the new file's entry, active", async () => {
        await start();
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        ticks(2);
        const changed = [...options, { section: "Service", name: "Restart", value: "always" }];
        await call("PUT", "/units/a.service", { options: changed, desiredState: "launched" });
        ticks(3);
        const states = (await call("GET", "/state")).json.states;
        expect(states).to.have.length(1);
        expect(states[0]).to.deep.include({ hash: server.unit("a.service")!.hash, systemdActiveState: "active" });
    });

    it("Replaces=old.service: the new unit is scheduled and runs; the replaced one is unscheduled (inactive, no machine) and stopped", async () => {
        await start(1);
        await call("PUT", "/units/old.service", { options, desiredState: "launched" });
        ticks(2);
        await call("PUT", "/units/new.service", { options: [...options, xf("Replaces", "old.service")], desiredState: "launched" });
        ticks(6);
        expect((await call("GET", "/units/new.service")).json).to.deep.include({ currentState: "launched", machineID: "m1" });
        const old = (await call("GET", "/units/old.service")).json;
        expect(old).to.deep.include({ desiredState: "launched", currentState: "inactive" });
        expect(old).to.not.have.property("machineID");
        expect((await call("GET", "/state")).json.states.map((s: any) => [s.name, s.systemdActiveState])).to.deep.equal([["new.service", "active"]]);
    });

    it("Replaces on two machines: the new unit may land on the replaced one's machine, which then moves to the other machine", async () => {
        server = await FleetConformanceServer.start({ host: "127.0.51.10", tickMs: 0, machines: [{ id: "m1", primaryIP: "10.0.0.1", metadata: { role: "a" } }, { id: "m2", primaryIP: "10.0.0.2", metadata: { role: "b" } }] });
        await call("PUT", "/units/old.service", { options, desiredState: "launched" });
        ticks(2);
        expect(server.unit("old.service")!.machineIDs).to.deep.equal(["m1"]);
        await call("PUT", "/units/new.service", { options: [...options, xf("Replaces", "old.service"), xf("MachineMetadata", "role=a")], desiredState: "launched" });
        ticks(6);
        expect(server.unit("new.service")).to.deep.include({ machineIDs: ["m1"], currentState: "launched" });
        expect(server.unit("old.service")).to.deep.include({ machineIDs: ["m2"], currentState: "launched" });
        expect(server.states().map((s) => [s.name, s.machineID, s.systemdActiveState])).to.deep.equal([["new.service", "m1", "active"], ["old.service", "m2", "active"]]);
    });

    it("a unit whose process exits (ExecStart=/bin/false, or a named stand-in) is failed/failed in /state", async () => {
        await start();
        await call("PUT", "/units/f.service", { options: [{ section: "Service", name: "ExecStart", value: "/bin/false" }], desiredState: "launched" });
        server.exitingUnits.add("g.service");
        await call("PUT", "/units/g.service", { options, desiredState: "launched" });
        ticks(3);
        for (const name of ["f.service", "g.service"]) {
            expect((await call("GET", `/state?unitName=${name}`)).json.states[0], name).to.deep.include({ systemdActiveState: "failed", systemdSubState: "failed" });
        }
        expect((await call("GET", "/units/f.service")).json).to.deep.include({ currentState: "launched" }); // fleet's target, not systemd's
    });

    it("etcd unreachable: 500 with an empty message first, then 503 without a Server header; /discovery stays 200; it recovers", async () => {
        await start();
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        server.loseEtcd({ emptyErrorMs: 150 });
        for (const p of ["/units", "/units/a.service", "/state", "/machines"]) {
            const r = await call("GET", p);
            expect([r.status, r.json], p).to.deep.equal([500, { error: { code: 500, message: "" } }]);
            expect(r.headers.server).to.match(/^fleetd\//);
        }
        expect((await call("GET", "/discovery")).status).to.equal(200);
        ticks(5);
        expect(server.states()).to.deep.equal([]); // nothing moves while etcd is away
        await sleep(200);
        const r = await call("PUT", "/units/b.service", { options });
        expect([r.status, r.json.error.message, r.headers.server]).to.deep.equal([503, "fleet server unable to communicate with etcd", undefined]);
        expect((await call("GET", "/discovery")).status).to.equal(200);
        server.restoreEtcd();
        expect((await call("GET", "/units/a.service")).status).to.equal(200);
    });

    it("fleetd started before etcd is reachable: 503 without a Server header, until etcd answers", async () => {
        server = await FleetConformanceServer.start({ host: "127.0.51.11", tickMs: 0, startWithoutEtcd: true });
        const r = await call("GET", "/machines");
        expect([r.status, r.json.error.message, r.headers.server]).to.deep.equal([503, "fleet server unable to communicate with etcd", undefined]);
        server.restoreEtcd();
        expect((await call("GET", "/machines")).status).to.equal(200);
    });

    it("GET /units with a unit whose stored desiredState is bogus: 200 without it; PUT and DELETE of it answer 500", async () => {
        await start();
        await call("PUT", "/units/a.service", { options });
        await call("PUT", "/units/b.service", { options });
        await call("PUT", "/units/a.service", { desiredState: "running" });
        const list = await call("GET", "/units");
        expect([list.status, list.json.units.map((u: any) => u.name)]).to.deep.equal([200, ["b.service"]]);
        expect((await call("PUT", "/units/a.service", { desiredState: "launched" })).status).to.equal(500);
        expect((await call("DELETE", "/units/a.service")).status).to.equal(500);
    });

    it("PUT with desiredState null on a new unit: 201, stored inactive", async () => {
        await start();
        expect((await call("PUT", "/units/a.service", { options, desiredState: null })).status).to.equal(201);
        expect((await call("GET", "/units/a.service")).json).to.deep.include({ desiredState: "inactive" });
    });

    it("page tokens: a limit other than the page size is 400 `token limit must be 100`; garbage is 400 `illegal base64 data at input byte N`", async () => {
        await start();
        const msg = async (token: string) => { const r = await call("GET", `/units?nextPageToken=${encodeURIComponent(token)}`); return [r.status, r.json.error?.message]; };
        expect(await msg("AgACAA==")).to.deep.equal([400, "token limit must be 100"]); // limit 2, page 2
        expect(await msg("bogus")).to.deep.equal([400, "illegal base64 data at input byte 4"]);
        expect(await msg("ZA!CAA==")).to.deep.equal([400, "illegal base64 data at input byte 2"]);
        expect(await msg("ZAAAAA==")).to.deep.equal([400, "token page must be greater than zero"]);
        expect((await call("GET", "/units?nextPageToken=ZAACAA%3D%3D&nextPageToken=ZAACAA%3D%3D")).json.error.message).to.equal("too many values for page token");
        expect((await call("GET", "/state?nextPageToken=ZAACAA%3D%3D")).json).to.deep.equal({});
    });

    it("Content-Type other than exactly application/json: 415 with fleet's texts (case, a second header, none)", async () => {
        await start();
        const msg = async (ct: string | string[] | null) => { const r = await call("PUT", "/units/a.service", { options }, ct); return [r.status, r.json?.error?.message]; };
        expect(await msg("Application/JSON")).to.deep.equal([415, "only acceptable Content-Type is application/json"]);
        expect(await msg("text/plain")).to.deep.equal([415, "only acceptable Content-Type is application/json"]);
        expect(await msg(["application/json", "application/json"])).to.deep.equal([415, "expected 1 Content-Type, got 2"]);
        expect(await msg(null)).to.deep.equal([415, "expected 1 Content-Type, got 0"]);
        expect((await msg("application/json; charset=utf-8"))[0]).to.equal(201);
    });

    it("GET and DELETE of an unknown unit: 404 `unit does not exist` (an unknown path: empty message)", async () => {
        await start();
        for (const m of ["GET", "DELETE"]) expect((await call(m, "/units/nope.service")).json).to.deep.equal({ error: { code: 404, message: "unit does not exist" } });
        expect((await call("GET", "/nope")).json).to.deep.equal({ error: { code: 404, message: "" } });
    });

    it("GET /units lists a Global unit with currentState inactive; a GET of it has none", async () => {
        await start();
        await call("PUT", "/units/g.service", { options: [...options, xf("Global", "true")], desiredState: "launched" });
        ticks(2);
        expect((await call("GET", "/units")).json.units[0]).to.deep.include({ name: "g.service", currentState: "inactive" });
        expect((await call("GET", "/units/g.service")).json).to.not.have.property("currentState");
    });
});
