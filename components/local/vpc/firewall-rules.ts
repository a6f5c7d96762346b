// The firewall matrix (model/firewall.ts) as one nftables ruleset per machine namespace. GCE
// denies all ingress by default and allows egress, so each namespace gets an input chain with
// policy drop that admits loopback, replies (established/related), and exactly the matrix rules
// whose target tags the machine carries. Pure: rules in, ruleset text out.
//
// Sources, locally:
//   sourceTags     -> the VPC addresses of the machines carrying any of those tags.
//   sourceRanges   -> the range itself (it matches whatever VPC address it contains, e.g. 0.0.0.0/0
//                     matches every one), plus the stand-ins of what lives outside the VPC:
//                     * the deployer (the root namespace's bridge address) for 0.0.0.0/0 ("the
//                       internet") and for every range in sshSourceRanges (where IAP or the admin
//                       connects from), and
//                     * the probe namespace (load balancer and health checker) for 0.0.0.0/0 and for
//                       every range inside Google's probe ranges, and
//                     * the Prometheus namespace for every range in monitoringRanges (where the
//                       operator's Prometheus scrapes from).
import type { ClusterConfig } from "../../../model/types";
import type { FirewallAllow, FirewallRuleSpec } from "../../../model/firewall";
import { GOOGLE_HEALTH_CHECK_RANGES, loadBalancedPorts, NETWORK_LB_HEALTH_CHECK_RANGES } from "../../../model/firewall";
import { cidrContains, parseCidr } from "../../../model/ipv4";
import { monitoringRanges } from "../../../model/monitoring";
import { LOCAL_PROMETHEUS_PORT } from "../../../model/local-vpc-layout";
import { FIREWALL_TABLE, VpcMachine, VpcPlan } from "./addressing";

export interface LocalRule {
    /** The matrix rule's name (`<cluster>-etcd-peer`), carried as the nftables comment. */
    name: string;
    /** Source addresses/ranges; `any` when the rule admits every source (0.0.0.0/0). */
    sources: string[] | "any";
    allow: FirewallAllow[];
}

function within(range: string, outer: string[]): boolean {
    const inner = parseCidr(range);
    if ("problem" in inner) return false;
    return outer.some((o) => {
        const parsed = parseCidr(o);
        return !("problem" in parsed) && parsed.cidr.prefix <= inner.cidr.prefix && cidrContains(parsed.cidr, inner.cidr.network);
    });
}

/** The local sources of one matrix rule. */
export function localSources(rule: FirewallRuleSpec, vpc: VpcPlan, config: ClusterConfig): string[] | "any" {
    const ranges = rule.sourceRanges ?? [];
    if (ranges.some((r) => r === "0.0.0.0/0")) return "any";
    const sources = new Set<string>();
    for (const tag of rule.sourceTags ?? []) {
        for (const m of vpc.machines) if (m.tags.includes(tag)) sources.add(m.address);
    }
    const probeRanges = [...GOOGLE_HEALTH_CHECK_RANGES, ...NETWORK_LB_HEALTH_CHECK_RANGES];
    for (const range of ranges) {
        // The GCE subnet is this VPC's machines here, not its whole /24: the deployer (.1) and the
        // load balancer (.2) on the bridge stand for addresses outside the subnet on GCE.
        if (range === config.gcp.subnetCidr) {
            for (const m of vpc.machines) sources.add(m.address);
            continue;
        }
        sources.add(range);
        if (config.ssh.sourceRanges.includes(range)) sources.add(vpc.deployerAddress);
        if (within(range, probeRanges)) sources.add(vpc.probeAddress);
        if (vpc.prometheusAddress && monitoringRanges(config).includes(range)) sources.add(vpc.prometheusAddress);
    }
    return [...sources];
}

/** The matrix rules that apply to one machine (its tags among the rule's target tags), with local sources. */
export function machineRules(machine: VpcMachine, matrix: FirewallRuleSpec[], vpc: VpcPlan, config: ClusterConfig): LocalRule[] {
    return matrix
        .filter((rule) => rule.direction === "INGRESS" && rule.targetTags.some((t) => machine.tags.includes(t)))
        .map((rule) => ({ name: rule.name, sources: localSources(rule, vpc, config), allow: rule.allow }));
}

function matchOf(allow: FirewallAllow): string {
    if (allow.protocol === "icmp") return "meta l4proto icmp";
    if (!allow.ports || allow.ports.length === 0) return `meta l4proto ${allow.protocol}`;
    return `${allow.protocol} dport { ${allow.ports.join(", ")} }`;
}

/** nftables statements of one rule (one per allow entry); none when it has no source at all. */
export function ruleStatements(rule: LocalRule): string[] {
    if (rule.sources !== "any" && rule.sources.length === 0) return [];
    const from = rule.sources === "any" ? "" : `ip saddr { ${rule.sources.join(", ")} } `;
    return rule.allow.map((a) => `${from}${matchOf(a)} accept comment ${JSON.stringify(rule.name)}`);
}

/**
 * The whole ruleset of one namespace, for `nft -f`: the table is created, flushed and refilled in
 * one transaction, so a changed matrix replaces the old rules atomically.
 */
export function namespaceRuleset(rules: LocalRule[]): string {
    const statements = rules.flatMap(ruleStatements);
    return [
        `table inet ${FIREWALL_TABLE}`,
        `flush table inet ${FIREWALL_TABLE}`,
        `table inet ${FIREWALL_TABLE} {`,
        "  chain ingress {",
        "    type filter hook input priority filter; policy drop;",
        '    iif "lo" accept',
        "    ct state established,related accept",
        ...statements.map((s) => `    ${s}`),
        "  }",
        "}",
        "",
    ].join("\n");
}

/**
 * The root namespace's guard: nothing is forwarded between the bridge and any other interface
 * (the namespaces have no route beyond the bridge anyway; this holds even if ip_forward is on).
 */
export function rootGuardRuleset(vpc: VpcPlan): string {
    const table = rootGuardTable(vpc);
    return [
        `table inet ${table}`,
        `flush table inet ${table}`,
        `table inet ${table} {`,
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        `    iifname "${vpc.bridge}" oifname != "${vpc.bridge}" drop`,
        `    oifname "${vpc.bridge}" iifname != "${vpc.bridge}" drop`,
        "  }",
        "}",
        "",
    ].join("\n");
}

export function rootGuardTable(vpc: VpcPlan): string {
    return `${vpc.bridge.replace(/-/g, "_")}_guard`;
}

/**
 * Ruleset text per namespace: every machine's, the load balancer's and the local Prometheus's. A GCE forwarding rule
 * takes its ports from anywhere and no firewall rule applies to it (the firewall applies at the
 * workers it forwards to): so the load balancer's namespace admits exactly the forwarded ports.
 */
export function vpcRulesets(vpc: VpcPlan, matrix: FirewallRuleSpec[], config: ClusterConfig): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of vpc.machines) out[m.namespace] = namespaceRuleset(machineRules(m, matrix, vpc, config));
    const forwarded = loadBalancedPorts(config).map(String);
    out[vpc.probeNamespace] = namespaceRuleset(
        forwarded.length === 0 ? [] : [{ name: `${config.name}-ingress (forwarding rules)`, sources: "any", allow: [{ protocol: "tcp", ports: forwarded }] }],
    );
    // The local Prometheus dials out (scrapes); only its UI is let in, from this machine (the deployer).
    if (vpc.prometheusNamespace) {
        out[vpc.prometheusNamespace] = namespaceRuleset([{ name: `${config.name}-prometheus-ui (local only)`, sources: [vpc.deployerAddress], allow: [{ protocol: "tcp", ports: [String(LOCAL_PROMETHEUS_PORT)] }] }]);
    }
    return out;
}
