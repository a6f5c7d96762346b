// The pure flow check: which ports each role dials on which roles, derived from the machines'
// RENDERED user-data (what coreos-cloudinit would hand etcd, fleet and locksmithd) plus the few
// dialers that live outside a machine (load balancer, health probes, the deployer's tunnel,
// operators' SSH); then whether the firewall matrix admits exactly those flows and nothing else.
// A rule missing (e.g. `<cluster>-etcd-client`) names the flow it breaks; a rule or a port
// no flow needs names what is open for nothing.
//
// Extensible: DIALERS is a table. Another part of the product that dials something (the worker
// router of issue 13: etcd on the members' 2379, and the services' hosts on other workers) adds an entry.
import YAML from "yaml";
import { etcdEnvironmentOf, fleetEnvironmentOf } from "../cloud-config/inspect";
import { parseEnvironmentDropIn, sectionEnvironment } from "../cloud-config/environment";
import { routerEnvironmentOf, unitEnvironmentOf } from "./unit-environment";
import { monitoringDialer } from "./monitoring-flows";
import { ETCD_GATEWAY_ENV, ETCD_GATEWAY_UNIT } from "../model/etcd-gateway-contract";
import { parseServiceKeys } from "../router/haproxy-config";
import { serviceKeyValues } from "../model/service-keys";
import { ClusterConfig, ClusterPlan, MachineRole } from "../model/types";
import { FirewallRuleSpec, GOOGLE_HEALTH_CHECK_RANGES, NETWORK_LB_HEALTH_CHECK_RANGES, SSH_PORT, fleetServiceInstancePorts, loadBalancedPorts, internalServicePorts, splitServiceHost } from "../model/firewall";
import { roleTag } from "../model/plan";
import { cidrContains, parseCidr, parseIpv4 } from "../model/ipv4";

/** Where a flow comes from: machines of a role, or address ranges outside the cluster's tags. */
export type FlowSource = { role: MachineRole } | { ranges: string[]; label: string };

export interface Flow {
    /** The dialer that needs it, e.g. "worker etcd proxy". */
    dialer: string;
    from: FlowSource;
    to: MachineRole;
    port: number;
    /** The last port of a flow to a range (Docker's ephemeral host ports); absent for one port. */
    lastPort?: number;
    /** Why, in words, naming the setting it came from (e.g. ETCD_INITIAL_CLUSTER). */
    why: string;
}

/** A machine as rendered, with its role; the user-data is the text coreos-cloudinit gets. */
export interface FlowMachine {
    name: string;
    role: MachineRole;
    userData: string;
}

export interface FlowContext {
    config: ClusterConfig;
    plan: ClusterPlan;
    machines: FlowMachine[];
    /** The role whose machine serves `host` (a planned address), or "self" for the machine's own or a loopback address. */
    placeHost(host: string, machine?: FlowMachine): MachineRole | "self";
}

export interface Dialer {
    name: string;
    flows(ctx: FlowContext): Flow[];
}

// 127.0.0.1 is a machine's own loopback on every platform (each local machine has its own in its namespace).
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "$private_ipv4", "$public_ipv4"]);

function ownAddress(ctx: Pick<FlowContext, "plan">, machine: FlowMachine | undefined): string | undefined {
    if (!machine) return undefined;
    return ctx.plan.members.find((m) => m.name === machine.name)?.privateIp ?? ctx.plan.workers.find((w) => w.name === machine.name)?.privateIp;
}

function urlsIn(value: string | undefined): URL[] {
    return (value ?? "")
        .split(",")
        .map((s) => s.trim().replace(/^[^=]+=(?=https?:)/, ""))
        .filter(Boolean)
        .map((s) => new URL(s.replace("$private_ipv4", "private-ipv4.invalid")));
}

function portOf(url: URL): number {
    return Number(url.port || (url.protocol === "https:" ? 443 : 80));
}

/** The LOCKSMITHD_* environment: a drop-in of locksmithd.service (Flatcar) or `coreos.locksmith` (Container Linux). */
export function locksmithEnvironmentOf(userData: string): Record<string, string> {
    const coreos = ((YAML.parse(userData) as Record<string, any> | null)?.coreos ?? {}) as Record<string, any>;
    if (coreos.locksmith) return Object.fromEntries(sectionEnvironment("LOCKSMITHD", coreos.locksmith));
    const env: Record<string, string> = {};
    for (const unit of (coreos.units ?? []) as Array<{ name?: string; drop_ins?: Array<{ content?: string }> }>) {
        if (unit.name !== "locksmithd.service") continue;
        for (const dropIn of unit.drop_ins ?? []) Object.assign(env, parseEnvironmentDropIn(dropIn.content ?? ""));
    }
    return env;
}

/** Flows to each URL's machine, skipping a machine's own and loopback addresses (no network). */
function flowsToUrls(ctx: FlowContext, machine: FlowMachine, urls: URL[], dialer: string, why: (u: URL) => string): Flow[] {
    const flows: Flow[] = [];
    for (const url of urls) {
        const host = url.hostname === "private-ipv4.invalid" ? "$private_ipv4" : url.hostname;
        const to = ctx.placeHost(host, machine);
        if (to === "self") continue;
        flows.push({ dialer, from: { role: machine.role }, to, port: portOf(url), why: why(url) });
    }
    return flows;
}

/** What the etcd members advertise to clients, read from their own user-data. */
function advertisedClientUrls(ctx: FlowContext): URL[] {
    return ctx.machines.filter((m) => m.role === "etcd").flatMap((m) => urlsIn(etcdEnvironmentOf(m.userData).ETCD_ADVERTISE_CLIENT_URLS));
}

function advertisedPeerUrls(ctx: FlowContext): URL[] {
    return ctx.machines.filter((m) => m.role === "etcd").flatMap((m) => urlsIn(etcdEnvironmentOf(m.userData).ETCD_INITIAL_ADVERTISE_PEER_URLS));
}

/**
 * Where a router's backend `address` lives: a planned machine (or "self"), on GCE a worker of the
 * group when it is a subnet address no member holds (workers get theirs from the subnet), and
 * undefined outside the cluster's subnet: reached through egress, no ingress rule's concern.
 */
function placeBackend(ctx: FlowContext, address: string, machine: FlowMachine): MachineRole | "self" | undefined {
    const planned = [...ctx.plan.members.map((m) => m.privateIp), ...ctx.plan.workers.map((w) => w.privateIp)];
    if (planned.includes(address)) return ctx.placeHost(address, machine);
    if (ctx.plan.workers.length > 0) return undefined;
    const ip = parseIpv4(address);
    const subnet = parseCidr(ctx.config.gcp.subnetCidr);
    if (ip !== undefined && "cidr" in subnet && cidrContains(subnet.cidr, ip)) return "worker";
    const loopback = parseCidr("127.0.0.0/8");
    if (ip !== undefined && "cidr" in loopback && cidrContains(loopback.cidr, ip)) return "self";
    return undefined;
}

/**
 * The router's backends: the service keys as the deployment seeds them from config.services under
 * servicesPrefix (index.ts, components/services), read the way the router reads them, under its
 * rendered ROUTER_PREFIX (a router watching another prefix sees none and dials nothing).
 */
function routerBackendFlows(ctx: FlowContext, machine: FlowMachine): Flow[] {
    const prefix = routerEnvironmentOf(machine.userData).ROUTER_PREFIX;
    if (prefix === undefined) return [];
    const seeded = ctx.config.servicesPrefix;
    const keys = Object.assign({}, ...ctx.config.services.map((s) => serviceKeyValues({ service: s.name, scheme: s.scheme, hosts: s.hosts, hostPort: s.hostPort, prefix: seeded })));
    const flows: Flow[] = [];
    for (const service of parseServiceKeys(keys, prefix).services) {
        for (const host of service.hosts) {
            const { address, port } = splitServiceHost(host.address);
            const to = placeBackend(ctx, address, machine);
            if (to === undefined || to === "self") continue;
            flows.push({ dialer: "worker router", from: { role: machine.role }, to, port, why: `proxies service ${service.name} to its host ${host.address} (${prefix}/${service.name}/hosts/${host.id})` });
        }
    }
    return flows;
}

export { routerEnvironmentOf, unitEnvironmentOf };

export const DIALERS: Dialer[] = [
    {
        name: "etcd member",
        flows: (ctx) =>
            ctx.machines
                .filter((m) => m.role === "etcd" && etcdEnvironmentOf(m.userData).ETCD_PROXY !== "on")
                .flatMap((m) => {
                    const env = etcdEnvironmentOf(m.userData);
                    // With discovery there is no initial list: the peers are what the members advertise.
                    const peers = env.ETCD_INITIAL_CLUSTER ? urlsIn(env.ETCD_INITIAL_CLUSTER) : advertisedPeerUrls(ctx);
                    return flowsToUrls(ctx, m, peers, "etcd member", (u) => `raft with its peers (ETCD_INITIAL_CLUSTER ${u.host})`);
                }),
    },
    {
        // `etcd gateway` (model/etcd-gateway-contract.ts): a TCP proxy to the members' client ports only.
        name: "worker etcd gateway",
        flows: (ctx) =>
            ctx.machines.flatMap((m) => {
                const endpoints = unitEnvironmentOf(m.userData, ETCD_GATEWAY_UNIT)[ETCD_GATEWAY_ENV.endpoints];
                if (!endpoints) return [];
                const urls = endpoints.split(",").map((hp) => new URL(`https://${hp.trim()}`));
                return flowsToUrls(ctx, m, urls, "worker etcd gateway", (u) => `carries its clients' TLS to ${u.host} (${ETCD_GATEWAY_ENV.endpoints})`);
            }),
    },
    {
        name: "locksmithd",
        flows: (ctx) =>
            ctx.machines.flatMap((m) =>
                flowsToUrls(ctx, m, urlsIn(locksmithEnvironmentOf(m.userData).LOCKSMITHD_ENDPOINT), "locksmithd", (u) => `takes the reboot lock at ${u.host} (LOCKSMITHD_ENDPOINT)`),
            ),
    },
    {
        name: "fleetd",
        flows: (ctx) =>
            ctx.machines.flatMap((m) =>
                flowsToUrls(ctx, m, urlsIn(fleetEnvironmentOf(m.userData).FLEET_ETCD_SERVERS), "fleetd", (u) => `keeps its registry in etcd at ${u.host} (FLEET_ETCD_SERVERS)`),
            ),
    },
    {
        // The router reads etcd v3 through the members' JSON gateway (the worker's v2 proxy cannot carry v3),
        // and proxies each service to its hosts, typically on other workers.
        name: "worker router",
        flows: (ctx) =>
            ctx.machines.flatMap((m) => [
                ...flowsToUrls(ctx, m, urlsIn(routerEnvironmentOf(m.userData).ROUTER_ETCD_ENDPOINTS), "worker router", (u) => `watches the service keys at ${u.host} (ROUTER_ETCD_ENDPOINTS)`),
                ...routerBackendFlows(ctx, m),
            ]),
    },
    {
        // A FleetService's sidekicks announce `<worker address>:<port>` of each instance (the template
        // runs on workers only), so every router dials instances on other workers at those ports.
        name: "worker router to FleetService instances",
        flows: (ctx) =>
            fleetServiceInstancePorts(ctx.config, ctx.plan).map((r) => ({
                dialer: "worker router",
                from: { role: "worker" as MachineRole },
                to: "worker" as MachineRole,
                port: r.first,
                ...(r.last !== r.first ? { lastPort: r.last } : {}),
                why: `proxies the FleetServices' instances on other workers (${r.last !== r.first ? "Docker's ephemeral host ports" : "their instancePort"}, announced by the presence sidekicks)`,
            })),
    },
    {
        // The providers and the etcd health gate run where Pulumi runs and come in through the SSH
        // tunnel, which lands on a member (GCE: IAP to a member's 22; locally: the tunnel into a
        // member's namespace), and from there dial every member's client URL.
        name: "deployer through the SSH tunnel",
        flows: (ctx) =>
            ctx.plan.members.length > 1
                ? [{ dialer: "deployer through the SSH tunnel", from: { role: "etcd" }, to: "etcd", port: 2379, why: "the providers and the health gate, tunnelled onto a member, reach every member's client URL" }]
                : [],
    },
    {
        name: "operators' SSH",
        flows: (ctx) =>
            ctx.config.ssh.sourceRanges.length === 0
                ? []
                : (["etcd", "worker"] as MachineRole[]).map((to) => ({
                      dialer: "operators' SSH",
                      from: { ranges: [...ctx.config.ssh.sourceRanges], label: "sshSourceRanges" },
                      to,
                      port: SSH_PORT,
                      why: "SSH for operators and the deployer's tunnel (IAP TCP forwarding comes from 35.235.240.0/20)",
                  })),
    },
    {
        name: "health probes",
        flows: (ctx) => [
            {
                dialer: "health probes",
                from: { ranges: [...GOOGLE_HEALTH_CHECK_RANGES, ...NETWORK_LB_HEALTH_CHECK_RANGES], label: "Google's probe ranges" },
                to: "worker",
                port: ctx.config.healthCheck.port,
                why: `load-balancer and autohealing health checks (healthCheckPort ${ctx.config.healthCheck.port}${ctx.config.healthCheck.path})`,
            },
        ],
    },
    {
        // A passthrough balancer keeps the client's address: what it forwards comes from its clients.
        name: "load balancer",
        flows: (ctx) =>
            loadBalancedPorts(ctx.config).map((port) => ({
                dialer: "load balancer",
                from: { ranges: ["0.0.0.0/0"], label: "the load balancer's clients" },
                to: "worker" as MachineRole,
                port,
                why: `forwarded by the external passthrough load balancer (port ${port})`,
            })),
    },
    monitoringDialer,
    {
        // Services not marked public: their clients are other machines of the VPC.
        name: "VPC clients of internal services",
        flows: (ctx) =>
            internalServicePorts(ctx.config).map((port) => ({
                dialer: "VPC clients of internal services",
                from: { ranges: [ctx.config.gcp.subnetCidr], label: "the cluster's subnet" },
                to: "worker" as MachineRole,
                port,
                why: `a service's host_port (${port}), not public: served by every worker's router to the VPC`,
            })),
    },
];

export function flowContext(config: ClusterConfig, plan: ClusterPlan, machines: FlowMachine[]): FlowContext {
    const ctx: FlowContext = {
        config,
        plan,
        machines,
        placeHost(host, machine) {
            if (LOOPBACK_HOSTS.has(host)) return "self";
            const ip = parseIpv4(host);
            const own = ownAddress(ctx, machine);
            if (own !== undefined && host === own) return "self";
            if (plan.members.some((m) => m.privateIp === host)) return "etcd";
            if (plan.workers.some((w) => w.privateIp === host)) return "worker";
            const loopback = parseCidr("127.0.0.0/8");
            if (ip !== undefined && "cidr" in loopback && cidrContains(loopback.cidr, ip) && config.platform !== "local") return "self";
            throw new Error(`flow check: ${machine ? `${machine.name} dials` : "a dialer names"} ${host}, which is no planned machine address`);
        },
    };
    return ctx;
}

/** Every flow the dialers derive, deduplicated by (source, target, port), the first reason kept. */
export function deriveFlows(config: ClusterConfig, plan: ClusterPlan, machines: FlowMachine[], dialers: Dialer[] = DIALERS): Flow[] {
    const ctx = flowContext(config, plan, machines);
    const seen = new Map<string, Flow>();
    for (const dialer of dialers) {
        for (const flow of dialer.flows(ctx)) {
            const key = `${sourceKey(flow.from)}>${flow.to}:${flow.port}${flow.lastPort !== undefined ? `-${flow.lastPort}` : ""}`;
            if (!seen.has(key)) seen.set(key, flow);
        }
    }
    return [...seen.values()];
}

function sourceKey(source: FlowSource): string {
    return "role" in source ? `role:${source.role}` : `ranges:${[...source.ranges].sort().join(",")}`;
}

export function describeFlow(flow: Flow): string {
    const from = "role" in flow.from ? flow.from.role : `${flow.from.label} (${flow.from.ranges.join(", ")})`;
    return `${flow.dialer}: ${from} -> ${flow.to} tcp/${flow.port}${flow.lastPort !== undefined ? `-${flow.lastPort}` : ""} (${flow.why})`;
}

/** One thing a rule lets in: a source (tag's role or range), a target role, a port. */
export interface Admission {
    rule: string;
    from: FlowSource;
    to: MachineRole;
    port: string;
}

function roleOfTag(config: ClusterConfig, tag: string): MachineRole | undefined {
    return (["etcd", "worker"] as MachineRole[]).find((r) => roleTag(config.name, r) === tag);
}

/** Does the rule's port spec ("80" or "32768-60999") cover every port of the flow? */
function portMatches(spec: string, port: number, lastPort = port): boolean {
    const [lo, hi] = spec.split("-").map(Number);
    return port >= lo && lastPort <= (hi ?? lo);
}

export function admissionsOf(config: ClusterConfig, rules: FirewallRuleSpec[]): Admission[] {
    const out: Admission[] = [];
    for (const rule of rules) {
        const sources: FlowSource[] = [
            ...(rule.sourceTags ?? []).map((t) => {
                const role = roleOfTag(config, t);
                if (!role) throw new Error(`flow check: rule ${rule.name} names source tag ${t}, which is no role of ${config.name}`);
                return { role };
            }),
            ...(rule.sourceRanges && rule.sourceRanges.length > 0 ? [{ ranges: [...rule.sourceRanges], label: rule.name }] : []),
        ];
        for (const targetTag of rule.targetTags) {
            const to = roleOfTag(config, targetTag);
            if (!to) throw new Error(`flow check: rule ${rule.name} targets tag ${targetTag}, which is no role of ${config.name}`);
            for (const allow of rule.allow) {
                if (allow.protocol !== "tcp" || !allow.ports) {
                    for (const from of sources) out.push({ rule: rule.name, from, to, port: allow.ports ? `${allow.protocol}` : `${allow.protocol}/all` });
                    continue;
                }
                for (const port of allow.ports) for (const from of sources) out.push({ rule: rule.name, from, to, port });
            }
        }
    }
    return out;
}

/** Does `outer` contain every range of `inner`? */
function rangesCover(outer: string[], inner: string[]): boolean {
    const parsed = (c: string) => {
        const p = parseCidr(c);
        if ("problem" in p) throw new Error(`flow check: ${c}: ${p.problem}`);
        return p.cidr;
    };
    return inner.every((i) => outer.some((o) => {
        const a = parsed(o);
        const b = parsed(i);
        return a.prefix <= b.prefix && cidrContains(a, b.network);
    }));
}

function admits(a: Admission, flow: Flow): boolean {
    if (a.to !== flow.to || !/^\d+(-\d+)?$/.test(a.port) || !portMatches(a.port, flow.port, flow.lastPort)) return false;
    if ("role" in flow.from) return "role" in a.from && a.from.role === flow.from.role;
    return "ranges" in a.from && rangesCover(a.from.ranges, flow.from.ranges);
}

/** An admission is needed only by flows from exactly its source: a wider range than the flows' is open for nothing. */
function needed(a: Admission, flows: Flow[]): boolean {
    return flows.some((f) => {
        if (!admits(a, f)) return false;
        if ("role" in a.from) return true;
        return "ranges" in f.from && rangesCover(f.from.ranges, a.from.ranges);
    });
}

export interface FlowCheck {
    flows: Flow[];
    /** Flows no rule admits: the firewall would break them. */
    missing: Flow[];
    /** What rules admit that no flow needs: open for nothing. */
    unused: Admission[];
    problems: string[];
}

export function checkFlows(config: ClusterConfig, flows: Flow[], rules: FirewallRuleSpec[]): FlowCheck {
    const admissions = admissionsOf(config, rules);
    const missing = flows.filter((f) => !admissions.some((a) => admits(a, f)));
    const unused = admissions.filter((a) => !needed(a, flows));
    const problems = [
        ...missing.map((f) => `not admitted by any firewall rule: ${describeFlow(f)}`),
        ...unused.map((a) => {
            const from = "role" in a.from ? `${a.from.role} (tag ${roleTag(config.name, a.from.role)})` : a.from.ranges.join(", ");
            return `open for no flow: rule ${a.rule} lets ${from} reach ${a.to} on ${/^\d/.test(a.port) ? `tcp/${a.port}` : a.port}`;
        }),
    ];
    return { flows, missing, unused, problems };
}
