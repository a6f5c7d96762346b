// A fleet API v1 conformance server: an in-test HTTP server that answers as real fleetd v1.0.0
// does (shared/reference/fleet-api.md, including "Observed behaviour of real fleetd"), so fleet
// clients can be tested where fleetd cannot run. It is NOT fleet: units live in memory and a
// simulated cluster (fleet-conformance-cluster.ts) schedules them on a tick. Where fleetd crashes
// (a handler panic resets the connection) or answers 500, this server does the same.
import * as http from "http";
import type { AddressInfo } from "net";
import { ClusterOptions, ConformanceMachine, SimulatedCluster, StoredUnit } from "./fleet-conformance-cluster";
import {
    combinationError, ConformanceState, ConformanceUnitOption, contentTypeError, decodeOptions, encodePageToken, ETCD_AWAY, HttpError,
    isTemplate, lineError, nameError, pageTokenOf, requirements, STATES, storedOptions,
} from "./fleet-conformance-rules";
import { DISCOVERY_DOCUMENT } from "./fleet-conformance-discovery";

export type { ConformanceMachine, StoredUnit } from "./fleet-conformance-cluster";
export type { ConformanceState, ConformanceUnitOption } from "./fleet-conformance-rules";
export interface RecordedRequest { method: string; path: string; contentType?: string; body: string }
/** Injected fault: answers matching requests `times` times (default: until cleared). */
export interface Fault {
    kind: "unavailable" | "hang" | "error" | "reset";
    method?: string;
    /** Matches the path (after /fleet/v1), e.g. /units/web.service, or a RegExp. */
    path?: string | RegExp;
    times?: number;
    status?: number;
}
export interface ConformanceServerOptions extends ClusterOptions {
    host?: string;
    port?: number;
    /** Listen on a unix socket instead of TCP. */
    socketPath?: string;
    version?: string;
    pageSize?: number;
    /** Milliseconds between reconcile ticks (fleet: ~2 s); 0 = only explicit tick() calls. Default 20. */
    tickMs?: number;
    /** fleetd started before etcd is reachable: 503 on every path until restoreEtcd(). */
    startWithoutEtcd?: boolean;
}

export class FleetConformanceServer {
    readonly requests: RecordedRequest[] = [];
    readonly faults: Fault[] = [];
    endpoint = "";
    readonly cluster: SimulatedCluster;
    private readonly server: http.Server;
    private timer?: NodeJS.Timeout;
    /** While etcd is away: since when, and how long real fleetd's empty 500s last before its 503s. */
    private etcdAway?: { since: number; emptyErrorMs: number };

    private constructor(private readonly opts: ConformanceServerOptions) {
        this.cluster = new SimulatedCluster(opts);
        if (opts.startWithoutEtcd) this.etcdAway = { since: Date.now(), emptyErrorMs: 0 };
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

    get stuckUnits(): Set<string> { return this.cluster.stuckUnits; }
    get neverConverge(): boolean { return this.cluster.neverConverge; }
    set neverConverge(v: boolean) { this.cluster.neverConverge = v; }
    get machines(): ConformanceMachine[] { return this.cluster.machines; }
    /** Machines whose agent a launched template stopped for good (real fleetd; never pushed by the product). */
    get wedgedMachines(): string[] { return [...this.cluster.wedgedMachines]; }
    /** Units whose process exits as soon as it starts (systemd: failed), besides ExecStart=/bin/false. */
    get exitingUnits(): Set<string> { return this.cluster.exitingUnits; }
    /** Nothing moves while etcd is away: fleet's engine and agents work through it too. */
    tick(): void { if (!this.etcdAway) this.cluster.tick(); }

    /**
     * etcd goes away, as real fleetd presents it: every endpoint but /discovery answers 500 with no
     * message for `emptyErrorMs` (real fleetd: about 20 s), then 503 `fleet server unable to
     * communicate with etcd` without a Server header, until restoreEtcd().
     */
    loseEtcd(opts: { emptyErrorMs?: number } = {}): void { this.etcdAway = { since: Date.now(), emptyErrorMs: opts.emptyErrorMs ?? 20000 }; }
    /** etcd is back: fleetd recovers by itself. */
    restoreEtcd(): void { this.etcdAway = undefined; }

    unit(name: string): StoredUnit | undefined {
        const u = this.cluster.units.get(name);
        return u && JSON.parse(JSON.stringify(u));
    }
    unitNames(): string[] { return [...this.cluster.units.keys()].sort(); }
    /** What GET /state would answer now (all pages). */
    states() { return this.cluster.states(); }
    /** Requests that reached unit, state or machine endpoints. */
    apiRequests(): RecordedRequest[] { return this.requests.filter((r) => /\/(units|state|machines)/.test(r.path)); }

    /** Drift helpers: what an operator does with fleetctl behind the provider's back. */
    putByHand(name: string, options: ConformanceUnitOption[], desiredState: ConformanceState = "launched"): void { this.cluster.put(name, options, desiredState); }
    setDesiredStateByHand(name: string, desiredState: ConformanceState): void { this.cluster.units.get(name)!.desiredState = desiredState; }
    removeByHand(name: string): void { this.cluster.delete(name); }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "http://conformance");
            const body = Buffer.concat(chunks).toString("utf8");
            this.requests.push({ method: req.method ?? "", path: url.pathname + url.search, contentType: req.headers["content-type"], body });
            res.setHeader("Server", `fleetd/${this.opts.version ?? "v1.0.0"}`);
            const apiPath = url.pathname.replace(/^\/fleet\/v1(?=\/|$)|^\/v1-alpha(?=\/|$)/, "");
            if (this.etcdAway && (this.opts.startWithoutEtcd || apiPath !== "/discovery")) return this.answerWithoutEtcd(res);
            const fault = this.faults.find((f) => (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && matches(f.path, safeDecode(apiPath)));
            if (fault) {
                if (fault.times !== undefined) fault.times--;
                if (fault.kind === "hang") return; // never answered; the client must time out
                if (fault.kind === "reset") return void req.socket.destroy();
                if (fault.kind === "unavailable") return void (res.removeHeader("Server"), sendError(res, 503, ETCD_AWAY));
                return sendError(res, fault.status ?? 500, "injected failure");
            }
            try {
                // fleetd's root handler answers 405 to "/" and to the bare API prefix
                if (apiPath === "" || apiPath === "/" || url.pathname === "/") throw new HttpError(405, "");
                if (apiPath === url.pathname) throw new HttpError(404, "");
                this.route(req.method ?? "", apiPath, url, req, body, res);
            } catch (e) {
                if (e instanceof PanicReset) return void req.socket.destroy();
                if (e instanceof HttpError) sendError(res, e.status, e.message);
                else sendError(res, 500, String(e));
            }
        });
    }

    private answerWithoutEtcd(res: http.ServerResponse): void {
        const away = this.etcdAway!;
        // the API's handlers fail on the registry first (500, no message); once fleetd notices, its
        // unavailable handler, outside the middleware that adds Server, answers 503
        if (Date.now() - away.since < away.emptyErrorMs) return sendError(res, 500, "");
        res.removeHeader("Server");
        sendError(res, 503, ETCD_AWAY);
    }

    private route(method: string, path: string, url: URL, req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
        const query = url.searchParams;
        // fleetd sends no Allow header with its 405s; the texts are fleet's (api/units.go, state.go, machines.go)
        const allow = (methods: string[], message: string) => { if (!methods.includes(method)) throw new HttpError(405, `${message} against this resource`); };
        const item = /^\/units\/([^/]+)$/.exec(path);
        const units = () => [...this.cluster.units.values()].sort(byName);
        if (path === "/units") {
            allow(["GET"], "only GET supported");
            // a unit whose stored desiredState fleetd cannot decode is silently left out (observed)
            return sendJson(res, 200, this.page("units", units().filter((u) => !bogus(u)).map((u) => unitJson(u, true)), url));
        }
        if (item) {
            allow(["GET", "PUT", "DELETE"], "only GET, PUT and DELETE supported");
            const name = safeDecode(item[1]);
            if (method === "PUT") return void res.writeHead(this.put(name, req, body)).end();
            const u = this.cluster.units.get(name);
            if (!u) throw new HttpError(404, "unit does not exist");
            if (bogus(u)) throw new HttpError(500, ""); // fleetd cannot decode the stored desired state any more
            if (method === "GET") return sendJson(res, 200, unitJson(u));
            this.cluster.delete(name);
            return void res.writeHead(204).end();
        }
        const one = /^\/state\/([^/]+)$/.exec(path);
        if (one) {
            allow(["GET"], "only GET supported");
            const state = this.cluster.states().find((s) => s.name === safeDecode(one[1]));
            if (!state) throw new PanicReset(); // fleetd's handler dereferences a nil state
            return sendJson(res, 200, state);
        }
        if (path === "/state") {
            allow(["GET"], "only GET supported");
            const states = this.cluster.states().filter((s) => (!query.get("unitName") || s.name === query.get("unitName")) && (!query.get("machineID") || s.machineID === query.get("machineID")));
            return sendJson(res, 200, this.page("states", states, url));
        }
        // PATCH (machine metadata) is fleet's too; the product never uses it, so it is not served
        if (path === "/machines") { allow(["GET"], "only GET and PATCH supported"); return sendJson(res, 200, this.page("machines", this.cluster.machines, url)); }
        if (path === "/discovery") {
            if (method !== "GET") throw new HttpError(400, "only HTTP GET supported against this resource");
            return sendJson(res, 200, DISCOVERY_DOCUMENT);
        }
        throw new HttpError(404, "");
    }

    private put(name: string, req: http.IncomingMessage, body: string): number {
        // every Content-Type header counts (Node keeps only the first in req.headers)
        const typeProblem = contentTypeError(req.rawHeaders.flatMap((h, i) => (i % 2 === 0 && h.toLowerCase() === "content-type" ? [req.rawHeaders[i + 1]] : [])));
        if (typeProblem) throw new HttpError(415, typeProblem);
        let su: Record<string, unknown> | null;
        try { su = JSON.parse(body); } catch (e) { throw new HttpError(400, `unable to decode body: ${(e as Error).message}`); }
        if (su !== null && (typeof su !== "object" || Array.isArray(su))) throw new HttpError(400, "unable to decode body: not an object");
        su = su ?? {}; // a JSON null body decodes to an empty unit: 409 below
        if (su.name !== undefined && su.name !== name) throw new HttpError(400, `name in URL "${name}" differs from unit name in request body "${String(su.name)}"`);
        const problem = nameError(name);
        if (problem) throw new HttpError(400, problem);
        const desired = (su.desiredState ?? undefined) as string | undefined; // JSON null: as if absent (201, inactive)
        const options = su.options === undefined || su.options === null ? undefined : decodeOptions(su.options);
        const existing = this.cluster.units.get(name);
        if (!existing || (options && options.length > 0 && !sameOptions(existing.options, storedOptions(options)))) {
            if (!options || options.length === 0) throw new HttpError(409, "unit does not exist and options field empty");
            const tooLong = lineError(options);
            if (tooLong) throw new HttpError(400, tooLong);
            if (!existing) {
                const combination = combinationError(name, options);
                if (combination) throw new HttpError(400, combination);
                if (desired !== undefined && !STATES.includes(desired as ConformanceState)) throw new HttpError(500, ""); // fleetd: no check, an internal error
            }
            // A new template may even be created launched: fleetd stores it so, and the cluster then
            // wedges the machine it lands on, as real fleetd's agent is (fleet-conformance-cluster.ts).
            this.cluster.put(name, storedOptions(options), desired ?? "inactive");
            return 201;
        }
        if (bogus(existing)) throw new HttpError(500, ""); // fleetd cannot decode the stored unit (observed)
        if (desired === undefined) throw new HttpError(409, "must provide DesiredState to update existing unit");
        if (isTemplate(name) && desired !== "inactive") throw new HttpError(400, `cannot activate template "${name}"`);
        existing.desiredState = desired; // a bogus value is stored (204); the unit then answers 500
        return 204;
    }

    private page(kind: string, items: unknown[], url: URL): Record<string, unknown> {
        const { limit, page } = pageTokenOf(url.searchParams.getAll("nextPageToken"), this.opts.pageSize ?? 100);
        const out: Record<string, unknown> = {};
        const pageItems = items.slice((page - 1) * limit, page * limit);
        if (pageItems.length > 0) out[kind] = pageItems;
        // fleet hands out a token whenever the page is full, even if nothing follows
        if (pageItems.length === limit) out.nextPageToken = encodePageToken(limit, page + 1);
        return out;
    }
}

class PanicReset extends Error {}
const bogus = (u: StoredUnit) => !STATES.includes(u.desiredState as ConformanceState);
function safeDecode(p: string): string {
    try { return decodeURIComponent(p); } catch { return p; }
}
function matches(pattern: string | RegExp | undefined, path: string): boolean {
    if (pattern === undefined) return true;
    return typeof pattern === "string" ? path === pattern : pattern.test(path);
}
function sameOptions(a: ConformanceUnitOption[], b: ConformanceUnitOption[]): boolean {
    return JSON.stringify(a.map((o) => [o.section, o.name, o.value])) === JSON.stringify(b.map((o) => [o.section, o.name, o.value]));
}
function byName(a: { name: string }, b: { name: string }): number { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; }
function unitJson(u: StoredUnit, listed = false): Record<string, unknown> {
    const out: Record<string, unknown> = { name: u.name, options: u.options, desiredState: u.desiredState };
    // a Global unit has no single machine: a GET of it has neither currentState nor machineID; the list says inactive
    if (requirements(u.name, u.options).global) return listed ? { ...out, currentState: "inactive" } : out;
    out.currentState = u.currentState;
    if (u.machineIDs.length === 1) out.machineID = u.machineIDs[0];
    return out;
}
function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(value));
}
function sendError(res: http.ServerResponse, code: number, message: string): void {
    sendJson(res, code, { error: { code, message } });
}
