// The provider of ServiceRegistration (service-registration.ts): check, diff, create, read, update
// and delete of one service, through service-store.ts; concurrent creates on one connection are
// merged by service-write-coalescer.ts. Runs in the provider process from the bundle that
// bundled-provider.ts builds of this module and its imports.
import type * as pulumi from "@pulumi/pulumi";
import { connectionProblems, EtcdConnectionArgs, redactConnectionSecrets } from "../etcd/etcd-client";
import { failWith, isUnknown, sameJson } from "./service-registration-common";
import { withSharedEtcd } from "../etcd/etcd-shared-sessions";
import {
    DEFAULT_SERVICE_PREFIX,
    formatProblems,
    normalizeServiceDefinition,
    observedFields,
    registrationId,
    ServiceDefinition,
    serviceDefinitionProblems,
    serviceKeyValues,
    ServiceScheme,
    serviceRoot,
} from "../../model/service-keys";
import { ownedKeysSeen, serviceClaim, ServiceWriteRequest } from "../../model/service-write-plan";
import { readSnapshots, readV2Tree, unregisterServices } from "./service-store";
import { registerServiceCoalesced } from "./service-write-coalescer";
import { clusterWaitProblem, waitForEtcd } from "./cluster-wait";
import { SERVICE_REGISTRATION_PROVIDER_VERSION } from "../provider-versions";

/** Full state of one registration (inputs after check, plus what it wrote). */
export interface ServiceRegistrationState {
    resourceName: string;
    /** This resource's owner identity (see registrationOwnerKey); absent in state of provider 1.0.0. */
    ownerKey?: string;
    connection: EtcdConnectionArgs;
    service: string;
    scheme: ServiceScheme;
    hosts: string[];
    hostPort?: number;
    prefix: string;
    mirrorToV2: boolean;
    adopt: boolean;
    /** Seconds to wait (bounded, exponential backoff) for a booting cluster before writing; 0/absent: none. */
    clusterWaitSeconds?: number;
    providerVersion: string;
    ownedKeys: string[];
    mirroredKeys: string[];
    /** false after a refresh found the v2 mirror differing from v3. */
    v2InSync: boolean;
}

function labelOf(props: { resourceName?: unknown; service?: unknown }): string {
    return `ServiceRegistration "${String(props.resourceName ?? props.service ?? "?")}"`;
}

function definitionOf(props: Record<string, any>): ServiceDefinition {
    return normalizeServiceDefinition(props, labelOf(props));
}

function stateFrom(props: Record<string, any>, plan: { ownedKeys: string[]; mirroredKeys: string[] }, def: ServiceDefinition): ServiceRegistrationState {
    const state: ServiceRegistrationState = {
        resourceName: props.resourceName,
        connection: props.connection,
        service: def.service,
        scheme: def.scheme,
        hosts: def.hosts,
        prefix: def.prefix,
        mirrorToV2: !!props.mirrorToV2,
        adopt: !!props.adopt,
        providerVersion: props.providerVersion ?? SERVICE_REGISTRATION_PROVIDER_VERSION,
        ownedKeys: plan.ownedKeys,
        mirroredKeys: plan.mirroredKeys,
        v2InSync: true,
    };
    if (typeof props.ownerKey === "string") state.ownerKey = props.ownerKey;
    if (typeof props.clusterWaitSeconds === "number") state.clusterWaitSeconds = props.clusterWaitSeconds;
    if (def.hostPort !== undefined) state.hostPort = def.hostPort;
    return state;
}

/**
 * The id of a new registration, which is also the owner named in its marker. The class always
 * passes `ownerKey`, so the id is the same on every run of the resource; a caller of the bare
 * provider without one gets a random id (as provider 1.0.0 did), which a lost create cannot reclaim.
 */
function ownerIdFor(def: ServiceDefinition, ownerKey: unknown): string {
    if (typeof ownerKey === "string" && ownerKey !== "") return registrationId(def.prefix, def.service, ownerKey);
    const { randomUUID } = require("crypto") as typeof import("crypto");
    return registrationId(def.prefix, def.service, randomUUID());
}

async function write(id: string, props: Record<string, any>, before: { ownedKeys: string[]; mirroredKeys: string[] }): Promise<ServiceRegistrationState> {
    const label = labelOf(props);
    try {
        const def = definitionOf(props);
        const problems = connectionProblems(props.connection);
        if (problems.length > 0) throw new Error(formatProblems(label, problems));
        if (props.clusterWaitSeconds) await waitForEtcd(props.connection, { timeoutSeconds: props.clusterWaitSeconds });
        const request: ServiceWriteRequest = { owner: id, definition: def, ownedBefore: before.ownedKeys, mirrorToV2: !!props.mirrorToV2, mirroredBefore: before.mirroredKeys, adopt: !!props.adopt };
        // Merged with the other creates/updates on this connection arriving at the same time (one
        // batched read and <= 128-op transactions on a shared session); errors stay this resource's.
        const plan = await registerServiceCoalesced(props.connection, request, label);
        return stateFrom(props, plan, def);
    } catch (err) {
        throw failWith(label, err, props.connection);
    }
}

export const provider: pulumi.dynamic.ResourceProvider = {
    async check(olds: any, news: any) {
        const label = labelOf(news);
        const inputs = { ...news, prefix: news.prefix ?? DEFAULT_SERVICE_PREFIX, mirrorToV2: news.mirrorToV2 ?? false, adopt: news.adopt ?? false };
        const problems = [...serviceDefinitionProblems(inputs, isUnknown), ...connectionProblems(inputs.connection, isUnknown)];
        for (const flag of ["mirrorToV2", "adopt"]) {
            if (!isUnknown(inputs[flag]) && typeof inputs[flag] !== "boolean") problems.push({ field: flag, message: "must be true or false" });
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
        const prefixOf = (p: any) => p.prefix ?? DEFAULT_SERVICE_PREFIX;
        const replaces = [...(olds.service !== news.service ? ["service"] : []), ...(prefixOf(olds) !== prefixOf(news) ? ["prefix"] : [])];
        // ownerKey is not compared: the owner is the id, fixed at create (a renamed stack keeps it).
        const updated = ["scheme", "hosts", "hostPort", "mirrorToV2", "connection", "providerVersion"].filter((k) => !sameJson(olds[k], news[k]));
        if (olds.mirrorToV2 && olds.v2InSync === false && !updated.includes("mirrorToV2")) updated.push("mirrorToV2");
        return { changes: replaces.length + updated.length > 0, replaces, deleteBeforeReplace: false };
    },

    async create(inputs: any) {
        const def = definitionOf(inputs);
        const id = ownerIdFor(def, inputs.ownerKey);
        const outs = await write(id, inputs, { ownedKeys: [], mirroredKeys: [] });
        return { id, outs };
    },

    async read(id: string, props: any) {
        const label = labelOf(props);
        try {
            const def = definitionOf(props);
            const root = serviceRoot(def.prefix, def.service);
            return await withSharedEtcd(props.connection, async (session) => {
                const [snap] = await readSnapshots(session, [def]);
                const owned = ownedKeysSeen(root, snap, id, props.ownedKeys);
                if (!serviceClaim(root, snap).claimed && owned.every((k) => !(k in snap.keys))) return { id: "", props: {} };
                const seen = observedFields(root, owned, snap.keys);
                const state: Record<string, any> = { ...props, scheme: seen.scheme ?? "", hosts: seen.hosts, ownedKeys: owned, v2InSync: props.v2InSync ?? true };
                if (seen.hostPort === undefined) delete state.hostPort;
                else state.hostPort = seen.hostPort;
                let mirrored: string[] = props.mirroredKeys ?? [];
                if (props.mirrorToV2) {
                    const v2 = await readV2Tree(session, root);
                    const written = serviceKeyValues(def);
                    // Recovered by id: the v2 copies of the keys it owns are its own as well.
                    if (props.mirroredKeys === undefined) mirrored = owned.filter((k) => v2[k] !== undefined);
                    state.v2InSync = mirrored.every((k: string) => v2[k] !== undefined && v2[k] === written[k]);
                }
                state.mirroredKeys = mirrored;
                return { id, props: state };
            });
        } catch (err) {
            throw failWith(label, err, props.connection);
        }
    },

    async update(id: string, olds: any, news: any) {
        const outs = await write(id, news, { ownedKeys: olds.ownedKeys ?? [], mirroredKeys: olds.mirroredKeys ?? [] });
        return { outs };
    },

    async delete(id: string, props: any) {
        const label = labelOf(props);
        try {
            const def = definitionOf(props);
            await withSharedEtcd(props.connection, (session) =>
                unregisterServices(session, [{ owner: id, prefix: def.prefix, service: def.service, ownedKeys: props.ownedKeys ?? [], mirroredKeys: props.mirroredKeys ?? [] }]),
            );
        } catch (err) {
            throw failWith(label, err, props.connection);
        }
    },
};

