// The conformance server checked with raw HTTP: one row per line of "Observed behaviour of real
// fleetd" in shared/reference/fleet-api.md (first table), then the documented rules it also follows.
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { Answer, request } from "../../support/fleet-raw-request";

const options = [
    { section: "Unit", name: "Description", value: "web" },
    { section: "Service", name: "ExecStart", value: "/bin/true" },
];
const xf = (name: string, value: string) => ({ section: "X-Fleet", name, value });
const sha1 = (text: string) => crypto.createHash("sha1").update(text).digest("hex");

interface Ctx {
    server: FleetConformanceServer;
    call: (method: string, p: string, body?: unknown, ct?: string | null) => Promise<Answer>;
    ticks: (n: number) => void;
}
type Row = [behaviour: string, check: (ctx: Ctx) => Promise<void>, machines?: number];

const observed: Row[] = [
    ["GET /state/<unit>: 200 with the state; a unit with no state resets the connection (fleetd panics)", async ({ call, ticks }) => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        const err = await call("GET", "/state/a.service").then(() => undefined, (e: NodeJS.ErrnoException) => e);
        expect(err?.code ?? err?.message).to.match(/ECONNRESET|socket hang up/);
        ticks(2);
        const r = await call("GET", "/state/a.service");
        expect(r.status).to.equal(200);
        expect(r.json).to.deep.include({ name: "a.service", systemdActiveState: "active", systemdSubState: "running" });
    }],
    ["hash in UnitState is the sha1 of the unit file text (what fleetctl list-unit-files shows)", async ({ call, ticks }) => {
        await call("PUT", "/units/a.service", { options, desiredState: "loaded" });
        ticks(1);
        const [state] = (await call("GET", "/state")).json.states;
        expect(state.hash).to.equal(sha1("[Unit]\nDescription=web\n\n[Service]\nExecStart=/bin/true\n"));
    }],
    ["/state lags /units: after a stop it still says active running until the next reconcile", async ({ call, ticks }) => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        ticks(2);
        expect((await call("PUT", "/units/a.service", { desiredState: "loaded" })).status).to.equal(204);
        expect((await call("GET", "/units/a.service")).json).to.deep.include({ desiredState: "loaded", currentState: "launched" });
        expect((await call("GET", "/state")).json.states[0]).to.deep.include({ systemdActiveState: "active", systemdSubState: "running" });
        ticks(1);
        expect((await call("GET", "/state")).json.states[0]).to.deep.include({ systemdActiveState: "inactive", systemdSubState: "dead" });
    }],
    ["a name with a backslash (p\\x2d1.service) is accepted", async ({ call }) => {
        expect((await call("PUT", `/units/${encodeURIComponent("p\\x2d1.service")}`, { options })).status).to.equal(201);
    }],
    ["an instance is checked against template types: a@b.mount is 400 invalid unit type for template", async ({ call }) => {
        const r = await call("PUT", "/units/a%40b.mount", { options });
        expect(r.status).to.equal(400);
        expect(r.json.error.message).to.equal(`invalid unit type for template: "mount"`);
    }],
    ["MachineOf of a unit its own Conflicts glob matches: 400 unresolvable requirements", async ({ call }) => {
        const r = await call("PUT", "/units/api.service", { options: [...options, xf("MachineOf", "web.service"), xf("Conflicts", "web*")] });
        expect(r.status).to.equal(400);
        expect(r.json.error.message).to.equal(`unresolvable requirements: peer "web.service" matches conflict "web*"`);
    }],
    ["an option without value is accepted with an empty value", async ({ call }) => {
        expect((await call("PUT", "/units/a.service", { options: [{ section: "Service", name: "ExecStart" }] })).status).to.equal(201);
        expect((await call("GET", "/units/a.service")).json.options).to.deep.equal([{ section: "Service", name: "ExecStart", value: "" }]);
    }],
    ["an option value containing \\n is split into two options at the newline", async ({ call }) => {
        await call("PUT", "/units/a.service", { options: [{ section: "Service", name: "ExecStart", value: "/bin/a\nExecStop=/bin/b" }] });
        expect((await call("GET", "/units/a.service")).json.options).to.deep.equal([
            { section: "Service", name: "ExecStart", value: "/bin/a" }, { section: "Service", name: "ExecStop", value: "/bin/b" }]);
    }],
    ["a new template created with desiredState launched: 201, stored as launched (an update to it is 400)", async ({ call }) => {
        expect((await call("PUT", "/units/t%40.service", { options, desiredState: "launched" })).status).to.equal(201);
        expect((await call("GET", "/units/t%40.service")).json).to.deep.include({ desiredState: "launched" });
        const r = await call("PUT", "/units/t%40.service", { desiredState: "loaded" });
        expect([r.status, r.json.error.message]).to.deep.equal([400, `cannot activate template "t@.service"`]);
    }],
    ["replacing an existing unit with MachineID + Conflicts: 201 (combination rules on create only)", async ({ call }) => {
        await call("PUT", "/units/a.service", { options });
        const combo = [...options, xf("MachineID", "m1"), xf("Conflicts", "b*")];
        expect((await call("PUT", "/units/a.service", { options: combo })).status).to.equal(201);
        expect((await call("PUT", "/units/b.service", { options: combo })).status).to.equal(400);
    }],
    ["bogus desiredState on create: 500", async ({ call, server }) => {
        expect((await call("PUT", "/units/a.service", { options, desiredState: "running" })).status).to.equal(500);
        expect(server.unitNames()).to.deep.equal([]);
    }],
    ["bogus desiredState on an existing unit: 204, then GET and DELETE of it answer 500", async ({ call }) => {
        await call("PUT", "/units/a.service", { options });
        expect((await call("PUT", "/units/a.service", { desiredState: "running" })).status).to.equal(204);
        expect((await call("GET", "/units/a.service")).status).to.equal(500);
        expect((await call("DELETE", "/units/a.service")).status).to.equal(500);
    }],
    ["a 405 carries no Allow header", async ({ call }) => {
        const r = await call("POST", "/units/a.service", {});
        expect(r.status).to.equal(405);
        expect(r.headers.allow).to.equal(undefined);
        expect(r.json.error.message).to.equal("only GET, PUT and DELETE supported against this resource");
    }],
    ["every answer, errors included, carries Server: fleetd/<version>", async ({ call }) => {
        for (const r of [await call("GET", "/units"), await call("GET", "/units/none.service"), await call("POST", "/units/a.service", {})]) {
            expect(r.headers.server, `HTTP ${r.status}`).to.equal("fleetd/v1.0.0");
        }
    }],
    ["/discovery serves the full discovery document", async ({ call }) => {
        const r = await call("GET", "/discovery");
        expect(r.json.kind).to.equal("discovery#restDescription");
        expect(Object.keys(r.json.resources)).to.have.members(["Machines", "Units", "UnitState"]);
        expect(Object.keys(r.json.resources.Units.methods)).to.have.members(["List", "Get", "Delete", "Set"]);
        expect(Object.keys(r.json.schemas)).to.include.members(["Unit", "UnitOption", "UnitState", "Machine", "UnitPage"]);
    }],
    ["a 404 body has an empty message (for an unknown path; an unknown unit is `unit does not exist`)", async ({ call }) => {
        expect((await call("GET", "/nothing")).json).to.deep.equal({ error: { code: 404, message: "" } });
        expect((await call("GET", "/units/nope.service")).json).to.deep.equal({ error: { code: 404, message: "unit does not exist" } });
    }],
    ["messages verbatim: no dot, 405, no Content-Type, long line, Global with MachineOf (405s with fleet's full text)", async ({ call }) => {
        const msg = async (r: Promise<Answer>) => (await r).json.error.message;
        expect(await msg(call("PUT", "/units/nodot", { options }))).to.equal(`unit name must contain "."`);
        // fleet-api.md quotes the start of it; fleet's api/units.go (the observed build) ends "against this resource"
        expect(await msg(call("PATCH", "/units/a.service", {}))).to.equal("only GET, PUT and DELETE supported against this resource");
        expect(await msg(call("POST", "/units", {}))).to.equal("only GET supported against this resource");
        expect(await msg(call("DELETE", "/state"))).to.equal("only GET supported against this resource");
        expect(await msg(call("PUT", "/units/a.service", { options }, null))).to.equal("expected 1 Content-Type, got 0");
        expect(await msg(call("PUT", "/units/a.service", { options: [{ section: "Service", name: "ExecStart", value: "x".repeat(2048) }] }))).to.equal("line too long (max 2048 bytes)");
        expect(await msg(call("PUT", "/units/a.service", { options: [...options, xf("Global", "true"), xf("MachineOf", "b.service")] }))).to.equal("Global cannot be used with Peers");
    }],
    ["GET / and GET /fleet/v1 answer 405", async ({ server }) => {
        expect((await request(server.endpoint, "GET", "/")).status).to.equal(405);
        expect((await request(server.endpoint, "GET", "/fleet/v1")).status).to.equal(405);
    }],
    ["a JSON null body on PUT: 409", async ({ call }) => {
        expect((await call("PUT", "/units/a.service", "null")).status).to.equal(409);
    }],
    ["a valid page token past the end (ZAACAA==, limit 100 page 2): 200 {}", async ({ call }) => {
        const r = await call("GET", "/units?nextPageToken=ZAACAA%3D%3D");
        expect(r.status).to.equal(200);
        expect(r.json).to.deep.equal({});
    }],
    ["an option value ending in \\ joins the next option", async ({ call }) => {
        await call("PUT", "/units/a.service", { options: [{ section: "Service", name: "ExecStart", value: "/bin/a \\" }, { section: "Service", name: "ExecStop", value: "/bin/b" }] });
        expect((await call("GET", "/units/a.service")).json.options).to.deep.equal([{ section: "Service", name: "ExecStart", value: "/bin/a  ExecStop=/bin/b" }]);
    }],
    ["GET /units/<global unit> has no currentState and no machineID", async ({ call, ticks }) => {
        await call("PUT", "/units/g.service", { options: [...options, xf("Global", "true")], desiredState: "launched" });
        ticks(2);
        const r = await call("GET", "/units/g.service");
        expect(r.json).to.not.have.any.keys("currentState", "machineID");
        expect((await call("GET", "/state?unitName=g.service")).json.states).to.have.length(3);
    }],
    ["a deleted unit created again (a replace): /state keeps the old entry (old hash, active) for a while", async ({ call, ticks }) => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        ticks(2);
        const old = (await call("GET", "/state")).json.states[0];
        expect((await call("DELETE", "/units/a.service")).status).to.equal(204);
        const changed = [...options, { section: "Service", name: "Restart", value: "always" }];
        expect((await call("PUT", "/units/a.service", { options: changed, desiredState: "launched" })).status).to.equal(201);
        expect((await call("GET", "/state?unitName=a.service")).json.states).to.deep.equal([old]);
        expect(old).to.deep.include({ systemdActiveState: "active" });
        ticks(2);
        const now = (await call("GET", "/state?unitName=a.service")).json.states;
        expect(now.some((s: any) => s.hash === sha1("[Unit]\nDescription=web\n\n[Service]\nExecStart=/bin/true\nRestart=always\n") && s.systemdActiveState === "active")).to.equal(true);
        ticks(3);
        expect((await call("GET", "/state?unitName=a.service")).json.states.map((s: any) => s.hash)).to.not.include(old.hash);
    }],
    ["two instances whose Conflicts= exclude each other on one machine: the second is never scheduled", async ({ call, ticks }) => {
        const conflicting = [...options, xf("Conflicts", "web@*.service")];
        for (const n of [1, 2]) await call("PUT", `/units/web%40${n}.service`, { options: conflicting, desiredState: "launched" });
        ticks(10);
        expect((await call("GET", "/units/web%401.service")).json).to.deep.include({ currentState: "launched" });
        expect((await call("GET", "/units/web%402.service")).json).to.deep.include({ currentState: "inactive" });
        expect((await call("GET", "/state?unitName=web%402.service")).json).to.deep.equal({});
    }, 1],
    ["state transitions take reconcile ticks (configurable), one state step at a time", async ({ call, ticks }) => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        expect((await call("GET", "/state")).json).to.deep.equal({});
        ticks(1);
        expect((await call("GET", "/state")).json.states[0]).to.deep.include({ systemdActiveState: "inactive" });
        ticks(1);
        expect((await call("GET", "/state")).json.states[0]).to.deep.include({ systemdActiveState: "active" });
    }],
];

describe("fleet API v1 conformance server (the test double itself)", () => {
    let server: FleetConformanceServer;
    const context = (s: FleetConformanceServer): Ctx => ({
        server: s,
        call: (method, p, body, ct) => request(s.endpoint, method, `/fleet/v1${p}`, body, ct === undefined ? "application/json" : ct),
        ticks: (n) => { for (let i = 0; i < n; i++) s.tick(); },
    });
    afterEach(async () => { if (server) await server.close(); });

    describe("observed behaviour of real fleetd", () => {
        for (const [behaviour, check, machines] of observed) {
            it(behaviour, async () => {
                server = await FleetConformanceServer.start({ host: "127.0.51.2", tickMs: 0, machines: machines === undefined ? undefined : Array.from({ length: machines }, (_, i) => ({ id: `m${i}`, primaryIP: `10.0.0.${i + 1}` })) });
                expect((await context(server).call("GET", "/units")).headers.server).to.match(/^fleetd\/v?\d/);
                await check(context(server));
            });
        }
    });

    describe("documented rules", () => {
        beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.51.2", tickMs: 0, pageSize: 2 }); });
        const call = (method: string, p: string, body?: unknown, ct?: string) => context(server).call(method, p, body, ct);

        it("serves /fleet/v1 and /v1-alpha; empty lists come back as {}", async () => {
            expect((await call("GET", "/units")).json).to.deep.equal({});
            expect((await request(server.endpoint, "GET", "/v1-alpha/machines")).status).to.equal(200);
            expect((await request(server.endpoint, "GET", "/fleet/v2/units")).status).to.equal(404);
        });

        it("creates with 201 (inactive by default), 409 without options, 415 without JSON, 400 on bad JSON or a differing name", async () => {
            expect((await call("PUT", "/units/a.service", { name: "a.service", desiredState: "launched" })).status).to.equal(409);
            expect((await call("PUT", "/units/a.service", JSON.stringify({ options }), "text/plain")).status).to.equal(415);
            expect((await call("PUT", "/units/a.service", "{not json")).status).to.equal(400);
            expect((await call("PUT", "/units/a.service", { name: "b.service", options })).status).to.equal(400);
            expect((await call("PUT", "/units/a.service", { options }, "application/json; charset=utf-8")).status).to.equal(201); // parameters are allowed
            expect((await call("GET", "/units/a.service")).json).to.deep.include({ name: "a.service", desiredState: "inactive", currentState: "inactive", options });
        });

        it("refuses invalid names and X-Fleet combinations with 400; 2047-byte lines pass", async () => {
            for (const bad of ["@a.service", "a.conf", "a b.service", `${"a".repeat(250)}.service`, "a@.mount"]) {
                expect((await call("PUT", `/units/${encodeURIComponent(bad)}`, { options })).status, bad).to.equal(400);
            }
            for (const c of [[xf("MachineID", "m1"), xf("Conflicts", "x*")], [xf("Global", "yes"), xf("Replaces", "b.service")], [xf("Conflicts", "x*"), xf("Replaces", "b.service")]]) {
                expect((await call("PUT", "/units/c.service", { options: [...options, ...c] })).status, JSON.stringify(c)).to.equal(400);
            }
            expect((await call("PUT", "/units/long.service", { options: [{ section: "Service", name: "ExecStart", value: "x".repeat(2047 - 10) }] })).status).to.equal(201);
        });

        it("updates desiredState with 204, requires it (409), and replaces on different options (201, state reset)", async () => {
            await call("PUT", "/units/a.service", { options, desiredState: "launched" });
            expect((await call("PUT", "/units/a.service", { options })).status).to.equal(409);
            expect((await call("PUT", "/units/a.service", { desiredState: "loaded" })).status).to.equal(204);
            expect((await call("PUT", "/units/a.service", { options, desiredState: "launched" })).status).to.equal(204);
            const changed = [...options, { section: "Service", name: "Restart", value: "always" }];
            expect((await call("PUT", "/units/a.service", { options: changed })).status).to.equal(201);
            expect(server.unit("a.service")).to.deep.include({ desiredState: "inactive", options: changed });
        });

        it("deletes with 204 and 404", async () => {
            await call("PUT", "/units/a.service", { options });
            expect((await call("DELETE", "/units/a.service")).status).to.equal(204);
            expect((await call("DELETE", "/units/a.service")).status).to.equal(404);
        });

        it("paginates with fleet's tokens, with a token after every full page", async () => {
            for (const n of [1, 2, 3, 4]) await call("PUT", `/units/u${n}.service`, { options });
            const names: string[] = [];
            const tokens: string[] = [];
            let token: string | undefined;
            do {
                const r = await call("GET", `/units${token ? `?nextPageToken=${encodeURIComponent(token)}` : ""}`);
                names.push(...(r.json.units ?? []).map((u: { name: string }) => u.name));
                token = r.json.nextPageToken;
                if (token) tokens.push(token);
            } while (token);
            expect(names).to.deep.equal(["u1.service", "u2.service", "u3.service", "u4.service"]);
            expect(tokens).to.deep.equal(["AgACAA==", "AgADAA=="]); // limit 2, pages 2 and 3
            expect((await call("GET", "/units?nextPageToken=bogus")).status).to.equal(400);
        });

        it("schedules MachineOf next to its peer, MachineMetadata on matching machines, Global everywhere", async () => {
            await call("PUT", "/units/db.service", { options, desiredState: "loaded" });
            await call("PUT", "/units/db-side.service", { options: [...options, xf("MachineOf", "db.service")], desiredState: "loaded" });
            await call("PUT", "/units/n.service", { options: [...options, xf("MachineMetadata", "role=db")], desiredState: "loaded" });
            await call("PUT", "/units/g.service", { options: [...options, xf("Global", "true")], desiredState: "loaded" });
            server.tick();
            server.tick();
            const states = server.states();
            expect(states.find((s) => s.name === "db-side.service")?.machineID).to.equal(states.find((s) => s.name === "db.service")?.machineID);
            expect(states.filter((s) => s.name === "n.service")).to.have.length(0);
            expect(states.filter((s) => s.name === "g.service")).to.have.length(3);
        });

        it("slows transitions with ticksPerStep (systemd's share of fleet's 2-18 s)", async () => {
            const slow = await FleetConformanceServer.start({ host: "127.0.51.3", tickMs: 0, ticksPerStep: 3 });
            try {
                await request(slow.endpoint, "PUT", "/fleet/v1/units/a.service", { options, desiredState: "loaded" });
                slow.tick();
                slow.tick();
                expect(slow.states()).to.deep.equal([]);
                slow.tick();
                expect(slow.states().map((st) => st.systemdActiveState)).to.deep.equal(["inactive"]);
            } finally {
                await slow.close();
            }
        });

        it("injects 503, hangs, errors and resets, then recovers", async () => {
            server.faults.push({ kind: "unavailable", times: 1 });
            expect((await call("GET", "/units")).status).to.equal(503);
            expect((await call("GET", "/units")).status).to.equal(200);
            server.faults.push({ kind: "hang", times: 1, path: "/machines" });
            const hung = await request(server.endpoint, "GET", "/fleet/v1/machines", undefined, undefined, 300).then(() => undefined, (e: Error) => e);
            expect(hung?.message).to.match(/timed out/);
            server.faults.push({ kind: "reset", times: 1 });
            expect(await call("GET", "/units").then(() => "answered", () => "reset")).to.equal("reset");
            expect((await call("GET", "/machines")).json.machines).to.have.length(2); // page size 2 of 3
        });

        it("listens on a unix socket", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-conf-"));
            const sock = await FleetConformanceServer.start({ socketPath: path.join(dir, "fleet.sock"), tickMs: 0 });
            try {
                expect((await request(sock.endpoint, "PUT", "/fleet/v1/units/s.service", { options })).status).to.equal(201);
            } finally {
                await sock.close();
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
