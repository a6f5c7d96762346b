// A small client for fleet's HTTP API v1 (shared/reference/fleet-api.md) over http://host:port or
// unix:///path.sock, optionally through an SSH tunnel. fleet has no authentication, so the
// endpoint of a tunnelled fleet is treated as a secret: it never appears in errors.
import type * as http from "http";
import type { FleetDesiredState, FleetUnitOption, SshTunnelSpec } from "../../model/types";
import { templatePushProblem } from "../../model/fleet-rules";
import { isTransientError, transientAnswer } from "./fleet-answers";

export interface FleetConnectionArgs {
    /** `unix:///var/run/fleet.sock` or `http://host:port` (as seen from the SSH bastion when tunnelled). */
    endpoint: string;
    sshTunnel?: SshTunnelSpec;
    /** Per-request timeout (default 10000 ms). */
    timeoutMs?: number;
    /** Further attempts after a 503, a 500 with no message (fleetd away from etcd), a timeout or a dropped connection (default 3). */
    retries?: number;
    /** First backoff delay, doubled on each retry up to 4 s (default 250 ms). */
    retryDelayMs?: number;
}

export interface FleetApiUnit {
    name: string;
    options: FleetUnitOption[];
    desiredState?: FleetDesiredState;
    currentState?: FleetDesiredState;
    machineID?: string;
}
export interface FleetUnitState {
    name: string;
    hash?: string;
    machineID?: string;
    systemdLoadState?: string;
    systemdActiveState?: string;
    systemdSubState?: string;
}
export interface FleetMachine { id: string; primaryIP?: string; metadata?: Record<string, string> }
export interface WaitOptions {
    timeoutMs: number;
    pollMs?: number;
    /** Only states of this unit file (fleet's hash) count; see waitForState. */
    hash?: string;
}

export class FleetApiError extends Error {
    /** `transient`: fleetd was away from etcd (or unreachable) on every attempt; waiting longer may help. */
    constructor(message: string, public readonly status?: number, public readonly transient = false) {
        super(message);
        this.name = "FleetApiError";
    }
}

type Target = { socketPath: string } | { host: string; port: number };

export function parseFleetEndpoint(endpoint: string): Target {
    if (typeof endpoint !== "string" || endpoint.length === 0) throw new Error("fleet endpoint is empty");
    if (endpoint.startsWith("unix://")) {
        const socketPath = endpoint.slice("unix://".length);
        if (!socketPath.startsWith("/")) throw new Error("fleet endpoint unix:// needs an absolute socket path (unix:///var/run/fleet.sock)");
        return { socketPath };
    }
    let url: URL;
    try { url = new URL(endpoint); } catch { throw new Error("fleet endpoint must be unix:///path.sock or http://host:port"); }
    if (url.protocol !== "http:") throw new Error(`fleet endpoint scheme ${url.protocol} is not supported (fleet serves plain http or a unix socket)`);
    if (url.username || url.password) throw new Error("fleet endpoint must not carry credentials (fleet has no authentication)");
    if (url.pathname !== "/" && url.pathname !== "") throw new Error("fleet endpoint must not have a path (the client adds /fleet/v1)");
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) };
}

/** The state fleet reports for a unit in /state: launched only when every machine runs it. */
export function observedState(states: FleetUnitState[]): FleetDesiredState {
    if (states.length === 0) return "inactive";
    return states.every((s) => s.systemdActiveState === "active") ? "launched" : "loaded";
}

function describeStates(states: FleetUnitState[]): string {
    if (states.length === 0) return "inactive (not scheduled on any machine)";
    const detail = states.map((s) => `${s.systemdLoadState ?? "?"}/${s.systemdActiveState ?? "?"}/${s.systemdSubState ?? "?"} on ${(s.machineID ?? "?").slice(0, 8)}`);
    return `${observedState(states)} (${detail.join(", ")})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FleetClient {
    private constructor(
        private readonly args: FleetConnectionArgs,
        private readonly target: Target,
        private readonly closeTunnel?: () => Promise<void>,
    ) {}

    /** Opens the SSH tunnel when one is given; call close() when done (or use withFleetClient). */
    static async open(args: FleetConnectionArgs): Promise<FleetClient> {
        const redact = makeRedactor(args);
        let remote: Target;
        try { remote = parseFleetEndpoint(args.endpoint); } catch (e) { throw new FleetApiError(redact((e as Error).message)); }
        if (!args.sshTunnel) return new FleetClient(args, remote);
        const { openTunnel } = require("../etcd/ssh-tunnel") as typeof import("../etcd/ssh-tunnel");
        try {
            const tunnel = await openTunnel(args.sshTunnel, remote, { readyTimeoutMs: args.timeoutMs ?? 10000 });
            return new FleetClient(args, { host: tunnel.host, port: tunnel.port }, () => tunnel.close());
        } catch (e) {
            throw new FleetApiError(`${describeFleet(args)}: could not open the SSH tunnel: ${redact((e as Error).message)}`);
        }
    }

    async close(): Promise<void> {
        if (this.closeTunnel) await this.closeTunnel();
    }

    async getUnit(name: string): Promise<FleetApiUnit | undefined> {
        const r = await this.request("GET", `/units/${encodeURIComponent(name)}`);
        if (r.status === 404) return undefined;
        this.expect(r, [200], "GET", name);
        return { ...r.json, options: r.json.options ?? [] } as FleetApiUnit;
    }

    /** PUT a unit: "created" (201: new or replaced because options differ) or "updated" (204). */
    async putUnit(name: string, body: { options?: FleetUnitOption[]; desiredState?: FleetDesiredState }): Promise<"created" | "updated"> {
        // The last line of defence: real fleetd takes a launched template (201) and its agent never recovers.
        const hazard = templatePushProblem(name, body.desiredState);
        if (hazard) throw new FleetApiError(`${describeFleet(this.args)}: not sending PUT ${name}: ${hazard}`, 400);
        const r = await this.request("PUT", `/units/${encodeURIComponent(name)}`, { name, ...body });
        this.expect(r, [201, 204], "PUT", name);
        return r.status === 201 ? "created" : "updated";
    }

    /** true when deleted, false when there was nothing to delete (404). */
    async deleteUnit(name: string): Promise<boolean> {
        const r = await this.request("DELETE", `/units/${encodeURIComponent(name)}`);
        if (r.status === 404) return false;
        this.expect(r, [204], "DELETE", name);
        return true;
    }

    listUnits(): Promise<FleetApiUnit[]> { return this.listAll("/units", "units"); }
    listMachines(): Promise<FleetMachine[]> { return this.listAll("/machines", "machines"); }
    listStates(filter: { unitName?: string; machineID?: string } = {}): Promise<FleetUnitState[]> {
        const q = new URLSearchParams();
        if (filter.unitName) q.set("unitName", filter.unitName);
        if (filter.machineID) q.set("machineID", filter.machineID);
        return this.listAll(`/state${q.size ? `?${q}` : ""}`, "states");
    }

    /**
     * Polls /state until the unit reaches `desired`; fails naming the unit, the goal and what it saw last.
     * With `hash` (fleetUnitHash of the unit file just pushed), only states of that unit file count, and
     * fleet's own record of the unit must agree: after a delete and re-create, /state keeps the deleted
     * unit's entry (old hash, still active) for a while, and a name-only wait would take it for the new one.
     */
    async waitForState(name: string, desired: FleetDesiredState, opts: WaitOptions): Promise<void> {
        const deadline = Date.now() + opts.timeoutMs;
        const pollMs = opts.pollMs ?? 500;
        let last: FleetUnitState[] = [];
        let others: FleetUnitState[] = [];
        for (;;) {
            const all = (await this.listStates({ unitName: name })).filter((s) => s.name === name);
            last = opts.hash === undefined || desired === "inactive" ? all : all.filter((s) => s.hash === opts.hash);
            others = all.filter((s) => !last.includes(s));
            if (observedState(last) === desired && (desired === "inactive" || opts.hash === undefined || (await this.unitAgrees(name, desired)))) return;
            // systemd's "failed" is final (fleet restarts nothing): say so now, not at the timeout.
            // Only with the hash: an entry of another unit file may be a predecessor's.
            if (desired === "launched" && opts.hash !== undefined && last.some((s) => s.systemdActiveState === "failed")) {
                throw new FleetApiError(`fleet unit "${name}" did not reach desired state "launched": its process exited; systemd reports ${describeStates(last)} (fleet does not restart it; see journalctl -u ${name} on that machine)`);
            }
            if (Date.now() + pollMs > deadline) break;
            await sleep(pollMs);
        }
        const stale = others.length ? `; /state also holds ${others.length} entr${others.length === 1 ? "y" : "ies"} of another unit file (hash ${others[0].hash?.slice(0, 7) ?? "?"}, ${others[0].systemdActiveState ?? "?"}), e.g. a deleted predecessor` : "";
        const why = last.length === 0 && desired !== "inactive" ? await this.whyUnscheduled(name) : undefined;
        throw new FleetApiError(
            `fleet unit "${name}" did not reach desired state "${desired}" within ${opts.timeoutMs >= 1000 ? `${opts.timeoutMs / 1000} s` : `${opts.timeoutMs} ms`}; last seen: ${describeStates(last)}${stale}${why ? `; ${why}` : ""}`,
        );
    }

    /** fleet's record of the unit (its currentState) says it reached `desired`; Global units have none. */
    private async unitAgrees(name: string, desired: FleetDesiredState): Promise<boolean> {
        const unit = await this.getUnit(name);
        return unit !== undefined && (unit.currentState === undefined || unit.currentState === desired);
    }

    /** Why fleet has not scheduled the unit, when its X-Fleet requirements explain it. */
    private async whyUnscheduled(name: string): Promise<string | undefined> {
        try {
            const { unschedulableReason } = require("./fleet-scheduling") as typeof import("./fleet-scheduling");
            const [units, machines] = await Promise.all([this.listUnits(), this.listMachines()]);
            const unit = units.find((u) => u.name === name);
            if (!unit) return undefined;
            const reason = unschedulableReason(unit, units, machines);
            return reason && `fleet has not scheduled it: ${reason}`;
        } catch {
            return undefined; // the diagnosis is a courtesy; the timeout is the error
        }
    }

    private async listAll<T>(path: string, key: string): Promise<T[]> {
        const items: T[] = [];
        const seen = new Set<string>();
        let token: string | undefined;
        do {
            const sep = path.includes("?") ? "&" : "?";
            const r = await this.request("GET", token ? `${path}${sep}nextPageToken=${encodeURIComponent(token)}` : path);
            this.expect(r, [200], "GET", path.split("?")[0].slice(1));
            items.push(...((r.json?.[key] as T[] | undefined) ?? []));
            token = r.json?.nextPageToken || undefined;
            if (token && seen.has(token)) throw new FleetApiError(`${describeFleet(this.args)}: GET ${path} returned the same page token twice`);
            if (token) seen.add(token);
        } while (token);
        return items;
    }

    private expect(r: { status: number; json: any }, ok: number[], method: string, what: string): void {
        if (ok.includes(r.status)) return;
        // fleetd's 404s and 500s carry an empty message
        const message = r.json?.error?.message || (r.status >= 500 ? "fleetd failed internally (no error message)" : "no error message");
        throw new FleetApiError(makeRedactor(this.args)(`${describeFleet(this.args)} refused ${method} ${what} (HTTP ${r.status}): ${message}`), r.status);
    }

    /**
     * One API call with bounded retries while fleetd is away from etcd (503, or the 500s with no
     * message it gives first: fleet-answers.ts), on timeouts and on dropped connections.
     */
    private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
        const what = `${method} ${decodeURIComponent(path.split("?")[0])}`;
        const retries = this.args.retries ?? 3;
        let delay = this.args.retryDelayMs ?? 250;
        let lastCause = "";
        let lastStatus: number | undefined;
        for (let attempt = 0; attempt <= retries; attempt++) {
            if (attempt > 0) { await sleep(delay); delay = Math.min(delay * 2, 4000); }
            try {
                const r = await this.once(method, path, body);
                const transient = transientAnswer(r.status, r.text, r.json);
                if (!transient) return r;
                [lastCause, lastStatus] = [transient, r.status];
            } catch (e) {
                const err = e as NodeJS.ErrnoException;
                if (!isTransientError(err)) throw new FleetApiError(makeRedactor(this.args)(`${describeFleet(this.args)}: ${what} failed: ${err.message}`));
                [lastCause, lastStatus] = [err.message, undefined];
            }
        }
        throw new FleetApiError(makeRedactor(this.args)(
            `${describeFleet(this.args)}: ${what} failed after ${retries + 1} attempts (fleetd away from etcd, timeouts or dropped connections); last: ${lastCause}`,
        ), lastStatus ?? 503, true);
    }

    private once(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
        const httpMod = require("http") as typeof import("http");
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const timeoutMs = this.args.timeoutMs ?? 10000;
        return new Promise((resolve, reject) => {
            const options: http.RequestOptions = {
                ...this.target,
                method,
                path: `/fleet/v1${path}`,
                agent: false,
                headers: payload === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) },
            };
            const req = httpMod.request(options, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    clearTimeout(timer);
                    const text = Buffer.concat(chunks).toString("utf8");
                    let json: any;
                    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
                    resolve({ status: res.statusCode ?? 0, json, text });
                });
                res.on("error", reject);
            });
            const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })), timeoutMs);
            req.on("error", (e) => { clearTimeout(timer); reject(e); });
            req.end(payload);
        });
    }
}

/** How errors name the fleet API: by endpoint when direct, never by endpoint when tunnelled. */
export function describeFleet(args: FleetConnectionArgs): string {
    return args.sshTunnel ? "fleet API (through SSH tunnel)" : `fleet API at ${args.endpoint}`;
}

/** Strips the tunnelled endpoint, the bastion's address and the private key from a message. */
export function makeRedactor(args: FleetConnectionArgs): (message: string) => string {
    const secrets: string[] = [];
    if (args.sshTunnel) {
        secrets.push(args.endpoint);
        try {
            const t = parseFleetEndpoint(args.endpoint);
            secrets.push("socketPath" in t ? t.socketPath : `${t.host}:${t.port}`);
        } catch { /* unparseable endpoints are already named generically */ }
        const s = args.sshTunnel;
        secrets.push(`${s.username}@${s.host}:${s.port}`, `${s.host}:${s.port}`, s.host);
    }
    const key = (require("../etcd/ssh-tunnel") as typeof import("../etcd/ssh-tunnel")).knownTunnelKey(args.sshTunnel);
    return (message: string) => {
        let out = message;
        for (const secret of secrets.filter((x) => x && x.length >= 3).sort((a, b) => b.length - a.length)) out = out.split(secret).join("[redacted]");
        if (key) {
            out = out.split(key).join("[private key redacted]");
            for (const line of key.split(/\r?\n/)) if (line.trim().length >= 16 && !line.startsWith("-----")) out = out.split(line.trim()).join("[redacted]");
        }
        return out;
    };
}

export async function withFleetClient<T>(args: FleetConnectionArgs, fn: (client: FleetClient) => Promise<T>): Promise<T> {
    const client = await FleetClient.open(args);
    try {
        return await fn(client);
    } finally {
        await client.close().catch(() => undefined);
    }
}
