// The one port table: every port a machine of the cluster listens on or forwards, by role, and the
// rule that no two roles share one. The stack config is checked against it pair by pair (each
// error names both keys), and the router checks what it reads from etcd against the same table.
// No imports: the router bundles this file.

/** Fixed ports the product keeps for itself on every machine. */
export const SSH_PORT = 22;
export const DNS_PORT = 53;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/**
 * etcd's metrics listener (ETCD_LISTEN_METRICS_URLS): plain HTTP serving /metrics and /health only,
 * no keys, so no client certificate (docs/security.md). etcd's own documentation uses 2381.
 */
export const ETCD_METRICS_PORT = 2381;
/** HAProxy's built-in Prometheus exporter on every worker's router (`use-service prometheus-exporter`). */
export const ROUTER_METRICS_PORT = 8405;
/** The path both metrics ports answer Prometheus on. */
export const METRICS_PATH = "/metrics";
/**
 * Where Docker publishes `-p <containerPort>` on the host: a free port of the kernel's ephemeral
 * range (libnetwork's port allocator reads net.ipv4.ip_local_port_range; Linux's and Flatcar's
 * default is 32768-60999). A host that changes that sysctl must change this too.
 */
export const DOCKER_EPHEMERAL_PORTS = { first: 32768, last: 60999 } as const;
/** Below this, a port is a system port: only root binds it, and a service must not take one the OS uses. */
export const SYSTEM_PORT_LIMIT = 1024;
/** System ports a service may still be published on: the web's (the router serves them). */
export const PUBLISHABLE_SYSTEM_PORTS: readonly number[] = [80, 443];

/** One use of a port, named by the config key (or etcd key) that claims it. */
export interface PortClaim {
    /** e.g. `coreos-cluster:lbHttpPorts[1]`, `services[2].host_port`, or "SSH" for a fixed role. */
    key: string;
    /** What the port is for, in words: "SSH", "the health check", "tcp service redis's host_port". */
    role: string;
    first: number;
    /** Same as first for a single port. */
    last: number;
    /**
     * Claims of one group may share a port with each other (the load balancer forwards one port once,
     * whatever key listed it); undefined: the claim shares with nothing.
     */
    shareGroup?: string;
}

/** The roles the product always has on its machines, with the health port the stack chose. */
export function fixedPortClaims(healthCheckPort?: number): PortClaim[] {
    const one = (port: number, key: string, role: string): PortClaim => ({ key, role, first: port, last: port });
    const claims = [
        one(SSH_PORT, "SSH (port 22)", "SSH"),
        one(DNS_PORT, "DNS (port 53)", "the worker's <service>.local resolver"),
        one(ETCD_CLIENT_PORT, "etcd client (port 2379)", "the etcd client port"),
        one(ETCD_PEER_PORT, "etcd peer (port 2380)", "the etcd peer port"),
        one(ETCD_METRICS_PORT, `etcd metrics (port ${ETCD_METRICS_PORT})`, "etcd's metrics listener"),
        one(ROUTER_METRICS_PORT, `router metrics (port ${ROUTER_METRICS_PORT})`, "HAProxy's Prometheus exporter"),
    ];
    if (healthCheckPort !== undefined) claims.push(one(healthCheckPort, "healthCheckPort", "the worker health check"));
    return claims;
}

export function portRangeText(c: { first: number; last: number }): string {
    return c.first === c.last ? String(c.first) : `${c.first}-${c.last}`;
}

/**
 * Every pair of claims that overlap, once each, as `[earlier, later]` in claim order, sorted by the
 * later claim. Claims of the same share group never collide with each other. A sweep over the
 * claims sorted by first port: thousands of host_ports cost a sort, not every pair.
 */
export function portCollisions(claims: readonly PortClaim[]): Array<[PortClaim, PortClaim]> {
    const order = claims.map((_, i) => i).sort((a, b) => claims[a].first - claims[b].first || a - b);
    const pairs: Array<[number, number]> = [];
    let active: number[] = [];
    for (const j of order) {
        const b = claims[j];
        active = active.filter((i) => claims[i].last >= b.first);
        for (const i of active) {
            const a = claims[i];
            if (a.shareGroup !== undefined && a.shareGroup === b.shareGroup) continue;
            pairs.push(i < j ? [i, j] : [j, i]);
        }
        active.push(j);
    }
    pairs.sort((x, y) => x[1] - y[1] || x[0] - y[0]);
    return pairs.map(([i, j]) => [claims[i], claims[j]]);
}

/** The message for one collision, naming both keys. */
export function collisionMessage(earlier: PortClaim, later: PortClaim): string {
    const overlap = { first: Math.max(earlier.first, later.first), last: Math.min(earlier.last, later.last) };
    return `port ${portRangeText(overlap)} is ${later.role} here and also ${earlier.role} (${earlier.key}); every role needs a port of its own`;
}

/** Why a port is not a port at all, or undefined. */
export function portNumberProblem(port: unknown): string | undefined {
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) return `must be an integer port 1-65535, got ${typeof port === "number" ? port : JSON.stringify(port) ?? typeof port}`;
    return undefined;
}

/**
 * Why a port may not be published to clients (load-balanced or a service's host_port), or undefined:
 * a system port other than 80/443 belongs to the OS (and the router would need root to bind it).
 * Docker's ephemeral range is a claim of its own in the table (a collision, not a rule here).
 */
export function publishedPortProblem(port: number): string | undefined {
    if (port < SYSTEM_PORT_LIMIT && !PUBLISHABLE_SYSTEM_PORTS.includes(port)) {
        return `${port} is a system port (below ${SYSTEM_PORT_LIMIT}); publish services on 80 or a port from 1024 up`;
    }
    return undefined;
}

/** Docker's ephemeral range as a claim, for the config and the router alike. */
export const DOCKER_EPHEMERAL_CLAIM: PortClaim = {
    key: "Docker's ephemeral port range",
    role: "Docker's range for containers' published ports",
    ...DOCKER_EPHEMERAL_PORTS,
};
