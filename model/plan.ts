// The address and zone plan: where every etcd member (and, locally, every worker) lives,
// computed from the validated config alone so that user-data can name its peers before
// any machine exists. Pure and deterministic: the same config always gives the same plan.

import { createHash } from "crypto";
import { ClusterConfig, ClusterPlan, ETCD_CLIENT_PORT, ETCD_PEER_PORT, MachineRole, MemberPlan, WorkerPlan } from "./types";
import { LAST_LOOPBACK_HOST, LOOPBACK, cidrContains, formatIpv4, gceUsableRange, isPrivateIpv4, parseCidr, parseIpv4 } from "./ipv4";

/** Network tag of a role: what the firewall matrix matches on. */
export function roleTag(clusterName: string, role: MachineRole): string {
    return `${clusterName}-${role}`;
}

export function memberName(clusterName: string, index: number): string {
    return `${clusterName}-etcd-${index}`;
}

export function workerName(clusterName: string, index: number): string {
    return `${clusterName}-worker-${index}`;
}

/** Stable per cluster name, distinct between clusters, so members of two clusters never merge. */
export function clusterToken(clusterName: string): string {
    const digest = createHash("sha256").update(`coreos-cluster/${clusterName}`).digest("hex");
    return `${clusterName}-etcd-${digest.slice(0, 12)}`;
}

/** Round-robin, so members per zone differ by at most one. */
export function zoneFor(zones: readonly string[], index: number): string {
    if (zones.length === 0) throw new Error("the plan needs at least one zone");
    return zones[index % zones.length];
}

/**
 * Static member addresses: on GCE the first usable addresses of the subnet (the network
 * address, the gateway .1, the second-to-last and the broadcast address are GCE's); on the
 * local platform consecutive addresses of the VPC's /24 from localFirstAddress, then the workers
 * (validation admits only private ones for a stack; the planner also takes loopback ones, which
 * the single-machine tests use without a VPC).
 */
export function memberAddresses(config: ClusterConfig): string[] {
    const count = config.etcd.count;
    if (config.platform === "local") return localAddresses(config.local.firstAddress, 0, count, count + config.local.workers);
    const parsed = parseCidr(config.gcp.subnetCidr);
    if ("problem" in parsed) throw new Error(`subnetCidr: ${parsed.problem}`);
    const usable = gceUsableRange(parsed.cidr);
    if (usable.count < count) {
        throw new Error(`subnetCidr ${config.gcp.subnetCidr} has ${usable.count} usable addresses; ${count} members need ${count}`);
    }
    return Array.from({ length: count }, (_, i) => formatIpv4(usable.first + i));
}

function localAddresses(firstAddress: string, offset: number, count: number, total: number): string[] {
    const first = parseIpv4(firstAddress);
    if (first !== undefined && isPrivateIpv4(first)) {
        // The local VPC: consecutive addresses of one private /24 (components/local/vpc).
        if ((first % 256) + total - 1 > 254) throw new Error(`${total} local machines from ${firstAddress} run past .254 of its /24`);
        return Array.from({ length: count }, (_, i) => formatIpv4(first + offset + i));
    }
    if (first === undefined || !cidrContains(LOOPBACK, first)) throw new Error(`localFirstAddress ${firstAddress} is neither a private nor a loopback address`);
    if (first + total - 1 > LAST_LOOPBACK_HOST) {
        throw new Error(`${total} local machines from ${firstAddress} run past ${formatIpv4(LAST_LOOPBACK_HOST)}, the end of 127.0.0.0/8`);
    }
    return Array.from({ length: count }, (_, i) => formatIpv4(first + offset + i));
}

function zonesOf(config: ClusterConfig): string[] {
    return config.gcp.zones.length > 0 ? config.gcp.zones : [`${config.gcp.region}-a`];
}

export function planCluster(config: ClusterConfig): ClusterPlan {
    const zones = zonesOf(config);
    const addresses = memberAddresses(config);
    const members: MemberPlan[] = addresses.map((ip, index) => ({
        index,
        name: memberName(config.name, index),
        zone: zoneFor(zones, index),
        privateIp: ip,
        // Mutual TLS on both ports (docs/security.md): every URL the plan gives is https.
        clientUrl: `https://${ip}:${ETCD_CLIENT_PORT}`,
        peerUrl: `https://${ip}:${ETCD_PEER_PORT}`,
    }));

    let workers: WorkerPlan[] = [];
    if (config.platform === "local") {
        const count = config.etcd.count;
        const ips = localAddresses(config.local.firstAddress, count, config.local.workers, count + config.local.workers);
        workers = ips.map((ip, i) => ({ name: workerName(config.name, i), zone: zoneFor(zones, i), privateIp: ip }));
    }

    return {
        members,
        initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(","),
        clusterToken: clusterToken(config.name),
        clientUrls: members.map((m) => m.clientUrl),
        workerZones: config.platform === "local" ? [...new Set(workers.map((w) => w.zone))] : [...zones],
        workers,
    };
}
