// The FleetService provider: check/diff/create/read/update/delete of a templated fleet service and
// its presence sidekicks, rolled as rolling-update.ts plans. It reaches state as one bundle of its
// modules (components/services/bundled-provider.ts), so it must not import Pulumi at run time.
import type * as pulumi from "@pulumi/pulumi";
import type { FleetUnitOption, SshTunnelSpec } from "../../model/types";
import { DOCKER_IMAGE, fleetUnitSpecProblems, parseUnitFileLenient } from "../../model/fleet-rules";
import { prefixProblem } from "../../model/service-keys";
import { serviceNameProblem } from "../../model/service-naming";
import { FleetClient, FleetConnectionArgs, parseFleetEndpoint, withFleetClient } from "./fleet-client";
import { fleetUnitHash, valueRewriteProblems } from "./fleet-scheduling";
import {
    DEFAULT_TTL_SECONDS, FleetServiceSpec, instanceUnit, OWNER_OPTION, serviceTemplateOptions, sidekickTemplateName, sidekickTemplateOptions, sidekickUnit, templateName,
} from "./fleet-service-units";
import { observeInstances, planRoll, RollPlan } from "./rolling-update";
import { waitForFleetApi } from "./fleet-wait";
import { clusterWaitProblem } from "../services/cluster-wait";
import { FLEET_SERVICE_PROVIDER_VERSION } from "../provider-versions";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface FleetServiceState extends FleetServiceSpec {
    endpoint: string;
    sshTunnel?: SshTunnelSpec;
    /** The template's unit file text, when not generated from `image`. */
    content?: string;
    count: number;
    /** Services declared by ServiceRegistration(Set)s of this program: a FleetService of one is refused. */
    declaredServices?: string[];
    waitTimeoutSeconds: number;
    /** How long create waits for a booting cluster's fleet API before its first request (0/absent: not at all). */
    clusterWaitSeconds?: number;
    pollIntervalMs?: number;
    requestTimeoutMs?: number;
    retries?: number;
    retryDelayMs?: number;
    providerVersion: string;
    /** Outputs: the instances fleet holds for this service, those that run the wanted files, and every unit. */
    instances?: string[];
    healthyInstances?: string[];
    unitNames?: string[];
    templateHash?: string;
    sidekickHash?: string;
}

const isUnknown = (v: unknown): boolean => v === UNKNOWN || (Array.isArray(v) && v.some(isUnknown)) || (typeof v === "object" && v !== null && Object.values(v).some(isUnknown));
const positiveInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v > 0;

export async function check(_olds: unknown, news: Record<string, any>): Promise<pulumi.dynamic.CheckResult> {
    const label = `fleet service "${typeof news.service === "string" ? news.service : "?"}"`;
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const fail = (property: string, reason: string) => failures.push({ property, reason: `${label}: ${property} ${reason}` });
    const inputs: Record<string, any> = { prefix: "/services", scheme: "http", ttlSeconds: DEFAULT_TTL_SECONDS, waitTimeoutSeconds: 300, providerVersion: FLEET_SERVICE_PROVIDER_VERSION, ...news };
    if (Object.values(news).some(isUnknown)) return { inputs, failures }; // judged again once known
    const nameProblem = serviceNameProblem(inputs.service);
    if (nameProblem) fail("service", nameProblem);
    const p = prefixProblem(inputs.prefix);
    if (p) fail("prefix", p);
    if (inputs.scheme !== "http" && inputs.scheme !== "tcp") fail("scheme", `"${inputs.scheme}" must be "http" or "tcp"`);
    if ((inputs.image === undefined) === (inputs.content === undefined)) fail("image", "give exactly one of image (a docker image) and content (the template's unit file)");
    if (inputs.image !== undefined && (typeof inputs.image !== "string" || !DOCKER_IMAGE.test(inputs.image))) fail("image", `${JSON.stringify(inputs.image)} is not a docker image reference`);
    if (inputs.image !== undefined && !isPort(inputs.containerPort)) fail("containerPort", "must be the port (1-65535) the image listens on");
    if (inputs.content !== undefined && !isPort(inputs.instancePort)) fail("instancePort", "must be the port (1-65535) each instance listens on, on its machine");
    if (inputs.hostPort !== undefined && !isPort(inputs.hostPort)) fail("hostPort", "must be a port 1-65535");
    if (inputs.scheme === "tcp" && inputs.hostPort === undefined) fail("hostPort", "is required when scheme is tcp (the port the router publishes it on)");
    if (!positiveInt(inputs.count)) fail("count", "must be a whole number of instances, at least 1");
    const waitProblem = clusterWaitProblem(inputs.clusterWaitSeconds);
    if (waitProblem) fail("clusterWaitSeconds", waitProblem);
    if (!positiveInt(inputs.ttlSeconds) || inputs.ttlSeconds < 3) fail("ttlSeconds", "must be a whole number of seconds, at least 3 (the sidekick refreshes every TTL/3)");
    if (typeof inputs.etcdEndpoints !== "string" || !inputs.etcdEndpoints.split(",").every((u: string) => /^https?:\/\/[^\s,'"]+$/.test(u))) {
        fail("etcdEndpoints", "must be comma-separated etcd v3 client URLs such as http://10.0.0.2:2379");
    }
    try { parseFleetEndpoint(inputs.endpoint); } catch (e) { fail("endpoint", inputs.sshTunnel ? "is not unix:///path.sock or http://host:port" : (e as Error).message); }
    if (Array.isArray(inputs.declaredServices) && inputs.declaredServices.includes(inputs.service)) {
        fail("service", `is also declared as a ServiceRegistration/ServiceRegistrationSet service: a service is either announced by its fleet sidekicks or declared, not both`);
    }
    if (inputs.content !== undefined) {
        const parsed = parseUnitFileLenient(String(inputs.content));
        for (const problem of parsed.problems) fail("content", problem);
        inputs.options = parsed.options;
    }
    if (failures.length === 0) {
        for (const [name, options] of [[templateName(inputs.service), serviceTemplateOptions(inputs as FleetServiceState)], [sidekickTemplateName(inputs.service), sidekickTemplateOptions(inputs as FleetServiceState)]] as const) {
            for (const problem of [...fleetUnitSpecProblems({ name, options }), ...valueRewriteProblems(options)]) fail(inputs.content !== undefined ? "content" : "image", `(unit ${name}) ${problem}`);
        }
    }
    return { inputs, failures };
}

function isPort(v: unknown): boolean { return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535; }

const SPEC_KEYS = ["service", "prefix", "scheme", "image", "containerPort", "content", "instancePort", "hostPort", "ttlSeconds", "etcdEndpoints", "count", "endpoint", "sshTunnel", "waitTimeoutSeconds", "pollIntervalMs", "requestTimeoutMs", "retries", "retryDelayMs", "providerVersion"] as const;

export async function diff(_id: string, olds: FleetServiceState, news: FleetServiceState): Promise<pulumi.dynamic.DiffResult> {
    const changed = SPEC_KEYS.filter((k) => JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
    // what refresh saw: strays of an interrupted run, or instances not running the wanted files
    const drift = (olds.instances ?? []).length !== olds.count || (olds.healthyInstances ?? []).length !== (olds.instances ?? []).length;
    // another name is another set of units: bring the new service up before the old one goes
    const replaces = changed.filter((k) => k === "service" || k === "prefix");
    return { changes: changed.length > 0 || drift, replaces, deleteBeforeReplace: false };
}

function connection(s: FleetServiceState): FleetConnectionArgs {
    return { endpoint: s.endpoint, sshTunnel: s.sshTunnel ?? undefined, timeoutMs: s.requestTimeoutMs, retries: s.retries, retryDelayMs: s.retryDelayMs };
}

interface Snapshot { units: Map<string, FleetUnitOption[]>; plan: RollPlan; healthy: string[]; all: string[] }

async function snapshot(client: FleetClient, s: FleetServiceState, templateHash: string, sidekickHash: string): Promise<Snapshot> {
    const [units, states] = await Promise.all([client.listUnits(), client.listStates()]);
    const mine = units.filter((u) => u.name.startsWith(`${s.service}@`) || u.name.startsWith(`${s.service}_presence@`));
    const foreign = mine.find((u) => !u.options.some((o) => o.section === "Unit" && o.name === OWNER_OPTION));
    if (foreign) throw new Error(`"${foreign.name}" exists in fleet but was not created by a FleetService; remove it or choose another service name`);
    const observed = observeInstances(s.service, mine.map((u) => ({ name: u.name, hash: fleetUnitHash(u.options), currentState: u.currentState })), states);
    const plan = planRoll(observed, { count: s.count, templateHash, sidekickHash });
    return { units: new Map(mine.map((u) => [u.name, u.options])), plan, healthy: plan.keep, all: observed.map((i) => i.n) };
}

/** Puts both templates, rolls as planned, and returns the full state; rolls back what it started on failure. */
async function converge(s: FleetServiceState): Promise<FleetServiceState> {
    const service = serviceTemplateOptions(s);
    const sidekick = sidekickTemplateOptions(s);
    const templateHash = fleetUnitHash(service), sidekickHash = fleetUnitHash(sidekick);
    const wait = { timeoutMs: s.waitTimeoutSeconds * 1000, pollMs: s.pollIntervalMs ?? 1000 };
    return withFleetClient(connection(s), async (client) => {
        const snap = await snapshot(client, s, templateHash, sidekickHash);
        const { plan } = snap;
        for (const [name, options] of [[templateName(s.service), service], [sidekickTemplateName(s.service), sidekick]] as const) {
            const have = snap.units.get(name);
            if (!have || fleetUnitHash(have) !== fleetUnitHash(options)) await client.putUnit(name, { options, desiredState: "inactive" });
        }
        const started: string[] = [];
        try {
            for (const n of plan.start) { started.push(instanceUnit(s.service, n)); await client.putUnit(instanceUnit(s.service, n), { options: service, desiredState: "launched" }); }
            await Promise.all(plan.start.map((n) => client.waitForState(instanceUnit(s.service, n), "launched", { ...wait, hash: templateHash })));
            for (const n of plan.start) { started.push(sidekickUnit(s.service, n)); await client.putUnit(sidekickUnit(s.service, n), { options: sidekick, desiredState: "launched" }); }
            await Promise.all(plan.start.map((n) => client.waitForState(sidekickUnit(s.service, n), "launched", { ...wait, hash: sidekickHash })));
        } catch (e) {
            const left: string[] = [];
            for (const unit of [...started].reverse()) await client.deleteUnit(unit).catch(() => left.push(unit));
            const serving = plan.retire.length + plan.keep.length > 0 ? `; the previous instances (${[...plan.keep, ...plan.retire].join(", ")}) keep serving` : "";
            throw new Error(`rolling update failed before anything old was stopped: ${(e as Error).message}${serving}${left.length ? `; could not remove ${left.join(", ")}` : ""}`);
        }
        // only now the old generation goes: sidekicks first, so the router drops them before they stop
        for (const n of plan.retire) await client.deleteUnit(sidekickUnit(s.service, n));
        for (const n of plan.retire) await client.deleteUnit(instanceUnit(s.service, n));
        const instances = [...plan.keep, ...plan.start];
        return outputs(s, instances, instances, templateHash, sidekickHash);
    });
}

function outputs(s: FleetServiceState, instances: string[], healthy: string[], templateHash: string, sidekickHash: string): FleetServiceState {
    const unitNames = [templateName(s.service), sidekickTemplateName(s.service), ...instances.flatMap((n) => [instanceUnit(s.service, n), sidekickUnit(s.service, n)])];
    return { ...s, instances, healthyInstances: healthy, unitNames, templateHash, sidekickHash };
}

const failure = (s: FleetServiceState, action: string) => (e: unknown): never => {
    throw new Error(`fleet service "${s.service}": ${action} failed: ${(e as Error)?.message ?? String(e)}`);
};

export async function create(inputs: FleetServiceState): Promise<pulumi.dynamic.CreateResult> {
    // A fresh stack gets here while its machines still boot: wait (bounded) for fleet first.
    const outs = await waitForFleetApi(connection(inputs), inputs.clusterWaitSeconds).then(() => converge(inputs)).catch(failure(inputs, "create"));
    return { id: `${inputs.prefix}/${inputs.service}`, outs };
}

export async function update(_id: string, _olds: FleetServiceState, news: FleetServiceState): Promise<pulumi.dynamic.UpdateResult> {
    // As FleetUnit: an update that meets fleet while etcd is away (real fleetd's empty 500s, then
    // 503s) waits it out, bounded, before the rolling update's first step.
    const outs = await waitForFleetApi(connection(news), news.clusterWaitSeconds).then(() => converge(news)).catch(failure(news, "update"));
    return { outs };
}

export async function read(id: string, s: FleetServiceState): Promise<pulumi.dynamic.ReadResult> {
    const templateHash = fleetUnitHash(serviceTemplateOptions(s)), sidekickHash = fleetUnitHash(sidekickTemplateOptions(s));
    return withFleetClient(connection(s), async (client) => {
        const snap = await snapshot(client, s, templateHash, sidekickHash);
        if (snap.units.size === 0) return { id: "", props: {} };
        return { id, props: outputs(s, snap.all, snap.healthy, templateHash, sidekickHash) };
    }).catch(failure(s, "read"));
}

export async function del(_id: string, s: FleetServiceState): Promise<void> {
    await withFleetClient(connection(s), async (client) => {
        const units = (await client.listUnits()).map((u) => u.name);
        const ordered = [
            ...units.filter((u) => u.startsWith(`${s.service}_presence@`) && u !== sidekickTemplateName(s.service)),
            ...units.filter((u) => u.startsWith(`${s.service}@`) && u !== templateName(s.service)),
            sidekickTemplateName(s.service), templateName(s.service),
        ];
        for (const u of ordered) await client.deleteUnit(u);
    }).catch(failure(s, "delete"));
}

/** The bundle's export (bundled-provider.ts): every operation, nothing captured. */
export const provider = { check, diff, create, read, update, delete: del };
