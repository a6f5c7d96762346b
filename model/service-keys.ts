// The etcd key layout of a registered service (the schema confd/haproxy read, seeds/004):
//   <prefix>/<name>/scheme      http | tcp
//   <prefix>/<name>/hosts/<n>   ip:port, n = 0..
//   <prefix>/<name>/host_port   optional, required for tcp
// Pure functions only: validation, key/value maps, owner markers, operation plans and transaction
// batching. Who owns a service and what writing it does: model/service-write-plan.ts.
// Imports only Pulumi-free modules: the providers bundle this file (bundled-provider.ts).
import { OWNER_NAMESPACE, serviceNameProblem, servicesPrefixProblem } from "./service-naming";
import { HostRuleContext, serviceHostProblem } from "./service-hosts";
import { fixedPortClaims, portNumberProblem, publishedPortProblem } from "./ports";

export { OWNER_NAMESPACE };

export const DEFAULT_SERVICE_PREFIX = "/services";
/** etcd's default --max-txn-ops. */
export const MAX_TXN_OPS = 128;
/**
 * Ownership markers live outside the confd-visible schema, so readers of `<prefix>/` never see them:
 * `<OWNER_NAMESPACE><prefix>/<name>` holds JSON `{ owner: <resource id>, relativeKeys: [...] }`, the
 * keys written, relative to `<prefix>/<name>/` (providers up to 1.2.0 wrote absolute `keys`: read too).
 */

export type ServiceScheme = "http" | "tcp";

export interface ServiceDefinition {
    service: string;
    scheme: ServiceScheme;
    hosts: string[];
    hostPort?: number;
    prefix: string;
}

export interface FieldProblem {
    field: string;
    message: string;
}

export type KeyValues = Record<string, string>;

export type KeyOperation = { op: "put"; key: string; value: string } | { op: "delete"; key: string };

export interface OwnerMarker {
    owner: string;
    keys: string[];
}

/**
 * The value `record` holds for `key` itself, never one it inherits: `constructor` is a valid
 * service name, and `{}.constructor` is a function, not a list of keys.
 */
export function ownValue<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
    return record !== undefined && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}

export function serviceRoot(prefix: string, service: string): string {
    return `${prefix}/${service}`;
}

export function ownerMarkerKey(prefix: string, service: string): string {
    return `${OWNER_NAMESPACE}${prefix}/${service}`;
}

/**
 * What a provider knows of the cluster it writes for: the ports every machine keeps (SSH, DNS, etcd),
 * not the members' addresses or the stack's health port (a consumer stack reaches etcd through a
 * tunnel and has neither); the stack config checks those too (model/validate.ts).
 */
export const PROVIDER_HOST_CONTEXT: HostRuleContext = {
    memberAddresses: [],
    reservedPorts: fixedPortClaims().map((c) => ({ port: c.first, what: c.role })),
};

/** The services-prefix rule the stack config uses too (model/service-naming.ts). */
export function prefixProblem(prefix: unknown): string | undefined {
    return servicesPrefixProblem(prefix);
}

/**
 * Problems of a raw (possibly partial) definition. Values for which `isUnknown` is true (preview
 * placeholders) are not judged.
 */
export function serviceDefinitionProblems(raw: Record<string, unknown>, isUnknown?: (v: unknown) => boolean): FieldProblem[] {
    const problems = serviceFieldProblems(raw, isUnknown);
    const prefix = raw.prefix;
    if (prefix !== undefined && prefix !== null && !isUnknown?.(prefix)) {
        const problem = prefixProblem(prefix);
        if (problem) problems.push({ field: "prefix", message: problem });
    }
    return problems;
}

/**
 * Problems of the fields of one service (service, scheme, hosts, hostPort), without its prefix: what
 * each entry of a set is checked against, for every service of the set in check() and in create().
 */
export function serviceFieldProblems(raw: Record<string, unknown>, isUnknown?: (v: unknown) => boolean): FieldProblem[] {
    const problems: FieldProblem[] = [];
    const known = (v: unknown) => isUnknown === undefined || !isUnknown(v);
    const { service, scheme, hosts, hostPort } = raw;
    if (known(service)) {
        const problem = serviceNameProblem(service);
        if (problem) problems.push({ field: "service", message: problem });
    }
    if (known(scheme) && scheme !== "http" && scheme !== "tcp") {
        problems.push({ field: "scheme", message: `"${String(scheme)}" must be "http" or "tcp"` });
    }
    if (known(hosts)) {
        if (!Array.isArray(hosts)) {
            problems.push({ field: "hosts", message: "must be a list of ip:port strings" });
        } else {
            for (let i = 0; i < hosts.length; i++) {
                const host = hosts[i];
                if (!known(host)) continue;
                const problem = serviceHostProblem(host, PROVIDER_HOST_CONTEXT);
                if (problem) problems.push({ field: `hosts[${i}]`, message: problem });
                else if (hosts.indexOf(host) < i) problems.push({ field: `hosts[${i}]`, message: `"${host}" is listed twice` });
            }
        }
    }
    if (known(hostPort) && hostPort !== undefined && hostPort !== null) {
        // The port table's rules a provider can judge alone: a port, publishable, none of the machines' own.
        const reserved = typeof hostPort === "number" ? PROVIDER_HOST_CONTEXT.reservedPorts.find((r) => r.port === hostPort) : undefined;
        const problem = portNumberProblem(hostPort) ?? publishedPortProblem(hostPort as number) ?? (reserved ? `${hostPort} is ${reserved.what}, which the cluster keeps for itself` : undefined);
        if (problem) problems.push({ field: "hostPort", message: problem });
    } else if (known(hostPort) && scheme === "tcp") {
        problems.push({ field: "hostPort", message: "is required when scheme is tcp (the port the service is published on)" });
    }
    return problems;
}

/** Validates and fills defaults; throws one error listing every problem, each prefixed by `label`. */
export function normalizeServiceDefinition(raw: Record<string, unknown>, label = "service registration"): ServiceDefinition {
    const problems = serviceDefinitionProblems(raw);
    if (problems.length > 0) throw new Error(formatProblems(label, problems));
    return {
        service: raw.service as string,
        scheme: raw.scheme as ServiceScheme,
        hosts: [...(raw.hosts as string[])],
        hostPort: raw.hostPort === undefined || raw.hostPort === null ? undefined : (raw.hostPort as number),
        prefix: (raw.prefix as string | undefined) ?? DEFAULT_SERVICE_PREFIX,
    };
}

export function formatProblems(label: string, problems: FieldProblem[]): string {
    return `${label}: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}`;
}

/**
 * The puts of one service's keys, in schema order (scheme, hosts/0.., host_port): the form a write
 * plan needs, built without intermediate pairs (seeding builds tens of thousands).
 */
export function serviceKeyPuts(def: ServiceDefinition): Array<{ op: "put"; key: string; value: string }> {
    const base = `${serviceRoot(def.prefix, def.service)}/`;
    const puts: Array<{ op: "put"; key: string; value: string }> = [{ op: "put", key: `${base}scheme`, value: def.scheme }];
    for (let i = 0; i < def.hosts.length; i++) puts.push({ op: "put", key: `${base}hosts/${i}`, value: def.hosts[i] });
    if (def.hostPort !== undefined) puts.push({ op: "put", key: `${base}host_port`, value: String(def.hostPort) });
    return puts;
}

/** The keys and values one service writes, as a record. */
export function serviceKeyValues(def: ServiceDefinition): KeyValues {
    const values: KeyValues = {};
    for (const o of serviceKeyPuts(def)) values[o.key] = o.value;
    return values;
}

/**
 * Operations taking etcd from what this resource wrote before (`ownedBefore`) to `desired`:
 * every desired key is put (which also repairs drift), and only keys this resource wrote and no
 * longer wants are deleted; keys of other writers are never touched.
 */
export function planKeyChanges(ownedBefore: readonly string[], desired: KeyValues): KeyOperation[] {
    const ops: KeyOperation[] = [];
    for (const key in desired) ops.push({ op: "put", key, value: desired[key] });
    for (const key of ownedBefore) if (!(key in desired)) ops.push({ op: "delete", key });
    return ops;
}

/**
 * Packs groups of operations into transactions of at most `maxOps`, never splitting a group
 * (one service stays atomic). Greedy in order; a group larger than `maxOps` is an error.
 */
export function batchOperationGroups<T>(groups: readonly T[][], maxOps = MAX_TXN_OPS): T[][][] {
    const batches: T[][][] = [];
    let current: T[][] = [];
    let size = 0;
    for (const group of groups) {
        if (group.length > maxOps) {
            throw new Error(`one service needs ${group.length} operations, more than etcd's ${maxOps}-operation transaction limit (too many hosts)`);
        }
        if (size + group.length > maxOps && current.length > 0) {
            batches.push(current);
            current = [];
            size = 0;
        }
        current.push(group);
        size += group.length;
    }
    if (current.length > 0) batches.push(current);
    return batches;
}

/**
 * The marker's JSON. Keys are stored relative to the service's root: 150 bytes instead of 245 for a
 * service with 3 hosts, and seeding 1,000 services writes 1,000 markers. Every key must be under `root`.
 */
export function encodeOwnerMarker(marker: OwnerMarker, root: string): string {
    const under = `${root}/`;
    const relativeKeys = marker.keys.map((key) => {
        if (!key.startsWith(under)) throw new Error(`owner marker of ${root}: key ${key} is not under it`);
        return key.slice(under.length);
    });
    return JSON.stringify({ owner: marker.owner, relativeKeys: relativeKeys.sort() });
}

/**
 * The marker of the service at `root`; undefined when the value is not a marker this product wrote.
 * Markers of providers up to 1.2.0 (ServiceRegistrationSet 1.0.0) list absolute `keys`: read as such.
 * Those providers, in turn, see a `relativeKeys` marker as someone else's and leave it alone.
 */
export function decodeOwnerMarker(value: string | undefined, root: string): OwnerMarker | undefined {
    if (value === undefined) return undefined;
    const strings = (list: unknown): list is string[] => Array.isArray(list) && list.every((k) => typeof k === "string");
    try {
        const parsed = JSON.parse(value);
        if (typeof parsed?.owner !== "string") return undefined;
        if (strings(parsed.relativeKeys)) return { owner: parsed.owner, keys: parsed.relativeKeys.map((k: string) => `${root}/${k}`) };
        if (strings(parsed.keys)) return { owner: parsed.owner, keys: parsed.keys };
    } catch {
        /* not ours */
    }
    return undefined;
}

/**
 * What etcd currently holds for the keys this resource owns, as definition fields, for drift
 * detection: hosts in index order (missing ones dropped), scheme/hostPort as found.
 */
export function observedFields(root: string, ownedKeys: readonly string[], found: KeyValues): { scheme?: string; hosts: string[]; hostPort?: number | string } {
    const hostKeys = ownedKeys
        .filter((k) => k.startsWith(`${root}/hosts/`))
        .map((k) => ({ key: k, index: Number(k.slice(root.length + 7)) }))
        .sort((a, b) => a.index - b.index);
    const hosts = hostKeys.filter((h) => found[h.key] !== undefined).map((h) => found[h.key]);
    const result: { scheme?: string; hosts: string[]; hostPort?: number | string } = { hosts };
    if (ownedKeys.includes(`${root}/scheme`) && found[`${root}/scheme`] !== undefined) result.scheme = found[`${root}/scheme`];
    const portText = found[`${root}/host_port`];
    if (ownedKeys.includes(`${root}/host_port`) && portText !== undefined) {
        result.hostPort = /^\d+$/.test(portText) ? Number(portText) : portText;
    }
    return result;
}

/**
 * The owner identity of a ServiceRegistration resource: the same for every run of the same
 * resource (`<organization>/<project>/<stack>/<resource name>`), so a create whose result the engine
 * lost is recognised as this resource's own when it runs again.
 */
export function registrationOwnerKey(parts: { organization: string; project: string; stack: string; resourceName: string }): string {
    return [parts.organization, parts.project, parts.stack, parts.resourceName].join("/");
}

/** The resource id, also the owner written into the marker: `<prefix>/<name>@<owner key>`. */
export function registrationId(prefix: string, service: string, ownerKey: string): string {
    return `${serviceRoot(prefix, service)}@${ownerKey}`;
}

export function isEmptyRecord(record: Record<string, unknown> | undefined): boolean {
    for (const _ in record ?? {}) return false;
    return true;
}

/** Operations that put back what the snapshot held for every key the plan touched (rollback). */
export function compensationOps(touched: KeyOperation[], before: KeyValues): KeyOperation[] {
    return touched.map((o) => (o.key in before ? { op: "put" as const, key: o.key, value: before[o.key] } : { op: "delete" as const, key: o.key }));
}
