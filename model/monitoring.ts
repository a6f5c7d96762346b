// Metrics (issue 24 item 4), as plain data: which machines serve metrics on which port, where the
// firewall admits them from (coreos-cluster:monitoringRanges), and the rules a monitoring range obeys.
// The ports are the port table's (model/ports.ts); the firewall rules are model/firewall.ts's; the
// local platform's Prometheus scrapes exactly metricsEndpoints().
import type { ClusterConfig, ClusterPlan, MachineRole, Platform } from "./types";
import type { Problems } from "./config-reader";
import { ETCD_METRICS_PORT, METRICS_PATH, ROUTER_METRICS_PORT } from "./ports";
import { cidrContains, cidrsOverlap, parseCidr, parseIpv4 } from "./ipv4";
import { describeExposure, exposureOf } from "./exposure";
import { LOCAL_LOAD_BALANCER_HOST, LOCAL_PROMETHEUS_HOST, localVpcAddress } from "./local-vpc-layout";

export { METRICS_PATH };

/**
 * Whether the members serve etcd's metrics listener: Flatcar's etcd-member runs the pinned etcd 3.5
 * (ETCD_LISTEN_METRICS_URLS since 3.3). Container Linux's etcd2.service is etcd 2.3, which has no
 * such listener (only /metrics on its client port, behind client certificates): no port, no rule.
 */
export function membersServeMetrics(config: Pick<ClusterConfig, "os">): boolean {
    return config.os.flavor === "flatcar";
}

/** The ranges the metrics ports are admitted from; none when the stack names none (admitted from nowhere). */
export function monitoringRanges(config: Pick<ClusterConfig, "monitoring">): string[] {
    return [...(config.monitoring?.ranges ?? [])];
}

export interface MetricsEndpoint {
    /** Prometheus's job name. */
    job: "etcd" | "haproxy";
    role: MachineRole;
    port: number;
    path: string;
    /** What serves it, in words. */
    what: string;
}

/** What serves metrics on every machine of a role (every member, every worker's router). */
export function metricsEndpoints(config: Pick<ClusterConfig, "os">): MetricsEndpoint[] {
    return [
        ...(membersServeMetrics(config) ? [{ job: "etcd" as const, role: "etcd" as MachineRole, port: ETCD_METRICS_PORT, path: METRICS_PATH, what: "etcd's metrics listener (ETCD_LISTEN_METRICS_URLS, plain HTTP: /metrics and /health, no keys)" }] : []),
        { job: "haproxy", role: "worker", port: ROUTER_METRICS_PORT, path: METRICS_PATH, what: "HAProxy's Prometheus exporter on the router" },
    ];
}

/** Per job, the `address:port` of every machine that serves it (planned addresses: members, and local workers). */
export function scrapeTargets(config: Pick<ClusterConfig, "os">, plan: Pick<ClusterPlan, "members" | "workers">): Array<MetricsEndpoint & { targets: Array<{ machine: string; address: string }> }> {
    return metricsEndpoints(config).map((e) => ({
        ...e,
        targets:
            e.role === "etcd"
                ? plan.members.map((m) => ({ machine: m.name, address: `${m.privateIp}:${e.port}` }))
                : plan.workers.filter((w) => w.privateIp !== undefined).map((w) => ({ machine: w.name, address: `${w.privateIp}:${e.port}` })),
    }));
}

/** The local Prometheus's address in the local VPC (host .3 of localFirstAddress's /24). */
export function localPrometheusAddress(firstAddress: string): string | undefined {
    return localVpcAddress(firstAddress, LOCAL_PROMETHEUS_HOST);
}

/** Where a load balancer's traffic reaches the workers from besides its clients (who are the world). */
export interface LoadBalancerRanges {
    ranges: string[];
    what: string;
}

/**
 * Validates coreos-cluster:monitoringRanges (each problem names its item) and gives the ranges the
 * metrics ports are admitted from: never the world (by coverage, model/exposure.ts, with no
 * allow-world switch: metrics are no public service), never a range of the load balancer's (its
 * health checkers on GCE, its address locally), which would let what the load balancer forwards
 * or probes read the metrics. An empty list is the platform's default: none on GCE (the ports are
 * admitted from nowhere), the local Prometheus's own address on the local platform.
 */
export function checkMonitoringRanges(
    ranges: string[] | undefined,
    context: { platform?: Platform | string; localFirstAddress?: string; loadBalancer: LoadBalancerRanges },
    problems: Problems,
): string[] | undefined {
    if (ranges === undefined) return undefined;
    const local = context.platform === "local";
    const lbAddress = local && context.localFirstAddress ? localVpcAddress(context.localFirstAddress, LOCAL_LOAD_BALANCER_HOST) : undefined;
    const lbRanges = [...context.loadBalancer.ranges, ...(lbAddress ? [`${lbAddress}/32`] : [])];
    let parsedAll = true;
    ranges.forEach((range, i) => {
        const key = `monitoringRanges[${i}]`;
        const parsed = parseCidr(range);
        if ("problem" in parsed) {
            parsedAll = false;
            return problems.add(key, parsed.problem);
        }
        if (ranges.indexOf(range) !== i) return problems.add(key, `duplicate range ${range}`);
        const lb = lbRanges.find((r) => {
            const other = parseCidr(r);
            return "cidr" in other && cidrsOverlap(other.cidr, parsed.cidr);
        });
        if (lb !== undefined) {
            const whose = lbAddress !== undefined && lb === `${lbAddress}/32` ? "the local load balancer's address" : context.loadBalancer.what;
            problems.add(key, `${range} overlaps ${lb}, ${whose}: the metrics ports are admitted from the monitoring range only, never from the load balancer's`);
        }
    });
    const exposure = parsedAll ? exposureOf(ranges) : undefined;
    if (exposure?.openToInternet) {
        problems.add("monitoringRanges", `opens the metrics ports to the internet: ${describeExposure(ranges, exposure)}; list the ranges your Prometheus scrapes from (e.g. its subnet), never the world`);
    }
    if (ranges.length > 0 || !local) return [...ranges];
    const prometheus = context.localFirstAddress ? localPrometheusAddress(context.localFirstAddress) : undefined;
    return prometheus ? [`${prometheus}/32`] : [];
}

/** Whether a range holds an address (both as text; false when either is malformed). */
export function rangeHolds(range: string, address: string): boolean {
    const parsed = parseCidr(range);
    const ip = parseIpv4(address);
    return "cidr" in parsed && ip !== undefined && cidrContains(parsed.cidr, ip);
}
