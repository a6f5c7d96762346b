// The plain data every rule works on: a resource as the policy engine sees it (type token,
// inputs, options) and what the analyzer knows about the stack. Rules are pure functions of
// these, so they are tested with hand-written objects and no Pulumi at all.

/** One resource, as plain data (inputs, not outputs: a preview has no outputs yet). */
export interface PlainResource {
    type: string;
    name: string;
    urn: string;
    props: Record<string, unknown>;
    /** The `protect` resource option. */
    protect?: boolean;
}

/** What the analyzer is told about the stack (from the engine's PULUMI_STACK / PULUMI_CONFIG). */
export interface StackContext {
    /** Stack name, e.g. `prod`; absent when the engine did not say. */
    stack?: string;
    /** Stack config as the engine passes it: full keys (`coreos-cluster:etcdCount`), string values. */
    config: Record<string, string>;
}

/** A violation; `urn` names the resource at fault when a stack-level rule reports it. */
export interface Finding {
    message: string;
    urn?: string;
}

export const CONFIG_NAMESPACE = "coreos-cluster";

export const TYPES = {
    instance: "gcp:compute/instance:Instance",
    instanceTemplate: "gcp:compute/instanceTemplate:InstanceTemplate",
    regionInstanceTemplate: "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
    firewall: "gcp:compute/firewall:Firewall",
    regionInstanceGroupManager: "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
    instanceGroupManager: "gcp:compute/instanceGroupManager:InstanceGroupManager",
} as const;

/** Resources that become VMs (an instance, or the template a group stamps VMs from). */
export const VM_TYPES: readonly string[] = [TYPES.instance, TYPES.instanceTemplate, TYPES.regionInstanceTemplate];

export const GROUP_MANAGER_TYPES: readonly string[] = [TYPES.regionInstanceGroupManager, TYPES.instanceGroupManager];

/** The labels every cluster VM carries (components/gcp/labels.ts sets them). */
export const CLUSTER_LABELS = ["cluster", "environment", "role"] as const;

export function isVm(resource: PlainResource): boolean {
    return VM_TYPES.includes(resource.type);
}

/** Dynamic resources all share this type token; components/local's LocalMachine is one. */
export const DYNAMIC_RESOURCE_TYPE = "pulumi-nodejs:dynamic:Resource";

/**
 * A machine of the local platform (components/local/local-machine.ts): a dynamic resource
 * whose inputs are a machine name, an etcd/worker role, an address and its user-data.
 */
export function isLocalMachine(resource: PlainResource): boolean {
    const p = resource.props;
    return (
        resource.type === DYNAMIC_RESOURCE_TYPE &&
        (p.role === "etcd" || p.role === "worker") &&
        typeof p.userData === "string" &&
        typeof p.address === "string"
    );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [];
}

export function labelsOf(resource: PlainResource): Record<string, string> {
    const labels = resource.props.labels;
    if (!isRecord(labels)) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
    return out;
}

export function configValue(ctx: StackContext, key: string): string | undefined {
    const value = ctx.config[`${CONFIG_NAMESPACE}:${key}`];
    return value === undefined || value === "" ? undefined : value;
}

/**
 * The environment a resource belongs to: its `environment` label, else the stack's
 * `coreos-cluster:environment`, else the stack name (the config key's documented default).
 */
import { isProductionStack } from "../../model/environment-rules";

export function environmentOf(resource: PlainResource | undefined, ctx: StackContext): string | undefined {
    const label = resource ? labelsOf(resource).environment : undefined;
    return label || configValue(ctx, "environment") || ctx.stack || undefined;
}

/** `prod`, `production`, `prod-eu`, `eu-prd`, `live`: the production rules apply (the config validation's rule). */
export { isProductionEnvironment as isProduction } from "../../model/environment-rules";

/** Fail-safe, as the config validation judges it: the resource's label, the stack's environment or its name says production. */
export function isProductionContext(resource: PlainResource | undefined, ctx: StackContext): boolean {
    return isProductionStack(resource ? labelsOf(resource).environment : undefined, configValue(ctx, "environment"), ctx.stack);
}

export function describe(resource: PlainResource): string {
    return `${resource.name} (${resource.type})`;
}
