// A fleet API v1 conformance server: an in-test HTTP server that enforces the rules of
// shared/reference/fleet-api.md, so fleet clients can be tested where fleetd cannot run.
// It is NOT fleet: it keeps units in memory and simulates scheduling with a tick.
// Its rules are written from the reference on purpose, independently of model/fleet-rules.ts,
// so a bug shared by the client's validation and the server cannot hide.
import * as crypto from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

export interface ConformanceUnitOption { section: string; name: string; value: string }
export type ConformanceState = "inactive" | "loaded" | "launched";
export interface ConformanceMachine { id: string; primaryIP: string; metadata?: Record<string, string> }
export interface StoredUnit {
    name: string;
    options: ConformanceUnitOption[];
    desiredState: ConformanceState;
    currentState: ConformanceState;
    machineIDs: string[];
}
export interface RecordedRequest { method: string; path: string; contentType?: string; body: string }
/** Injected fault: answers matching requests `times` times (default: until cleared). */
export interface Fault {
    kind: "unavailable" | "hang" | "error";
    method?: string;
    /** Matches the path (after /fleet/v1), e.g. /units/web.service, or a RegExp. */
    path?: string | RegExp;
    times?: number;
    status?: number;
}
export interface ConformanceServerOptions {
    host?: string;
    port?: number;
    /** Listen on a unix socket instead of TCP. */
    socketPath?: string;
    version?: string;
    pageSize?: number;
    /** Milliseconds between scheduling steps; 0 = only explicit tick() calls. */
    tickMs?: number;
    machines?: ConformanceMachine[];
}

const STATES: ConformanceState[] = ["inactive", "loaded", "launched"];
const SUFFIXES = ["automount", "busname", "device", "mount", "path", "scope", "service", "slice", "snapshot", "socket", "swap", "target", "timer"];
const TEMPLATE_SUFFIXES = ["path", "service", "socket", "target", "timer"];
const TRUE_VALUES = ["true", "yes", "1", "on", "t"];

class HttpError extends Error {
    constructor(public readonly status: number, message: string) { super(message); }
}

export function conformanceNameError(name: string): string | undefined {
    if (name.length === 0) return "unit name cannot be empty";
    if (name.length > 256) return "unit name exceeds maximum length (256)";
    if (/[^A-Za-z0-9:_.@-]/.test(name)) return "invalid character in unit name";
    if (name[0] === "@") return `unit name cannot start in "@"`;
    const dot = name.lastIndexOf(".");
    if (dot <= 0 || !SUFFIXES.includes(name.slice(dot + 1))) return `invalid unit type in "${name}"`;
    if (name[dot - 1] === "@" && !TEMPLATE_SUFFIXES.includes(name.slice(dot + 1))) return `invalid template unit type in "${name}"`;
    return undefined;
}

const isTemplate = (name: string) => /^[^@]+@\.[a-z]+$/.test(name);

export function conformanceOptionsError(options: unknown): string | undefined {
    if (!Array.isArray(options)) return "options must be a list";
    for (const o of options) {
        if (typeof o !== "object" || o === null || ["section", "name", "value"].some((k) => typeof (o as Record<string, unknown>)[k] !== "string")) {
            return "each option needs string section, name and value";
        }
        if (Buffer.byteLength(`${o.name}=${o.value}`) >= 2048) return `option line ${o.section}.${o.name} too long (max 2047 bytes)`;
    }
    const fleet = (options as ConformanceUnitOption[]).filter((o) => o.section === "X-Fleet");
    const present = (key: string) => fleet.some((o) => o.name === key && o.value.trim() !== "");
    const globals = fleet.filter((o) => o.name === "Global");
    const global = globals.length > 0 && TRUE_VALUES.includes(globals[globals.length - 1].value.trim().toLowerCase());
    const rules: Array<[boolean, string]> = [
        [present("MachineID") && present("MachineOf"), "MachineID cannot be used with MachineOf"],
        [present("MachineID") && present("Conflicts"), "MachineID cannot be used with Conflicts"],
        [present("MachineID") && global, "MachineID cannot be used with Global"],
        [present("MachineID") && present("Replaces"), "MachineID cannot be used with Replaces"],
        [global && present("MachineOf"), "Global cannot be used with MachineOf"],
        [global && present("Replaces"), "Global cannot be used with Replaces"],
        [present("Conflicts") && present("Replaces"), "Conflicts cannot be used with Replaces"],
    ];
    return rules.find(([bad]) => bad)?.[1];
}

export class FleetConformanceServer {
    readonly requests: RecordedRequest[] = [];
    readonly faults: Fault[] = [];
    /** Units whose state never moves (simulates a unit that cannot start). */
    readonly stuckUnits = new Set<string>();
    neverConverge = false;
    endpoint = "";
    private readonly units = new Map<string, StoredUnit>();
    private readonly machines: ConformanceMachine[];
    private readonly server: http.Server;
    private timer?: NodeJS.Timeout;
    private readonly nonce = crypto.randomBytes(4).toString("hex");

    private constructor(private readonly opts: ConformanceServerOptions) {
        this.machines = opts.machines ?? [1, 2, 3].map((n) => ({ id: `m${n}${"0".repeat(30)}`, primaryIP: `10.0.0.${n}`, metadata: { role: "worker", zone: `z${n}` } }));
        this.server = http.createServer((req, res) => this.handle(req, res));
    }

    static async start(opts: ConformanceServerOptions = {}): Promise<FleetConformanceServer> {
        const s = new FleetConformanceServer(opts);
        await new Promise<void>((resolve, reject) => {
            s.server.once("error", reject);
            if (opts.socketPath) s.server.listen(opts.socketPath, resolve);
            else s.server.listen(opts.port ?? 0, opts.host ?? "127.0.6.1", resolve);
        });
        if (opts.socketPath) s.endpoint = `unix://${opts.socketPath}`;
        else { const a = s.server.address() as AddressInfo; s.endpoint = `http://${a.address}:${a.port}`; }
        const tickMs = opts.tickMs ?? 20;
        if (tickMs > 0) s.timer = setInterval(() => s.tick(), tickMs);
        return s;
    }

    async close(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }

    unit(name: string): StoredUnit | undefined {
        const u = this.units.get(name);
        return u && JSON.parse(JSON.stringify(u));
    }
    unitNames(): string[] { return [...this.units.keys()].sort(); }
    /** Requests that reached unit, state or machine endpoints (not faults' victims excluded). */
    apiRequests(): RecordedRequest[] { return this.requests.filter((r) => /\/(units|state|machines)/.test(r.path)); }

    /** Drift helpers: what an operator does with fleetctl behind the provider's back. */
    putByHand(name: string, options: ConformanceUnitOption[], desiredState: ConformanceState = "launched"): void {
        this.units.set(name, { name, options, desiredState, currentState: "inactive", machineIDs: [] });
    }
    setDesiredStateByHand(name: string, desiredState: ConformanceState): void { this.units.get(name)!.desiredState = desiredState; }
    removeByHand(name: string): void { this.units.delete(name); }

    /** One scheduling step: every unit moves one state towards its desired state. */
    tick(): void {
        if (this.neverConverge) return;
        for (const u of this.units.values()) {
            if (this.stuckUnits.has(u.name) || isTemplate(u.name)) continue;
            const cur = STATES.indexOf(u.currentState);
            const want = STATES.indexOf(u.desiredState);
            if (cur === want) continue;
            if (cur < want && u.currentState === "inactive") {
                u.machineIDs = this.placement(u);
                if (u.machineIDs.length === 0) continue; // nowhere to run: stays inactive, as fleet would
            }
            u.currentState = STATES[cur + Math.sign(want - cur)];
            if (u.currentState === "inactive") u.machineIDs = [];
        }
    }

    private placement(u: StoredUnit): string[] {
        const xf = u.options.filter((o) => o.section === "X-Fleet");
        const wanted = xf.filter((o) => o.name === "MachineMetadata").flatMap((o) => o.value.split(/\s+/)).filter(Boolean).map((kv) => kv.replace(/"/g, "").split("="));
        const machineID = xf.find((o) => o.name === "MachineID")?.value.trim();
        const eligible = this.machines.filter((m) => (!machineID || m.id === machineID) && wanted.every(([k, v]) => m.metadata?.[k] === v));
        const globals = xf.filter((o) => o.name === "Global");
        if (globals.length && TRUE_VALUES.includes(globals[globals.length - 1].value.trim().toLowerCase())) return eligible.map((m) => m.id);
        const load = (id: string) => [...this.units.values()].filter((x) => x.machineIDs.includes(id)).length;
        return eligible.length ? [eligible.reduce((a, b) => (load(b.id) < load(a.id) ? b : a)).id] : [];
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://conformance");
            const body = Buffer.concat(chunks).toString("utf8");
            this.requests.push({ method: req.method ?? "", path: url.pathname + url.search, contentType: req.headers["content-type"], body });
            res.setHeader("Server", `fleetd/${this.opts.version ?? "1.0.0"}`);
            const apiPath = url.pathname.replace(/^\/fleet\/v1(?=\/)|^\/v1-alpha(?=\/)/, "");
            const fault = this.faults.find((f) => (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && matches(f.path, safeDecode(apiPath)));
            if (fault) {
                if (fault.times !== undefined) fault.times--;
                if (fault.kind === "hang") return; // never answered; the client must time out
                return sendError(res, fault.kind === "unavailable" ? 503 : fault.status ?? 500, fault.kind === "unavailable" ? "fleetd cannot reach etcd" : "injected failure");
            }
            try {
                if (apiPath === url.pathname) throw new HttpError(404, "not found");
                this.route(req.method ?? "", apiPath, url.searchParams, req.headers["content-type"], body, res);
            } catch (e) {
                if (e instanceof HttpError) sendError(res, e.status, e.message);
                else sendError(res, 500, String(e));
            }
        });
    }

    private route(method: string, path: string, query: URLSearchParams, contentType: string | undefined, body: string, res: http.ServerResponse): void {
        const allow = (methods: string[]) => {
            if (!methods.includes(method)) { res.setHeader("Allow", methods.join(", ")); throw new HttpError(405, `only ${methods.join(", ")} supported against this resource`); }
        };
        const item = /^\/units\/([^/]+)$/.exec(path);
        if (path === "/units") { allow(["GET"]); return sendJson(res, 200, this.page("units", [...this.units.values()].sort(byName).map(unitJson), query)); }
        if (item) {
            allow(["GET", "PUT", "DELETE"]);
            const name = decodeURIComponent(item[1]);
            if (method === "GET") {
                const u = this.units.get(name);
                if (!u) throw new HttpError(404, "unit does not exist");
                return sendJson(res, 200, unitJson(u));
            }
            if (method === "DELETE") {
                if (!this.units.delete(name)) throw new HttpError(404, "unit does not exist");
                res.writeHead(204).end();
                return;
            }
            res.writeHead(this.put(name, contentType, body)).end();
            return;
        }
        if (path === "/state") {
            allow(["GET"]);
            const states = [...this.units.values()].sort(byName)
                .filter((u) => u.currentState !== "inactive" && (!query.get("unitName") || u.name === query.get("unitName")))
                .flatMap((u) => u.machineIDs.filter((m) => !query.get("machineID") || m === query.get("machineID")).map((machineID) => ({
                    name: u.name, hash: hashOf(u.options), machineID, systemdLoadState: "loaded",
                    systemdActiveState: u.currentState === "launched" ? "active" : "inactive",
                    systemdSubState: u.currentState === "launched" ? "running" : "dead",
                })));
            return sendJson(res, 200, this.page("states", states, query));
        }
        if (path === "/machines") { allow(["GET"]); return sendJson(res, 200, this.page("machines", this.machines, query)); }
        if (path === "/discovery") {
            allow(["GET"]);
            return sendJson(res, 200, { kind: "discovery#restDescription", name: "fleet", version: "v1", resources: { Units: {}, UnitState: {}, Machines: {} } });
        }
        throw new HttpError(404, "not found");
    }

    private put(name: string, contentType: string | undefined, body: string): number {
        if ((contentType ?? "").split(";")[0].trim().toLowerCase() !== "application/json") throw new HttpError(415, "expected Content-Type application/json");
        let su: Record<string, unknown>;
        try { su = JSON.parse(body); } catch (e) { throw new HttpError(400, `unable to decode body: ${(e as Error).message}`); }
        if (typeof su !== "object" || su === null || Array.isArray(su)) throw new HttpError(400, "unable to decode body: not an object");
        const bodyName = su.name ?? name;
        if (bodyName !== name) throw new HttpError(400, `name in URL "${name}" differs from unit name in request body "${String(bodyName)}"`);
        const nameError = conformanceNameError(name);
        if (nameError) throw new HttpError(400, nameError);
        const desired = su.desiredState as ConformanceState | undefined;
        if (desired !== undefined && !STATES.includes(desired)) throw new HttpError(400, `invalid desiredState "${String(desired)}"`);
        const options = su.options as ConformanceUnitOption[] | undefined;
        if (options !== undefined && options !== null && !Array.isArray(options)) throw new HttpError(400, "options must be a list");
        const hasOptions = Array.isArray(options) ? options.length > 0 : options !== undefined && options !== null;
        const existing = this.units.get(name);
        const refuseTemplateState = (state: ConformanceState | undefined) => {
            if (isTemplate(name) && state !== undefined && state !== "inactive") throw new HttpError(400, `template unit ${name} can only be inactive`);
        };
        if (!existing || (hasOptions && !sameOptions(existing.options, options!))) {
            if (!hasOptions) throw new HttpError(409, "unit does not exist and options field empty");
            const optionsError = conformanceOptionsError(options);
            if (optionsError) throw new HttpError(400, optionsError);
            refuseTemplateState(desired);
            this.units.set(name, { name, options: options!.map((o) => ({ section: o.section, name: o.name, value: o.value })), desiredState: desired ?? "inactive", currentState: "inactive", machineIDs: [] });
            return 201;
        }
        if (desired === undefined) throw new HttpError(409, "must provide DesiredState to update existing unit");
        refuseTemplateState(desired);
        existing.desiredState = desired;
        return 204;
    }

    private page(kind: string, items: unknown[], query: URLSearchParams): Record<string, unknown> {
        const limit = this.opts.pageSize ?? 100;
        let offset = 0;
        const token = query.get("nextPageToken");
        if (token !== null) {
            try {
                const t = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
                if (t.k !== kind || t.n !== this.nonce || !Number.isInteger(t.o) || t.o < 0) throw new Error("foreign token");
                offset = t.o;
            } catch { throw new HttpError(400, "invalid nextPageToken"); }
        }
        const out: Record<string, unknown> = {};
        const pageItems = items.slice(offset, offset + limit);
        if (pageItems.length > 0) out[kind] = pageItems;
        // fleet hands out a token whenever the page is full, even if nothing follows: clients must cope with an empty last page
        if (offset + limit <= items.length) out.nextPageToken = Buffer.from(JSON.stringify({ k: kind, o: offset + limit, n: this.nonce })).toString("base64url");
        return out;
    }
}

function safeDecode(p: string): string {
    try { return decodeURIComponent(p); } catch { return p; }
}
function matches(pattern: string | RegExp | undefined, path: string): boolean {
    if (pattern === undefined) return true;
    return typeof pattern === "string" ? path === pattern : pattern.test(path);
}
function sameOptions(a: ConformanceUnitOption[], b: ConformanceUnitOption[]): boolean {
    return JSON.stringify(a.map((o) => [o.section, o.name, o.value])) === JSON.stringify(b.map((o) => [o?.section, o?.name, o?.value]));
}
function hashOf(options: ConformanceUnitOption[]): string {
    return crypto.createHash("sha1").update(options.map((o) => `${o.section}\u0000${o.name}\u0000${o.value}`).join("\n")).digest("hex");
}
function byName(a: { name: string }, b: { name: string }): number { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; }
function unitJson(u: StoredUnit): Record<string, unknown> {
    const out: Record<string, unknown> = { name: u.name, options: u.options, desiredState: u.desiredState, currentState: u.currentState };
    if (u.machineIDs.length === 1) out.machineID = u.machineIDs[0];
    return out;
}
function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
}
function sendError(res: http.ServerResponse, code: number, message: string): void {
    sendJson(res, code, { error: { code, message } });
}
