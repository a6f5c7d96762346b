// The least-privilege ingress matrix, by network tag, as plain data. GCE denies all
// ingress by default, so these rules are everything that can reach the machines: etcd
// only between the roles that need it, SSH only from configured ranges, load-balanced
// ports and health checks only to workers, metrics only from the monitoring range.

import { ClusterConfig, ClusterPlan, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "./types";
import { roleTag } from "./plan";
import { cidrContains, parseCidr, parseIpv4 } from "./ipv4";
import { DOCKER_EPHEMERAL_PORTS, SSH_PORT } from "./ports";
import { metricsEndpoints, monitoringRanges } from "./monitoring";

export { DOCKER_EPHEMERAL_PORTS, SSH_PORT };

export interface FirewallAllow {
    protocol: "tcp" | "udp" | "icmp";
    /** Single ports or ranges ("8000-8080"); absent means every port of the protocol. */
    ports?: string[];
}

export interface FirewallRuleSpec {
    /** `<cluster>-<purpose>`, also the GCE resource name. */
    name: string;
    description: string;
    direction: "INGRESS";
    sourceRanges?: string[];
    sourceTags?: string[];
    targetTags: string[];
    allow: FirewallAllow[];
}

/** Where Google's health checkers and load-balancer probes come from. */
export const GOOGLE_HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"];
/** Extra probe sources of external passthrough network load balancers. */
export const NETWORK_LB_HEALTH_CHECK_RANGES = ["209.85.152.0/22", "209.85.204.0/22"];

/**
 * Every port the load balancer forwards to workers from the internet: HTTP ports, extra TCP
 * ports, and the host_ports of services marked `public: true`.
 */
export function loadBalancedPorts(config: ClusterConfig): number[] {
    const ports = [
        ...config.loadBalancer.httpPorts,
        ...config.loadBalancer.tcpPorts,
        ...config.services.filter((s) => s.public === true && s.hostPort !== undefined).map((s) => s.hostPort as number),
    ];
    return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * host_ports of services that are not public: every worker's router serves them to the VPC only.
 * A tcp FleetService's hostPort is one too (its sidekicks announce it), unless listed in lbTcpPorts.
 */
export function internalServicePorts(config: ClusterConfig): number[] {
    const publicPorts = new Set(loadBalancedPorts(config));
    const declared = [...config.services, ...(config.fleetServices ?? [])].map((s) => s.hostPort);
    const ports = declared.filter((p): p is number => p !== undefined && !publicPorts.has(p));
    return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * The ports FleetService instances listen on, as every worker's router dials them on other workers
 * (the sidekicks announce `<worker address>:<port>`; the template runs on workers only): the
 * ephemeral range for the image form, `instancePort` for the unit-file form. On the local platform
 * only when another worker's router exists, as for serviceBackendPorts.
 */
export function fleetServiceInstancePorts(config: ClusterConfig, plan: ClusterPlan): Array<{ first: number; last: number }> {
    if (config.platform === "local" && plan.workers.length < 2) return [];
    const ranges = (config.fleetServices ?? []).map((s) => (s.image !== undefined ? DOCKER_EPHEMERAL_PORTS : { first: s.instancePort as number, last: s.instancePort as number }));
    const unique = new Map(ranges.map((r) => [`${r.first}-${r.last}`, r]));
    return [...unique.values()].sort((a, b) => a.first - b.first);
}

export const portSpec = (r: { first: number; last: number }): string => (r.first === r.last ? String(r.first) : `${r.first}-${r.last}`);

/** The address and port of a service's `ip:port` host entry (validated upstream). */
export function splitServiceHost(entry: string): { address: string; port: number } {
    const colon = entry.lastIndexOf(":");
    return { address: entry.slice(0, colon), port: Number(entry.slice(colon + 1)) };
}

/**
 * The ports every worker's router dials on OTHER workers: the backends of the declared services
 * (http and tcp alike). Which hosts count:
 * - a planned worker address (local platform), when there is another worker whose router dials it
 *   (a worker's own router reaches its own backends without the network);
 * - on GCE, where workers are a group with addresses from the subnet, any subnet address that is
 *   no member's static address.
 * Not counted: a host on a member's address (no worker-tag rule could admit it; the flow check names
 * that flow as missing instead of this rule opening a port no worker serves), and a host outside the
 * cluster's subnet (an external address). The latter is outside the firewall's concern: the rule is
 * about worker tags only, and the router reaches such a host through egress, which GCE allows.
 */
export function serviceBackendPorts(config: ClusterConfig, plan: ClusterPlan): number[] {
    const members = new Set(plan.members.map((m) => m.privateIp));
    const workers = new Set(plan.workers.map((w) => w.privateIp));
    const subnet = parseCidr(config.gcp.subnetCidr);
    const onAWorker = (address: string): boolean => {
        if (members.has(address)) return false;
        if (workers.size > 0) return workers.has(address) && workers.size > 1;
        const ip = parseIpv4(address);
        return ip !== undefined && "cidr" in subnet && cidrContains(subnet.cidr, ip);
    };
    const ports = config.services.flatMap((s) => s.hosts.map(splitServiceHost).filter((h) => onAWorker(h.address)).map((h) => h.port));
    return [...new Set(ports)].sort((a, b) => a - b);
}

export function firewallMatrix(config: ClusterConfig, plan: ClusterPlan): FirewallRuleSpec[] {
    const cluster = config.name;
    const etcd = roleTag(cluster, "etcd");
    const worker = roleTag(cluster, "worker");
    const rules: FirewallRuleSpec[] = [
        {
            name: `${cluster}-etcd-peer`,
            description: `etcd peer traffic (${ETCD_PEER_PORT}) between members only`,
            direction: "INGRESS",
            sourceTags: [etcd],
            targetTags: [etcd],
            allow: [{ protocol: "tcp", ports: [String(ETCD_PEER_PORT)] }],
        },
        // No worker reaches the peer port: a worker's local endpoint is `etcd gateway`, which dials the
        // members' client ports only (docs/security.md), so raft's port stays members-only.
        {
            name: `${cluster}-etcd-client`,
            description: `etcd clients (${ETCD_CLIENT_PORT}), mutual TLS: workers' gateways, routers, fleet and locksmith, and members themselves`,
            direction: "INGRESS",
            sourceTags: [etcd, worker],
            targetTags: [etcd],
            allow: [{ protocol: "tcp", ports: [String(ETCD_CLIENT_PORT)] }],
        },
    ];
    if (config.ssh.sourceRanges.length > 0) {
        rules.push({
            name: `${cluster}-ssh`,
            description: "SSH from the configured source ranges only",
            direction: "INGRESS",
            sourceRanges: [...config.ssh.sourceRanges],
            targetTags: [etcd, worker],
            allow: [{ protocol: "tcp", ports: [String(SSH_PORT)] }],
        });
    }
    const lbPorts = loadBalancedPorts(config);
    if (lbPorts.length > 0) {
        rules.push({
            name: `${cluster}-ingress`,
            description: "load-balanced ports to workers (a passthrough load balancer keeps the client's address, so any source)",
            direction: "INGRESS",
            sourceRanges: ["0.0.0.0/0"],
            targetTags: [worker],
            allow: [{ protocol: "tcp", ports: lbPorts.map(String) }],
        });
    }
    const internalPorts = internalServicePorts(config);
    if (internalPorts.length > 0) {
        rules.push({
            name: `${cluster}-ingress-internal`,
            description: "services' host_ports not marked public: from inside the subnet only",
            direction: "INGRESS",
            sourceRanges: [config.gcp.subnetCidr],
            targetTags: [worker],
            allow: [{ protocol: "tcp", ports: internalPorts.map(String) }],
        });
    }
    const backendPorts = serviceBackendPorts(config, plan);
    if (backendPorts.length > 0) {
        // Every worker's router proxies a service to its hosts, typically on other workers.
        rules.push({
            name: `${cluster}-service-backends`,
            description: "workers' routers to the services' hosts (ip:port) on other workers",
            direction: "INGRESS",
            sourceTags: [worker],
            targetTags: [worker],
            allow: [{ protocol: "tcp", ports: backendPorts.map(String) }],
        });
    }
    const instancePorts = fleetServiceInstancePorts(config, plan);
    if (instancePorts.length > 0) {
        rules.push({
            name: `${cluster}-fleet-service-instances`,
            description: "workers' routers to FleetService instances on other workers (their announced ports)",
            direction: "INGRESS",
            sourceTags: [worker],
            targetTags: [worker],
            allow: [{ protocol: "tcp", ports: instancePorts.map(portSpec) }],
        });
    }
    // One rule per role: a member has no exporter on the router's port, a worker no etcd listener.
    const monitoring = monitoringRanges(config);
    if (monitoring.length > 0) {
        for (const endpoint of metricsEndpoints(config)) {
            rules.push({
                name: `${cluster}-${endpoint.role === "etcd" ? "etcd" : "router"}-metrics`,
                description: `${endpoint.what}: from the monitoring ranges only (monitoringRanges)`,
                direction: "INGRESS",
                sourceRanges: monitoring,
                targetTags: [endpoint.role === "etcd" ? etcd : worker],
                allow: [{ protocol: "tcp", ports: [String(endpoint.port)] }],
            });
        }
    }
    rules.push({
        name: `${cluster}-health-check`,
        description: "health checks (load balancer and autohealing) from Google's probe ranges to workers",
        direction: "INGRESS",
        sourceRanges: [...GOOGLE_HEALTH_CHECK_RANGES, ...NETWORK_LB_HEALTH_CHECK_RANGES],
        targetTags: [worker],
        allow: [{ protocol: "tcp", ports: [String(config.healthCheck.port)] }],
    });
    return rules;
}
