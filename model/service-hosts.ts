// The one host rule: what a service's `hosts/<n>` entry may be, wherever it comes from (the stack
// config, a provider's inputs, a key the router reads from etcd). A host is a backend the load
// balancer publishes, so it must be a unicast IPv4 address outside the cluster's own control plane:
// a host on loopback, link-local (the metadata server at 169.254.169.254), a member's address or a
// port the cluster reserves for itself would publish that through every worker's router.
//
// IPv4 only, everywhere: the VPC subnet, the firewall matrix and the flow check are IPv4, and a
// rule that the config, the providers and the router read differently is no rule.
// No imports beyond model/: the providers and the router bundle this file.

import { Cidr, cidrContains, formatIpv4, parseIpv4 } from "./ipv4";

/** Canonical `a.b.c.d:port`: no leading zeros, port 1-65535, nothing else (no spaces, no brackets). */
const HOST_GRAMMAR = /^((?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)):([1-9]\d{0,4})$/;

/** Address classes no backend may sit in, with the reason a message gives. */
export const NON_BACKEND_RANGES: ReadonlyArray<{ cidr: Cidr; what: string }> = [
    { cidr: { network: 0, prefix: 8, size: 2 ** 24 }, what: "the unspecified range 0.0.0.0/8" },
    { cidr: { network: 127 * 2 ** 24, prefix: 8, size: 2 ** 24 }, what: "loopback (127.0.0.0/8): it would publish the worker's own local services" },
    { cidr: { network: (169 * 256 + 254) * 2 ** 16, prefix: 16, size: 2 ** 16 }, what: "link-local (169.254.0.0/16), where the metadata server answers" },
    { cidr: { network: 224 * 2 ** 24, prefix: 4, size: 2 ** 28 }, what: "multicast (224.0.0.0/4)" },
    { cidr: { network: 240 * 2 ** 24, prefix: 4, size: 2 ** 28 }, what: "reserved and broadcast (240.0.0.0/4, 255.255.255.255)" },
];

/** What the rule needs to know about the cluster it routes for. */
export interface HostRuleContext {
    /** Addresses of the etcd members (nothing may route to a member). */
    memberAddresses: readonly string[];
    /** Ports the cluster keeps for itself on every machine (SSH, etcd, the health check, DNS...). */
    reservedPorts: ReadonlyArray<{ port: number; what: string }>;
    /** Other addresses no backend has: the subnet's own (network, gateway, broadcast), the local VPC's deployer and balancer. */
    reservedAddresses?: ReadonlyArray<{ address: string; what: string }>;
}

export const NO_CLUSTER_CONTEXT: HostRuleContext = { memberAddresses: [], reservedPorts: [] };

/**
 * `{ address, port, value }` of a host entry that matches HOST_GRAMMAR (the definition), else
 * undefined; `value` is the address as a number. Parsed by hand, without the regular expression:
 * providers judge tens of thousands of hosts per write (test/model/service-hosts.test.ts holds the
 * two to each other).
 */
export function splitHost(host: string): { address: string; port: number; value: number } | undefined {
    const colon = host.lastIndexOf(":");
    const digits = host.length - colon - 1;
    if (colon <= 0 || digits < 1 || digits > 5 || host.charCodeAt(colon + 1) === 48) return undefined;
    let port = 0;
    for (let i = colon + 1; i < host.length; i++) {
        const c = host.charCodeAt(i);
        if (c < 48 || c > 57) return undefined;
        port = port * 10 + (c - 48);
    }
    if (port > 65535) return undefined;
    const address = host.slice(0, colon);
    const value = parseIpv4(address);
    return value === undefined ? undefined : { address, port, value };
}

/** The same as splitHost, by the grammar itself: the definition the hand-written parser is held to. */
export function splitHostByGrammar(host: string): { address: string; port: number } | undefined {
    const m = HOST_GRAMMAR.exec(host);
    if (!m || Number(m[2]) > 65535) return undefined;
    return { address: m[1], port: Number(m[2]) };
}

/** Why `host` may not be a service host, or undefined when it may. Messages quote the value as JSON, so no control character is echoed raw. */
export function serviceHostProblem(host: unknown, context: HostRuleContext = NO_CLUSTER_CONTEXT): string | undefined {
    if (typeof host !== "string") return `must be an "ip:port" string, got ${host === null ? "null" : typeof host}`;
    // Quoted only for a message: providers judge tens of thousands of valid hosts at a time.
    const shown = () => JSON.stringify(host.length > 80 ? `${host.slice(0, 80)}...` : host);
    const parts = splitHost(host);
    if (!parts) return `${shown()} is not ip:port (a canonical IPv4 address and a port 1-65535, e.g. 10.10.0.5:8080)`;
    const value = parts.value;
    const range = NON_BACKEND_RANGES.find((r) => cidrContains(r.cidr, value));
    if (range) return `${shown()} is in ${range.what}; a service host must be a unicast address of a backend`;
    if (context.memberAddresses.includes(parts.address)) return `${shown()} is an etcd member's address; services never route into the control plane`;
    const address = context.reservedAddresses?.find((r) => r.address === parts.address);
    if (address) return `${shown()} is ${address.what}, where no backend can be`;
    const reserved = context.reservedPorts.find((r) => r.port === parts.port);
    if (reserved) return `${shown()} uses port ${parts.port}, ${reserved.what}, which the cluster keeps for itself`;
    return undefined;
}

/** The member addresses of a plan's client URLs (`https://10.0.0.2:2379` -> `10.0.0.2`), for the context. */
export function addressesOfUrls(urls: readonly string[]): string[] {
    const out: string[] = [];
    for (const url of urls) {
        const m = /^[a-z]+:\/\/([0-9.]+):\d+\/?$/.exec(url);
        if (m && parseIpv4(m[1]) !== undefined) out.push(formatIpv4(parseIpv4(m[1])!));
    }
    return out;
}
