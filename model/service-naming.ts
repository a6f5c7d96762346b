// The two naming rules that the stack config and the service providers must agree on, in one
// Pulumi-free module with no imports (the providers bundle it). A service name is a DNS label
// because the router matches `<name>.<domain>`; a prefix is a clean etcd key path because etcd's
// v2 API cleans paths (`/services/../etc` is `/etc`), so the v2 mirror would write elsewhere.

/** 1-63 of a-z 0-9 and "-", starting with a letter, not ending with "-" (RFC 1123 label, no leading digit). */
export const SERVICE_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Ownership markers live here, outside any services prefix (see model/service-keys.ts). */
export const OWNER_NAMESPACE = "/coreos-cluster/owners";

const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Keyspaces other programs on the machines own (fleet's registry, locksmith's reboot lock, etcd's own). */
export const SYSTEM_KEYSPACES: ReadonlyArray<{ prefix: string; what: string }> = [
    { prefix: "/_coreos.com", what: "fleet's registry (its schedule runs units as root)" },
    { prefix: "/coreos.com", what: "locksmith's reboot semaphore and the update engine's keys" },
    { prefix: "/_etcd", what: "etcd's own keyspace" },
    { prefix: "/coreos-cluster", what: "the cluster's own keys (ownership markers, TLS reports, the restart lock)" },
    { prefix: "/v2", what: "what etcd's v2 HTTP API reads as an API path" },
    { prefix: "/v3", what: "what etcd's v3 gateway reads as an API path" },
];

/** Why `name` is not a service name, or undefined when it is one. */
export function serviceNameProblem(name: unknown): string | undefined {
    if (typeof name !== "string") return `must be a string, got ${name === null ? "null" : typeof name}`;
    if (SERVICE_NAME.test(name)) return undefined;
    return `"${name}" is not a valid service name: 1-63 of a-z 0-9 and "-", starting with a letter and not ending with "-" (it becomes the etcd key <prefix>/<name> and the DNS label <name>.<domain>)`;
}

/** Why `prefix` is not a services prefix such as /services, or undefined when it is one. */
export function servicesPrefixProblem(prefix: unknown): string | undefined {
    if (typeof prefix !== "string") return "must be a string such as /services";
    if (!prefix.startsWith("/")) return `"${prefix}" must be an etcd key path like /services: it must start with "/"`;
    if (prefix === "/") return `"/" is not allowed: use a folder such as /services`;
    if (prefix.endsWith("/")) return `"${prefix}" must be an etcd key path like /services: no trailing "/"`;
    const segments = prefix.slice(1).split("/");
    if (segments.some((s) => s === "")) return `"${prefix}" must be an etcd key path like /services: no empty segment ("//")`;
    if (segments.some((s) => s === "." || s === "..")) {
        return `"${prefix}" must be an etcd key path like /services: no "." or ".." segment (etcd's v2 API would resolve it to another path)`;
    }
    if (segments.some((s) => !PREFIX_SEGMENT.test(s))) return `"${prefix}" must be an etcd key path like /services: segments of A-Z a-z 0-9 _ . - only`;
    if (prefix === OWNER_NAMESPACE || prefix.startsWith(`${OWNER_NAMESPACE}/`) || OWNER_NAMESPACE.startsWith(`${prefix}/`)) {
        return `"${prefix}" overlaps the ownership namespace ${OWNER_NAMESPACE}`;
    }
    const system = SYSTEM_KEYSPACES.find((k) => prefix === k.prefix || prefix.startsWith(`${k.prefix}/`) || k.prefix.startsWith(`${prefix}/`));
    if (system) return `"${prefix}" overlaps ${system.prefix}, ${system.what}: service keys there would be read (or deleted) as theirs`;
    return undefined;
}
