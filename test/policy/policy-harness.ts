// Runs the pack's policy objects the way @pulumi/policy's server does (validateResource /
// validateStack with the SDK's argument shapes), on hand-built resources shaped like the
// ones the coreos-cluster components register. No engine, no cloud.
import {
    Policies,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { buildPolicies } from "../../policy/policies";
import { DYNAMIC_RESOURCE_TYPE, PlainResource, StackContext, TYPES } from "../../policy/rules/resource-data";

export const PROJECT = "acme-infra";

class NotApplicable extends Error {}

function options(protect: boolean | undefined) {
    return {
        protect: protect === true,
        ignoreChanges: [],
        aliases: [],
        additionalSecretOutputs: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    };
}

function urnOf(r: { type: string; name: string }, stack = "dev"): string {
    return `urn:pulumi:${stack}::coreos-cluster::${r.type}::${r.name}`;
}

export function resourceArgs(r: PlainResource): ResourceValidationArgs {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: r.props,
        opts: options(r.protect),
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
    };
}

function policyResource(r: PlainResource): PolicyResource {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: r.props,
        opts: options(r.protect),
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    };
}

export function policiesFor(ctx: StackContext): Policies {
    return buildPolicies(() => ctx);
}

export function policyNamed(policies: Policies, name: string) {
    const found = policies.find((p) => p.name === name);
    if (!found) throw new Error(`no policy named ${name}`);
    return found;
}

/** Violation messages one resource policy reports for one resource. */
export async function runResourcePolicy(ctx: StackContext, name: string, resource: PlainResource): Promise<string[]> {
    const policy = policyNamed(policiesFor(ctx), name) as ResourceValidationPolicy;
    if (typeof policy.validateResource !== "function") throw new Error(`${name} is not a single resource validation`);
    const messages: string[] = [];
    await policy.validateResource(resourceArgs(resource), (message) => messages.push(message));
    return messages;
}

/** Violations (message and urn) one stack policy reports for a set of resources. */
export async function runStackPolicy(
    ctx: StackContext,
    name: string,
    resources: PlainResource[],
): Promise<Array<{ message: string; urn?: string }>> {
    const policy = policyNamed(policiesFor(ctx), name) as StackValidationPolicy;
    if (typeof policy.validateStack !== "function") throw new Error(`${name} is not a stack validation`);
    const args: StackValidationArgs = {
        resources: resources.map(policyResource),
        stackTags: new Map(),
        getConfig: <T extends object>() => ({}) as T,
        notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
        },
    };
    const found: Array<{ message: string; urn?: string }> = [];
    await policy.validateStack(args, (message, urn) => found.push({ message, urn }));
    return found;
}

// ---- resources shaped like the components' ------------------------------------------

export const CLOUD_CONFIG_WITH_WINDOW = [
    "#cloud-config",
    "coreos:",
    "  update:",
    "    reboot_strategy: etcd-lock",
    "  locksmith:",
    "    endpoint: http://127.0.0.1:2379",
    "    window_start: Sun 04:00",
    "    window_length: 2h",
    "",
].join("\n");

export function resource(type: string, name: string, props: Record<string, unknown>, protect?: boolean, stack = "dev"): PlainResource {
    return { type, name, urn: urnOf({ type, name }, stack), props, protect };
}

export function labels(environment: string, role: string, cluster = "coreos"): Record<string, string> {
    return { cluster, environment, role };
}

export function etcdMember(
    index: number,
    opts: { environment?: string; protect?: boolean; deletionProtection?: boolean; cluster?: string; props?: Record<string, unknown> } = {},
): PlainResource {
    const environment = opts.environment ?? "dev";
    const cluster = opts.cluster ?? "coreos";
    return resource(
        TYPES.instance,
        `${cluster}-etcd-${index}`,
        {
            name: `${cluster}-etcd-${index}`,
            machineType: "e2-medium",
            zone: ["europe-west1-b", "europe-west1-c", "europe-west1-d"][index % 3],
            labels: labels(environment, "etcd", cluster),
            metadata: { "user-data": CLOUD_CONFIG_WITH_WINDOW },
            networkInterfaces: [{ subnetwork: "coreos-subnet", networkIp: `10.10.0.${10 + index}` }],
            serviceAccount: { email: `${cluster}-etcd@${PROJECT}.iam.gserviceaccount.com`, scopes: ["https://www.googleapis.com/auth/logging.write"] },
            deletionProtection: opts.deletionProtection ?? environment === "prod",
            ...opts.props,
        },
        opts.protect ?? environment === "prod",
        environment,
    );
}

export function workerTemplate(props: Record<string, unknown> = {}, environment = "dev"): PlainResource {
    return resource(
        TYPES.regionInstanceTemplate,
        "coreos-worker",
        {
            namePrefix: "coreos-worker-",
            region: "europe-west1",
            machineType: "e2-medium",
            labels: labels(environment, "worker"),
            metadata: { "user-data": CLOUD_CONFIG_WITH_WINDOW },
            networkInterfaces: [{ subnetwork: "coreos-subnet" }],
            serviceAccount: { email: `coreos-worker@${PROJECT}.iam.gserviceaccount.com`, scopes: ["https://www.googleapis.com/auth/logging.write"] },
            ...props,
        },
        undefined,
        environment,
    );
}

export function workerGroup(updatePolicy: unknown, props: Record<string, unknown> = {}): PlainResource {
    return resource(TYPES.regionInstanceGroupManager, "coreos-worker", {
        baseInstanceName: "coreos-worker",
        region: "europe-west1",
        distributionPolicyZones: ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
        versions: [{ instanceTemplate: "coreos-worker-template", name: "primary" }],
        ...(updatePolicy === undefined ? {} : { updatePolicy }),
        ...props,
    });
}

export function firewall(name: string, props: Record<string, unknown>): PlainResource {
    return resource(TYPES.firewall, name, { name, network: "coreos-network", direction: "INGRESS", ...props });
}

/** A machine of the local platform, registered as LocalMachine (a dynamic resource) registers it. */
export function localMachine(name: string, role: "etcd" | "worker", address: string, userData = CLOUD_CONFIG_WITH_WINDOW): PlainResource {
    return resource(
        DYNAMIC_RESOURCE_TYPE,
        name,
        { name, role, address, userData, root: ".local-machines", flavor: "flatcar", providerVersion: "1", __provider: "exports.handler = ..." },
        undefined,
        "local",
    );
}

export const DEV: StackContext = { stack: "dev", config: {} };
export const PROD: StackContext = { stack: "prod", config: {} };
