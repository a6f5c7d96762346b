// The FleetUnit provider's operations (components/fleet/fleet-unit.ts is the resource): push one
// fleet unit (or a template and its instances) through fleet's HTTP API v1 and wait until fleet
// reports the desired state. It reaches the engine as one bundle of its modules
// (components/services/bundled-provider.ts), exported as `provider`: no captured client or module.
import type * as pulumi from "@pulumi/pulumi";
import type { FleetDesiredState, FleetUnitOption, SshTunnelSpec } from "../../model/types";
import { fleetUnitSpecProblems, instanceName, isTemplateName, resolveUnitOptions, sameOptions } from "../../model/fleet-rules";
import { FleetClient, FleetConnectionArgs, withFleetClient, parseFleetEndpoint } from "./fleet-client";
import { fleetUnitHash, valueRewriteProblems } from "./fleet-scheduling";
import { clusterWaitProblem } from "../services/cluster-wait";
import { waitForFleetApi } from "./fleet-wait";
import type { ProviderOperations } from "../services/bundled-provider";
import { FLEET_UNIT_PROVIDER_VERSION } from "../provider-versions";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"; // the engine's marker for values unknown during preview

/** The resource's state: its normalized inputs plus the fleet units it manages. */
export interface FleetUnitState {
    endpoint: string;
    sshTunnel?: SshTunnelSpec;
    name: string;
    content?: string;
    options: FleetUnitOption[];
    desiredState: FleetDesiredState;
    instances: string[];
    waitTimeoutSeconds: number;
    pollIntervalMs?: number;
    requestTimeoutMs?: number;
    retries?: number;
    retryDelayMs?: number;
    clusterWaitSeconds?: number;
    providerVersion: string;
    unitNames?: string[];
}

const isUnknown = (v: unknown): boolean => v === UNKNOWN || (Array.isArray(v) && v.some(isUnknown));

export function checkFleetUnit(_olds: Record<string, any>, news: Record<string, any>): pulumi.dynamic.CheckResult {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const label = `fleet unit "${typeof news.name === "string" && news.name !== UNKNOWN ? news.name : "?"}"`;
    const fail = (property: string, reason: string) => failures.push({ property, reason: `${label}: ${reason}` });
    const inputs: Record<string, any> = { ...news };
    const unknownShape = ["name", "content", "options", "instances", "desiredState"].some((k) => isUnknown(news[k]));
    if (!unknownShape) {
        const instances = (news.instances ?? []) as Array<string | number>;
        for (const problem of fleetUnitSpecProblems({ name: news.name, content: news.content, options: news.options, desiredState: news.desiredState, instances })) {
            const property = /^unit name|template unit ".*" must end/.test(problem) ? "name"
                : /^instance/.test(problem) ? "instances"
                : /^desiredState|cannot be (loaded|launched)/.test(problem) ? "desiredState"
                : news.content !== undefined ? "content" : "options";
            fail(property, problem);
        }
        inputs.options = resolveUnitOptions({ content: news.content, options: news.options }).options;
        for (const problem of valueRewriteProblems(inputs.options)) fail(news.content !== undefined ? "content" : "options", problem);
        inputs.instances = Array.isArray(instances) ? instances.map(String) : instances;
        const template = typeof news.name === "string" && isTemplateName(news.name);
        inputs.desiredState = news.desiredState ?? (template && inputs.instances.length === 0 ? "inactive" : "launched");
    } else if (news.content !== undefined && !isUnknown(news.content) && news.options === undefined) {
        inputs.options = resolveUnitOptions({ content: news.content }).options;
    } else if (news.options === undefined) {
        inputs.options = UNKNOWN;
    }
    if (!isUnknown(news.endpoint)) {
        try { parseFleetEndpoint(news.endpoint); } catch (e) { fail("endpoint", news.sshTunnel ? "the fleet endpoint is not unix:///path.sock or http://host:port" : (e as Error).message); }
    }
    const tunnel = news.sshTunnel;
    if (tunnel !== undefined && tunnel !== null && !isUnknown(tunnel)) {
        for (const [k, type] of [["host", "string"], ["port", "number"], ["username", "string"]] as const) {
            if (typeof tunnel[k] !== type || tunnel[k] === "") fail("sshTunnel", `sshTunnel.${k} must be a non-empty ${type}`);
        }
        // The key, or the variable holding it where Pulumi runs (then no key is in state).
        const keyGiven = (typeof tunnel.privateKey === "string" && tunnel.privateKey !== "") || (typeof tunnel.privateKeyEnv === "string" && /^[A-Z_][A-Z0-9_]*$/.test(tunnel.privateKeyEnv));
        if (!keyGiven) fail("sshTunnel", "sshTunnel.privateKey (or privateKeyEnv, the environment variable holding it) is required");
    }
    for (const k of ["waitTimeoutSeconds", "pollIntervalMs", "requestTimeoutMs", "retries", "retryDelayMs"]) {
        const v = news[k];
        if (v !== undefined && !isUnknown(v) && (typeof v !== "number" || !(v >= 0) || (v === 0 && !["retries", "retryDelayMs"].includes(k)))) fail(k, `${k} must be a positive number`);
    }
    const waitProblem = isUnknown(news.clusterWaitSeconds) ? undefined : clusterWaitProblem(news.clusterWaitSeconds);
    if (waitProblem) fail("clusterWaitSeconds", `clusterWaitSeconds ${waitProblem}`);
    inputs.waitTimeoutSeconds = news.waitTimeoutSeconds ?? 120;
    inputs.providerVersion = news.providerVersion ?? FLEET_UNIT_PROVIDER_VERSION;
    return { inputs, failures };
}

const sortedKey = (xs: unknown) => JSON.stringify(Array.isArray(xs) ? [...xs].map(String).sort() : xs);

export function diffFleetUnit(olds: FleetUnitState, news: FleetUnitState): pulumi.dynamic.DiffResult {
    const replaces: string[] = [];
    if (olds.name !== news.name) replaces.push("name");
    const optionsChanged = isUnknown(news.options) || !Array.isArray(olds.options) || !sameOptions(olds.options, news.options);
    if (optionsChanged) replaces.push(news.content !== undefined ? "content" : "options");
    const updatable = ["desiredState", "waitTimeoutSeconds", "pollIntervalMs", "requestTimeoutMs", "retries", "retryDelayMs", "providerVersion", "endpoint", "content"] as const;
    const changed = updatable.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
    if (sortedKey(olds.instances ?? []) !== sortedKey(news.instances ?? [])) changed.push("instances" as never);
    if (JSON.stringify(olds.sshTunnel ?? null) !== JSON.stringify(news.sshTunnel ?? null)) changed.push("sshTunnel" as never);
    // The unit name is fleet's identity: the old unit must go before a new one with that name can exist.
    return { changes: replaces.length > 0 || changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
}

function connection(s: FleetUnitState): FleetConnectionArgs {
    return { endpoint: s.endpoint, sshTunnel: s.sshTunnel ?? undefined, timeoutMs: s.requestTimeoutMs, retries: s.retries, retryDelayMs: s.retryDelayMs };
}
/** Units in fleet for this resource: the unit, or the template followed by its instances. */
export function managedUnitNames(s: Pick<FleetUnitState, "name" | "instances">): string[] {
    return isTemplateName(s.name) ? [s.name, ...(s.instances ?? []).map((i) => instanceName(s.name, i))] : [s.name];
}
const stateOf = (s: FleetUnitState, unit: string): FleetDesiredState => (isTemplateName(unit) ? "inactive" : s.desiredState);

/**
 * Until fleet's API answers (any HTTP answer but a 503, which fleetd gives while it cannot reach
 * etcd), for at most `clusterWaitSeconds`; each probe opens its own connection (and tunnel).
 */
const waitForFleet = (s: FleetUnitState): Promise<void> => waitForFleetApi(connection(s), s.clusterWaitSeconds);

async function pushAndWait(client: FleetClient, s: FleetUnitState, units: string[]): Promise<void> {
    for (const unit of units) await client.putUnit(unit, { options: s.options, desiredState: stateOf(s, unit) });
    const waitFor = units.filter((u) => !isTemplateName(u));
    const hash = fleetUnitHash(s.options);
    await Promise.all(waitFor.map((u) => client.waitForState(u, s.desiredState, { timeoutMs: s.waitTimeoutSeconds * 1000, pollMs: s.pollIntervalMs ?? 1000, hash })));
}

/** Deletes what this operation created; returns the units it could not remove. */
async function rollBack(client: FleetClient, created: string[]): Promise<string[]> {
    const left: string[] = [];
    for (const unit of [...created].reverse()) await client.deleteUnit(unit).catch(() => left.push(unit));
    return left;
}

/** An operation's failure, already naming the unit and the cause (never the tunnelled endpoint). */
export class FleetUnitError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "FleetUnitError";
    }
}

function failure(s: FleetUnitState, action: string, cause: unknown, left: string[] = []): Error {
    if (cause instanceof FleetUnitError) return cause;
    const leftNote = left.length ? `; could not roll back ${left.join(", ")} (remove with fleetctl destroy)` : "";
    return new FleetUnitError(`fleet unit "${s.name}": ${action} failed: ${(cause as Error)?.message ?? String(cause)}${leftNote}`);
}

export async function createFleetUnit(s: FleetUnitState): Promise<pulumi.dynamic.CreateResult> {
    const units = managedUnitNames(s);
    await waitForFleet(s).catch((e) => { throw failure(s, "create", e); });
    await withFleetClient(connection(s), async (client) => {
        const created: string[] = [];
        try {
            for (const unit of units) {
                const existing = await client.getUnit(unit);
                if (existing && !sameOptions(existing.options, s.options)) {
                    throw new Error(`"${unit}" already exists in fleet with other options (not created by this resource); remove it or choose another name`);
                }
                if (!existing) created.push(unit);
            }
            await pushAndWait(client, s, units);
        } catch (e) {
            // nothing half-created stays behind: remove every unit this create added
            throw failure(s, "create", e, await rollBack(client, created));
        }
    }).catch((e) => { throw failure(s, "create", e); });
    return { id: s.name, outs: { ...s, unitNames: units } };
}

export async function readFleetUnit(id: string, s: FleetUnitState): Promise<pulumi.dynamic.ReadResult> {
    return withFleetClient(connection(s), async (client) => {
        const main = await client.getUnit(s.name);
        if (!main) return { id: "", props: {} }; // removed by hand: the engine drops it from state
        let desiredState = main.desiredState ?? s.desiredState;
        let options = main.options;
        const instances: string[] = [];
        if (isTemplateName(s.name)) {
            desiredState = s.desiredState;
            for (const inst of s.instances ?? []) {
                const u = await client.getUnit(instanceName(s.name, inst));
                if (!u) continue;
                instances.push(inst);
                if (u.desiredState && u.desiredState !== s.desiredState) desiredState = u.desiredState;
                if (!sameOptions(u.options, s.options)) options = u.options;
            }
        }
        const props: FleetUnitState = { ...s, options, desiredState, instances, unitNames: managedUnitNames({ name: s.name, instances }) };
        return { id, props };
    }).catch((e) => { throw failure(s, "read", e); });
}

export async function updateFleetUnit(_id: string, olds: FleetUnitState, news: FleetUnitState): Promise<pulumi.dynamic.UpdateResult> {
    const units = managedUnitNames(news);
    const removed = managedUnitNames(olds).filter((u) => !units.includes(u));
    await waitForFleet(news).catch((e) => { throw failure(news, "update", e); });
    await withFleetClient(connection(news), async (client) => {
        const added: string[] = [];
        for (const unit of units) if (!(await client.getUnit(unit))) added.push(unit);
        try {
            await pushAndWait(client, news, units);
        } catch (e) {
            throw failure(news, "update", e, await rollBack(client, added));
        }
        for (const unit of removed) await client.deleteUnit(unit);
    }).catch((e) => { throw failure(news, "update", e); });
    return { outs: { ...news, unitNames: units } };
}

export async function deleteFleetUnit(_id: string, s: FleetUnitState): Promise<void> {
    // instances first, the template last, so fleet never holds instances of a missing template
    const units = [...new Set([...managedUnitNames(s), ...(s.unitNames ?? [])])].reverse();
    await withFleetClient(connection(s), async (client) => {
        for (const unit of units) await client.deleteUnit(unit);
    }).catch((e) => { throw failure(s, "delete", e); });
}

export const provider: ProviderOperations = {
    check: async (olds, news) => checkFleetUnit(olds, news),
    diff: async (_id, olds, news) => diffFleetUnit(olds, news),
    create: async (inputs) => createFleetUnit(inputs),
    read: async (id, props) => readFleetUnit(id, props),
    update: async (id, olds, news) => updateFleetUnit(id, olds, news),
    delete: async (id, props) => deleteFleetUnit(id, props),
};
