// The provider of ServiceRegistrationSet (service-registration-set.ts): check, diff, create, read,
// update and delete of many services as one resource, through service-store.ts. Runs in the
// provider process from the bundle bundled-provider.ts builds of this module and its imports.
import type * as pulumi from "@pulumi/pulumi";
import { connectionProblems, EtcdConnectionArgs, redactConnectionSecrets } from "../etcd/etcd-client";
import { withSharedEtcd } from "../etcd/etcd-shared-sessions";
import {
    DEFAULT_SERVICE_PREFIX,
    FieldProblem,
    formatProblems,
    observedFields,
    prefixProblem,
    registrationId,
    ServiceDefinition,
    serviceFieldProblems,
    serviceKeyValues,
    ServiceScheme,
    serviceRoot,
    ownValue,
} from "../../model/service-keys";
import { ownedKeysSeen, serviceClaim, ServiceWriteRequest } from "../../model/service-write-plan";
import { readSnapshots, readV2Tree, registerServices, ServiceRemoval, startEarlyRead, unregisterServices } from "./service-store";
import { deleteKeys, readOwnSetRecords } from "./set-record-store";
import { ownSetRecordsPrefix } from "../../model/set-records";
import { failWith, isUnknown, sameJson } from "./service-registration-common";
import { clusterWaitProblem, waitForEtcd } from "./cluster-wait";
import { SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../provider-versions";

/** One service of a set: the fields of ServiceRegistration, without connection and prefix. */
export interface RegisteredService {
    service: string;
    scheme: ServiceScheme;
    hosts: string[];
    hostPort?: number;
}

/** Full state of a set (inputs after check, plus what it wrote, per service name). */
export interface ServiceRegistrationSetState {
    resourceName: string;
    ownerKey: string;
    connection: EtcdConnectionArgs;
    prefix: string;
    /** Sorted by name. */
    services: RegisteredService[];
    mirrorToV2: boolean;
    adopt: boolean;
    /** Owner keys (see registrationOwnerKey) of the registrations this set takes over. */
    takeOverFrom: string[];
    /** Seconds to wait (bounded, exponential backoff) for a booting cluster before writing; 0/absent: none. */
    clusterWaitSeconds?: number;
    providerVersion: string;
    ownedKeys: Record<string, string[]>;
    mirroredKeys: Record<string, string[]>;
    v2InSync: boolean;
}

function labelOf(props: { resourceName?: unknown }): string {
    return `ServiceRegistrationSet "${String(props.resourceName ?? "?")}"`;
}

/** The set's owner in its records (model/set-records.ts). */
function setOwner(props: { ownerKey: string }): string {
    return `set:${props.ownerKey}`;
}

/** One service's owner, as its record line (or a marker of provider 1.2.0) names it: distinct from a ServiceRegistration of the same name. */
function serviceOwner(props: { prefix: string; ownerKey: string }, service: string): string {
    return registrationId(props.prefix, service, setOwner(props));
}

/** A service of checked inputs or of state as a definition (sharing its hosts: definitions are only read). */
function definitionOf(props: { prefix: string }, s: RegisteredService): ServiceDefinition {
    return { service: s.service, scheme: s.scheme, hosts: s.hosts, hostPort: s.hostPort ?? undefined, prefix: props.prefix };
}

/**
 * Problems of the list; entries are judged field by field, skipping preview placeholders. Plain
 * loops and one scan for placeholders: this runs for every service, twice per create (check, create).
 */
function serviceProblems(services: unknown): FieldProblem[] {
    if (isUnknown(services)) return [];
    if (!Array.isArray(services)) return [{ field: "services", message: "must be a list of { service, scheme, hosts, hostPort }" }];
    const judge = containsUnknown(services) ? isUnknown : undefined;
    const firstIndex = new Map<string, number>();
    const problems: FieldProblem[] = [];
    for (let i = 0; i < services.length; i++) {
        const s = services[i];
        if (judge?.(s)) continue;
        if (typeof s !== "object" || s === null || Array.isArray(s)) {
            problems.push({ field: `services[${i}]`, message: "must be { service, scheme, hosts, hostPort }" });
            continue;
        }
        for (const p of serviceFieldProblems(s, judge)) problems.push({ field: `services[${i}].${p.field}`, message: p.message });
        const name = s.service;
        if (typeof name === "string" && !judge?.(name)) {
            if (firstIndex.has(name)) problems.push({ field: `services[${i}].service`, message: `"${name}" is listed twice (also services[${firstIndex.get(name)}])` });
            else firstIndex.set(name, i);
        }
    }
    return problems;
}

/** Whether a preview placeholder sits anywhere in the list: an entry, a field or a host. */
function containsUnknown(services: unknown[]): boolean {
    for (const s of services) {
        if (isUnknown(s)) return true;
        if (typeof s !== "object" || s === null) continue;
        const { service, scheme, hosts, hostPort } = s as Record<string, unknown>;
        if (isUnknown(service) || isUnknown(scheme) || isUnknown(hostPort) || isUnknown(hosts)) return true;
        if (Array.isArray(hosts) && hosts.some(isUnknown)) return true;
    }
    return false;
}

/**
 * The list as state keeps it: plain { service, scheme, hosts, hostPort? } entries sorted by name, so
 * reordering the list is not a change. Only for a valid list with no preview placeholder.
 */
function canonicalServices(services: any[]): RegisteredService[] {
    return services
        .map((s): RegisteredService => (s.hostPort === undefined || s.hostPort === null ? { service: s.service, scheme: s.scheme, hosts: [...s.hosts] } : { service: s.service, scheme: s.scheme, hosts: [...s.hosts], hostPort: s.hostPort }))
        .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
}

function requestFor(props: ServiceRegistrationSetState, def: ServiceDefinition, before: { owned?: string[]; mirrored?: string[] }): ServiceWriteRequest {
    return {
        owner: serviceOwner(props, def.service),
        definition: def,
        ownedBefore: before.owned ?? [],
        mirrorToV2: props.mirrorToV2,
        mirroredBefore: before.mirrored ?? [],
        adopt: props.adopt,
        adoptFrom: props.takeOverFrom?.length ? props.takeOverFrom.map((ownerKey) => registrationId(def.prefix, def.service, ownerKey)) : undefined,
        recordedBySet: true,
    };
}

/**
 * Writes `changed` (all at once: one read, then <= 128-op transactions) and removes `removed`;
 * returns the state after, keeping the records of the services left as they were.
 */
async function apply(props: ServiceRegistrationSetState, before: Partial<ServiceRegistrationSetState>, changed: Set<string>, removed: RegisteredService[]): Promise<ServiceRegistrationSetState> {
    const label = labelOf(props);
    // check() refused these already when the engine runs it; a direct caller gets the same refusal.
    const badPrefix = prefixProblem(props.prefix);
    const problems = [...serviceProblems(props.services), ...(badPrefix ? [{ field: "prefix", message: badPrefix }] : []), ...connectionProblems(props.connection)];
    if (problems.length > 0) throw new Error(formatProblems(label, problems));
    if (props.clusterWaitSeconds) await waitForEtcd(props.connection, { timeoutSeconds: props.clusterWaitSeconds });
    const ownedKeys: Record<string, string[]> = {};
    const mirroredKeys: Record<string, string[]> = {};
    await withSharedEtcd(props.connection, async (session) => {
        const defs = props.services.filter((s) => changed.has(s.service)).map((s) => definitionOf(props, s));
        // The read every write starts with goes out now: preparing thousands of requests overlaps its round trip.
        const early = startEarlyRead(session, defs);
        for (const s of props.services) {
            if (changed.has(s.service)) continue;
            ownedKeys[s.service] = ownValue(before.ownedKeys, s.service) ?? [];
            mirroredKeys[s.service] = ownValue(before.mirroredKeys, s.service) ?? [];
        }
        const requests = defs.map((def) => requestFor(props, def, { owned: ownValue(before.ownedKeys, def.service), mirrored: ownValue(before.mirroredKeys, def.service) }));
        const plans = await registerServices(session, requests, (i) => `${label}: service "${defs[i].service}"`, { owner: setOwner(props), prefix: props.prefix }, early);
        plans.forEach((plan, i) => {
            ownedKeys[defs[i].service] = plan.ownedKeys;
            mirroredKeys[defs[i].service] = plan.mirroredKeys;
        });
        const removals: ServiceRemoval[] = removed.map((s) => ({
            owner: serviceOwner({ prefix: before.prefix ?? props.prefix, ownerKey: before.ownerKey ?? props.ownerKey }, s.service),
            prefix: before.prefix ?? props.prefix,
            service: s.service,
            ownedKeys: ownValue(before.ownedKeys, s.service) ?? [],
            mirroredKeys: ownValue(before.mirroredKeys, s.service) ?? [],
        }));
        if (removals.length > 0) await unregisterServices(session, removals);
    });
    return { ...props, ownedKeys, mirroredKeys, v2InSync: true };
}

export const provider: pulumi.dynamic.ResourceProvider = {
    async check(olds: any, news: any) {
        const label = labelOf(news);
        const listProblems = serviceProblems(news.services);
        const inputs = {
            ...news,
            prefix: news.prefix ?? DEFAULT_SERVICE_PREFIX,
            mirrorToV2: news.mirrorToV2 ?? false,
            adopt: news.adopt ?? false,
            takeOverFrom: news.takeOverFrom ?? [],
            // Left as given while any part is unknown (preview).
            services: listProblems.length === 0 && Array.isArray(news.services) && !containsUnknown(news.services) ? canonicalServices(news.services) : news.services,
        };
        const problems = [...listProblems, ...connectionProblems(inputs.connection, isUnknown)];
        const badPrefix = isUnknown(inputs.prefix) ? undefined : prefixProblem(inputs.prefix);
        if (badPrefix) problems.push({ field: "prefix", message: badPrefix });
        for (const flag of ["mirrorToV2", "adopt"]) {
            if (!isUnknown(inputs[flag]) && typeof inputs[flag] !== "boolean") problems.push({ field: flag, message: "must be true or false" });
        }
        if (!Array.isArray(inputs.takeOverFrom) || inputs.takeOverFrom.some((k: unknown) => typeof k !== "string" || k === "")) {
            problems.push({ field: "takeOverFrom", message: "must be a list of owner keys (non-empty strings)" });
        }
        if (inputs.ownerKey !== undefined && !isUnknown(inputs.ownerKey) && (typeof inputs.ownerKey !== "string" || inputs.ownerKey === "")) {
            problems.push({ field: "ownerKey", message: "must be a non-empty string (the resource's owner identity)" });
        }
        const waitProblem = isUnknown(inputs.clusterWaitSeconds) ? undefined : clusterWaitProblem(inputs.clusterWaitSeconds);
        if (waitProblem) problems.push({ field: "clusterWaitSeconds", message: waitProblem });
        const failures = problems.map((p) => ({ property: p.field.split(/[.[]/)[0], reason: redactConnectionSecrets(`${label}: ${p.field} ${p.message}`, news.connection) }));
        return { inputs, failures };
    },

    async diff(id: string, olds: any, news: any) {
        // clusterWaitSeconds is not compared: how long to wait for the cluster changes nothing in etcd.
        const replaces = (olds.prefix ?? DEFAULT_SERVICE_PREFIX) !== (news.prefix ?? DEFAULT_SERVICE_PREFIX) ? ["prefix"] : [];
        // ownerKey is not compared: the owner is fixed at create (a renamed stack keeps it).
        const updated = ["services", "mirrorToV2", "adopt", "takeOverFrom", "connection", "providerVersion"].filter((k) => !sameJson(olds[k], news[k]));
        if (olds.mirrorToV2 && olds.v2InSync === false && !updated.includes("mirrorToV2")) updated.push("mirrorToV2");
        return { changes: replaces.length + updated.length > 0, replaces, deleteBeforeReplace: false };
    },

    async create(inputs: any) {
        const label = labelOf(inputs);
        try {
            // A bare provider call without an owner key gets a random one (no recovery by id then).
            const ownerKey = typeof inputs.ownerKey === "string" && inputs.ownerKey !== "" ? inputs.ownerKey : `unnamed-${(require("crypto") as typeof import("crypto")).randomUUID()}`;
            const props: ServiceRegistrationSetState = { ...inputs, ownerKey, providerVersion: inputs.providerVersion ?? SERVICE_REGISTRATION_SET_PROVIDER_VERSION };
            const outs = await apply(props, {}, new Set(props.services.map((s) => s.service)), []);
            return { id: `${props.prefix}@set:${ownerKey}`, outs };
        } catch (err) {
            throw failWith(label, err, inputs.connection);
        }
    },

    async read(id: string, props: any) {
        const label = labelOf(props);
        try {
            const services: RegisteredService[] = props.services ?? [];
            return await withSharedEtcd(props.connection, async (session) => {
                const defs = services.map((s) => definitionOf(props, s));
                const snapshots = await readSnapshots(session, defs);
                const seen: RegisteredService[] = [];
                const ownedKeys: Record<string, string[]> = {};
                const mirroredKeys: Record<string, string[]> = {};
                const present = defs.filter((def, i) => {
                    const owned = ownedKeysSeen(serviceRoot(def.prefix, def.service), snapshots[i], serviceOwner(props, def.service), ownValue(props.ownedKeys, def.service));
                    // A service whose keys and claim were all removed by hand is gone from the set (drift).
                    if (!serviceClaim(serviceRoot(def.prefix, def.service), snapshots[i]).claimed && owned.every((k) => !(k in snapshots[i].keys))) return false;
                    const fields = observedFields(serviceRoot(def.prefix, def.service), owned, snapshots[i].keys);
                    seen.push({ service: def.service, scheme: (fields.scheme ?? "") as ServiceScheme, hosts: fields.hosts, ...(fields.hostPort === undefined ? {} : { hostPort: fields.hostPort as number }) });
                    ownedKeys[def.service] = owned;
                    mirroredKeys[def.service] = ownValue(props.mirroredKeys, def.service) ?? [];
                    return true;
                });
                if (services.length > 0 && present.length === 0) return { id: "", props: {} };
                let v2InSync = props.v2InSync ?? true;
                if (props.mirrorToV2) {
                    const inSync = await Promise.all(
                        present.map(async (def) => {
                            const v2 = await readV2Tree(session, serviceRoot(def.prefix, def.service));
                            const written = serviceKeyValues(def);
                            return mirroredKeys[def.service].every((k) => v2[k] !== undefined && v2[k] === written[k]);
                        }),
                    );
                    v2InSync = inSync.every(Boolean);
                }
                return { id, props: { ...props, services: seen, ownedKeys, mirroredKeys, v2InSync } };
            });
        } catch (err) {
            throw failWith(label, err, props.connection);
        }
    },

    async update(id: string, olds: any, news: any) {
        const label = labelOf(news);
        try {
            const props: ServiceRegistrationSetState = { ...news, ownerKey: olds.ownerKey, providerVersion: news.providerVersion ?? SERVICE_REGISTRATION_SET_PROVIDER_VERSION };
            const oldByName = new Map<string, RegisteredService>((olds.services ?? []).map((s: RegisteredService) => [s.service, s]));
            const rewriteAll = olds.mirrorToV2 !== news.mirrorToV2 || (news.mirrorToV2 && olds.v2InSync === false);
            const changed = new Set(props.services.filter((s) => rewriteAll || !sameJson(oldByName.get(s.service), s)).map((s) => s.service));
            const wanted = new Set(props.services.map((s) => s.service));
            const removed = [...oldByName.values()].filter((s) => !wanted.has(s.service));
            return { outs: await apply(props, olds, changed, removed) };
        } catch (err) {
            throw failWith(label, err, news.connection);
        }
    },

    async delete(id: string, props: any) {
        const label = labelOf(props);
        try {
            const removal = (service: string, ownedKeys: string[], mirroredKeys: string[]): ServiceRemoval => ({ owner: serviceOwner(props, service), prefix: props.prefix, service, ownedKeys, mirroredKeys });
            const removals: ServiceRemoval[] = (props.services ?? []).map((s: RegisteredService) => removal(s.service, ownValue(props.ownedKeys, s.service) ?? [], ownValue(props.mirroredKeys, s.service) ?? []));
            await withSharedEtcd(props.connection, async (session) => {
                // Services the set's records claim that its state lacks (a create whose result was lost) go too.
                const inState = new Set(removals.map((r) => r.service));
                for (const record of await readOwnSetRecords(session, ownSetRecordsPrefix(props.prefix, setOwner(props)))) {
                    for (const service of record.services.keys()) {
                        if (!inState.has(service)) removals.push(removal(service, [], []));
                        inState.add(service);
                    }
                }
                await unregisterServices(session, removals);
                // Every line left is superseded or a service now claimed by another owner: none is a claim of this set.
                await deleteKeys(session, (await readOwnSetRecords(session, ownSetRecordsPrefix(props.prefix, setOwner(props)))).map((r) => r.key));
            });
        } catch (err) {
            throw failWith(label, err, props.connection);
        }
    },
};

