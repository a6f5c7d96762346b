// The conformance server checked against shared/reference/fleet-api.md with raw HTTP, so the
// client tests that rely on it rest on rules that were themselves tested.
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string; json: any }

function request(endpoint: string, method: string, urlPath: string, body?: unknown, contentType = "application/json", timeoutMs = 2000): Promise<Answer> {
    const target = endpoint.startsWith("unix://") ? { socketPath: endpoint.slice("unix://".length) } : { host: new URL(endpoint).hostname, port: Number(new URL(endpoint).port) };
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
        const req = http.request({ ...target, method, path: urlPath, timeout: timeoutMs, headers: payload === undefined ? {} : { "Content-Type": contentType } }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c));
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text, json: text ? JSON.parse(text) : undefined }));
        });
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", reject);
        req.end(payload);
    });
}

const options = [
    { section: "Unit", name: "Description", value: "web" },
    { section: "Service", name: "ExecStart", value: "/bin/true" },
];

describe("fleet API v1 conformance server (the test double itself)", () => {
    let server: FleetConformanceServer;
    const call = (method: string, p: string, body?: unknown, ct?: string) => request(server.endpoint, method, `/fleet/v1${p}`, body, ct);

    beforeEach(async () => { server = await FleetConformanceServer.start({ host: "127.0.6.2", tickMs: 0, pageSize: 2 }); });
    afterEach(async () => { await server.close(); });

    it("serves /fleet/v1 and /v1-alpha with a fleetd Server header, and JSON errors elsewhere", async () => {
        const a = await call("GET", "/units");
        expect(a.status).to.equal(200);
        expect(a.headers.server).to.match(/^fleetd\/\d/);
        expect(a.json).to.deep.equal({}); // empty lists come back as {}
        expect((await request(server.endpoint, "GET", "/v1-alpha/machines")).status).to.equal(200);
        const missing = await request(server.endpoint, "GET", "/fleet/v2/units");
        expect(missing.status).to.equal(404);
        expect(missing.json).to.deep.equal({ error: { code: 404, message: "not found" } });
    });

    it("answers 405 to methods a path does not allow", async () => {
        expect((await call("POST", "/units", {})).status).to.equal(405);
        expect((await call("PUT", "/state", {})).status).to.equal(405);
        expect((await call("DELETE", "/machines")).status).to.equal(405);
        const r = await call("POST", "/units/a.service", {});
        expect(r.status).to.equal(405);
        expect(r.json.error.code).to.equal(405);
    });

    it("creates with 201 (desiredState defaults to inactive), 409 without options, 415 without JSON, 400 on bad JSON", async () => {
        expect((await call("PUT", "/units/a.service", { name: "a.service", desiredState: "launched" })).status).to.equal(409);
        expect((await call("PUT", "/units/a.service", JSON.stringify({ options }), "text/plain")).status).to.equal(415);
        expect((await call("PUT", "/units/a.service", "{not json")).status).to.equal(400);
        expect((await call("PUT", "/units/a.service", { name: "b.service", options })).status).to.equal(400);
        expect(server.unitNames()).to.deep.equal([]);
        expect((await call("PUT", "/units/a.service", { options }, "application/json; charset=utf-8")).status).to.equal(201);
        const got = await call("GET", "/units/a.service");
        expect(got.json).to.deep.include({ name: "a.service", desiredState: "inactive", currentState: "inactive" });
        expect(got.json.options).to.deep.equal(options);
    });

    it("refuses invalid names, X-Fleet combinations and option lines of 2048 bytes or more with 400", async () => {
        for (const bad of ["@a.service", "a.conf", "a b.service", `${"a".repeat(250)}.service`, "a@.mount"]) {
            const r = await call("PUT", `/units/${encodeURIComponent(bad)}`, { options });
            expect(r.status, bad).to.equal(400);
        }
        const combos = [[["MachineID", "m1"], ["Conflicts", "x*"]], [["Global", "yes"], ["Replaces", "b.service"]], [["Conflicts", "x*"], ["Replaces", "b.service"]], [["Global", "on"], ["MachineOf", "b.service"]]];
        for (const c of combos) {
            const r = await call("PUT", "/units/c.service", { options: [...options, ...c.map(([name, value]) => ({ section: "X-Fleet", name, value }))] });
            expect(r.status, JSON.stringify(c)).to.equal(400);
        }
        const line = (n: number) => [{ section: "Service", name: "ExecStart", value: "x".repeat(n - 10) }];
        expect((await call("PUT", "/units/long.service", { options: line(2048) })).status).to.equal(400);
        expect((await call("PUT", "/units/long.service", { options: line(2047) })).status).to.equal(201);
    });

    it("updates desiredState with 204, requires it (409), and replaces on different options (201, state reset)", async () => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        expect((await call("PUT", "/units/a.service", { options })).status).to.equal(409);
        expect((await call("PUT", "/units/a.service", {})).status).to.equal(409);
        expect((await call("PUT", "/units/a.service", { desiredState: "loaded" })).status).to.equal(204);
        expect((await call("PUT", "/units/a.service", { options, desiredState: "launched" })).status).to.equal(204);
        expect((await call("PUT", "/units/a.service", { desiredState: "running" })).status).to.equal(400);
        const changed = [...options, { section: "Service", name: "Restart", value: "always" }];
        expect((await call("PUT", "/units/a.service", { options: changed })).status).to.equal(201);
        expect(server.unit("a.service")).to.deep.include({ desiredState: "inactive", options: changed });
    });

    it("never lets a template be anything but inactive", async () => {
        expect((await call("PUT", "/units/t@.service", { options, desiredState: "launched" })).status).to.equal(400);
        expect((await call("PUT", "/units/t@.service", { options, desiredState: "inactive" })).status).to.equal(201);
        expect((await call("PUT", "/units/t@.service", { desiredState: "loaded" })).status).to.equal(400);
        expect((await call("PUT", "/units/t@1.service", { options, desiredState: "launched" })).status).to.equal(201);
    });

    it("deletes with 204 and 404, and GET of a missing unit is 404", async () => {
        await call("PUT", "/units/a.service", { options });
        expect((await call("DELETE", "/units/a.service")).status).to.equal(204);
        expect((await call("DELETE", "/units/a.service")).status).to.equal(404);
        const r = await call("GET", "/units/a.service");
        expect(r.status).to.equal(404);
        expect(r.json.error.message).to.be.a("string");
    });

    it("paginates with opaque tokens, including an empty last page when the previous one was full", async () => {
        for (const n of [1, 2, 3, 4]) await call("PUT", `/units/u${n}.service`, { options });
        const names: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
            const r = await call("GET", `/units${token ? `?nextPageToken=${encodeURIComponent(token)}` : ""}`);
            expect(r.status).to.equal(200);
            names.push(...(r.json.units ?? []).map((u: { name: string }) => u.name));
            token = r.json.nextPageToken;
            pages++;
        } while (token);
        expect(names).to.deep.equal(["u1.service", "u2.service", "u3.service", "u4.service"]);
        expect(pages).to.equal(3);
        expect((await call("GET", "/units?nextPageToken=bogus")).status).to.equal(400);
    });

    it("walks one state per tick towards desiredState and reports it in /state with filters", async () => {
        await call("PUT", "/units/a.service", { options, desiredState: "launched" });
        expect((await call("GET", "/state")).json).to.deep.equal({});
        server.tick();
        let states = (await call("GET", "/state")).json.states;
        expect(states).to.have.length(1);
        expect(states[0]).to.deep.include({ name: "a.service", systemdLoadState: "loaded", systemdActiveState: "inactive" });
        server.tick();
        states = (await call("GET", "/state?unitName=a.service")).json.states;
        expect(states[0]).to.deep.include({ systemdActiveState: "active", systemdSubState: "running" });
        expect((await call("GET", `/state?machineID=${states[0].machineID}`)).json.states).to.have.length(1);
        expect((await call("GET", "/state?machineID=nope")).json).to.deep.equal({});
        expect((await call("GET", "/units/a.service")).json).to.deep.include({ currentState: "launched", machineID: states[0].machineID });
        server.neverConverge = true; // fault knob: nothing moves any more
        await call("PUT", "/units/a.service", { desiredState: "inactive" });
        server.tick();
        expect((await call("GET", "/state")).json.states).to.have.length(1);
        server.neverConverge = false;
        server.tick();
        server.tick();
        expect((await call("GET", "/state")).json).to.deep.equal({});
    });

    it("runs a Global unit on every machine and honours MachineMetadata (a unit with no eligible machine never starts)", async () => {
        await call("PUT", "/units/g.service", { options: [...options, { section: "X-Fleet", name: "Global", value: "true" }], desiredState: "loaded" });
        await call("PUT", "/units/n.service", { options: [...options, { section: "X-Fleet", name: "MachineMetadata", value: "role=db" }], desiredState: "loaded" });
        server.tick();
        const all: any[] = [];
        let token = "";
        do {
            const r = await call("GET", `/state${token ? `?nextPageToken=${token}` : ""}`);
            all.push(...(r.json.states ?? []));
            token = r.json.nextPageToken ?? "";
        } while (token);
        expect(all.filter((s) => s.name === "g.service")).to.have.length(3);
        expect(all.filter((s) => s.name === "n.service")).to.have.length(0);
    });

    it("injects 503, hangs and errors, then recovers", async () => {
        server.faults.push({ kind: "unavailable", times: 1 });
        const r = await call("GET", "/units");
        expect(r.status).to.equal(503);
        expect(r.json.error.code).to.equal(503);
        expect((await call("GET", "/units")).status).to.equal(200);
        server.faults.push({ kind: "hang", times: 1, path: "/machines" });
        let err: Error | undefined;
        await request(server.endpoint, "GET", "/fleet/v1/machines", undefined, undefined, 300).catch((e) => (err = e));
        expect(err?.message).to.match(/timed out/);
        expect((await call("GET", "/machines")).json.machines).to.have.length(2); // page size 2 of 3
    });

    it("listens on a unix socket", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-conf-"));
        const sock = await FleetConformanceServer.start({ socketPath: path.join(dir, "fleet.sock"), tickMs: 0 });
        try {
            expect(sock.endpoint).to.equal(`unix://${path.join(dir, "fleet.sock")}`);
            expect((await request(sock.endpoint, "PUT", "/fleet/v1/units/s.service", { options })).status).to.equal(201);
        } finally {
            await sock.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
