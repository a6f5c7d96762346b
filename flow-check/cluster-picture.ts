// A picture of the cluster drawn from the plan (issue 24 item 5): members by zone, the workers, the
// load balancer and its ports, the firewall flows (the very flows the flow check derives from the
// rendered user-data) and the routed services. Mermaid text, which GitHub shows as a picture in a
// comment or a Markdown file, plus plain lines for firewall rules and routes, so a pull request's
// preview can say what changes. Pure: plain data in, text out.
import { ClusterConfig, ClusterPlan } from "../model/types";
import { FirewallRuleSpec, loadBalancedPorts } from "../model/firewall";
import { Flow } from "./flows";

export interface ClusterPicture {
    /** A Mermaid flowchart (without the ``` fence). */
    mermaid: string;
    /** One line a firewall rule: `name: sources -> targets tcp/ports`. */
    firewall: string[];
    /** One line a routed service: `web (http): Host web.* and /web/ -> 10.10.0.20:8080, ...`. */
    routes: string[];
}

/** Mermaid ids: letters, digits and "_" only; labels are quoted and stripped of what Mermaid reads. */
const id = (text: string): string => text.replace(/[^A-Za-z0-9]/g, "_");
const label = (text: string): string => text.replace(/["<>{}[\]|`#;]/g, "");

function portsText(ports: Array<{ first: number; last: number }>): string {
    const sorted = [...ports].sort((a, b) => a.first - b.first);
    const seen = new Set<string>();
    const out: string[] = [];
    for (const p of sorted) {
        const t = p.first === p.last ? String(p.first) : `${p.first}-${p.last}`;
        if (!seen.has(t)) out.push(t);
        seen.add(t);
    }
    return out.join(", ");
}

/** The load balancer's clients (flow-check/flows.ts names them so). */
const CLIENTS_NODE = "src_the_load_balancer_s_clients";

function sourceNode(flow: Flow): string {
    return "role" in flow.from ? (flow.from.role === "etcd" ? "members" : "workers") : `src_${id(flow.from.label)}`;
}

export function firewallLines(rules: readonly FirewallRuleSpec[]): string[] {
    return rules
        .map((r) => {
            const sources = [...(r.sourceRanges ?? []), ...(r.sourceTags ?? []).map((t) => `tag:${t}`)].join(", ");
            const allows = r.allow.map((a) => `${a.protocol}/${(a.ports ?? ["all"]).join(",")}`).join(" ");
            return `${r.name}: ${sources} -> ${r.targetTags.map((t) => `tag:${t}`).join(", ")} ${allows}`;
        })
        .sort();
}

export function routeLines(config: ClusterConfig): string[] {
    const fromConfig = config.services.map((s) => {
        const how = s.scheme === "http" ? `Host ${s.name}.* and /${s.name}/ on :${config.loadBalancer.httpPorts.join(", :")}` : `tcp :${s.hostPort}${s.public ? " (public)" : " (VPC only)"}`;
        return `${s.name} (${s.scheme}): ${how} -> ${s.hosts.join(", ")}`;
    });
    const fleet = config.fleetServices.map((s) => {
        const how = s.scheme === "http" ? `Host ${s.name}.* and /${s.name}/` : `tcp :${s.hostPort}`;
        return `${s.name} (${s.scheme}, fleet): ${how} -> ${s.count} instance(s), announced by their sidekicks`;
    });
    return [...fromConfig, ...fleet].sort();
}

export function clusterPicture(config: ClusterConfig, plan: ClusterPlan, rules: readonly FirewallRuleSpec[], flows: readonly Flow[]): ClusterPicture {
    const lines = ["flowchart LR"];
    const within = (role: "etcd" | "worker") =>
        portsText(flows.filter((f) => "role" in f.from && f.from.role === role && f.to === role).map((f) => ({ first: f.port, last: f.lastPort ?? f.port })));
    const outside = new Map<string, string>();
    for (const f of flows) if (!("role" in f.from)) outside.set(sourceNode(f), `${label(f.from.label)}<br/>${label(f.from.ranges.join(", "))}`);
    // The subnet's own range is inside the VPC; every other range is outside it.
    const SUBNET_NODE = "src_the_cluster_s_subnet";
    lines.push(`  subgraph outside["outside the VPC"]`);
    for (const [node, text] of outside) if (node !== SUBNET_NODE) lines.push(`    ${node}["${text}"]`);
    lines.push(`    lb["load balancer<br/>tcp ${label(portsText(loadBalancedPorts(config).map((p) => ({ first: p, last: p }))))}"]`);
    lines.push("  end");
    lines.push(`  subgraph vpc["VPC ${label(config.platform === "gcp" ? config.gcp.subnetCidr : `local ${config.local.firstAddress.split(".").slice(0, 3).join(".")}.0/24`)}"]`);
    const peers = within("etcd");
    if (outside.has(SUBNET_NODE)) lines.push(`    ${SUBNET_NODE}["${outside.get(SUBNET_NODE)}"]`);
    lines.push(`    subgraph members["etcd members (${plan.members.length})${peers ? `, to each other: tcp ${label(peers)}` : ""}"]`);
    const zones = [...new Set(plan.members.map((m) => m.zone))];
    for (const zone of zones) {
        lines.push(`      subgraph zone_${id(zone)}["${label(zone)}"]`);
        for (const m of plan.members.filter((x) => x.zone === zone)) lines.push(`        ${id(m.name)}["${label(m.name)}<br/>${label(m.privateIp)}"]`);
        lines.push("      end");
    }
    lines.push("    end");
    const workerText =
        config.platform === "gcp"
            ? `workers: managed group of ${config.workers.min === config.workers.max ? config.workers.min : `${config.workers.min}-${config.workers.max}`}<br/>${plan.workerZones.map(label).join(", ")}`
            : `workers (${plan.workers.length})<br/>${plan.workers.map((w) => label(w.privateIp ?? w.name)).join(", ")}`;
    const backends = within("worker");
    lines.push(`    workers["${workerText}<br/>local etcd endpoint + router${backends ? `<br/>to each other: tcp ${label(backends)}` : ""}"]`);
    const services = routeLines(config);
    if (services.length > 0) {
        lines.push(`    services["routed services<br/>${services.map((s) => label(s.split(":")[0])).join("<br/>")}"]`);
    }
    lines.push("  end");
    // Flows, grouped by source and target: the firewall opens exactly these (flow-check/flows.ts).
    const edges = new Map<string, Array<{ first: number; last: number }>>();
    for (const f of flows) {
        const key = `${sourceNode(f)}|${f.to === "etcd" ? "members" : "workers"}`;
        edges.set(key, [...(edges.get(key) ?? []), { first: f.port, last: f.lastPort ?? f.port }]);
    }
    for (const [key, ports] of [...edges].sort(([a], [b]) => a.localeCompare(b))) {
        const [from, to] = key.split("|");
        // Within a role (members' raft, routers to backends on other workers): said in the group's own note.
        if (from === to) continue;
        // A passthrough balancer keeps its clients' addresses: they reach the workers through it.
        const via = from === CLIENTS_NODE ? "lb" : to;
        lines.push(`  ${from} -->|"tcp ${label(portsText(ports))}"| ${via}`);
    }
    lines.push(`  lb -->|"tcp ${label(portsText(loadBalancedPorts(config).map((p) => ({ first: p, last: p }))))}"| workers`);
    if (services.length > 0) lines.push(`  workers -.->|routes| services`);
    return { mermaid: lines.join("\n"), firewall: firewallLines(rules), routes: services };
}

/** What a change does to the firewall and the routes: `+ line` added, `- line` removed, in order. */
export function pictureDiff(base: Pick<ClusterPicture, "firewall" | "routes">, head: Pick<ClusterPicture, "firewall" | "routes">): { firewall: string[]; routes: string[] } {
    const diff = (a: string[], b: string[]) => [...a.filter((l) => !b.includes(l)).map((l) => `- ${l}`), ...b.filter((l) => !a.includes(l)).map((l) => `+ ${l}`)];
    return { firewall: diff(base.firewall, head.firewall), routes: diff(base.routes, head.routes) };
}

/** The picture as Markdown: the Mermaid block, then the firewall and the routes (and what changes, with a base). */
export function pictureMarkdown(stack: string, head: ClusterPicture, base?: ClusterPicture): string {
    const out = [`### Stack \`${stack}\``, "", "```mermaid", head.mermaid, "```", ""];
    if (base) {
        const d = pictureDiff(base, head);
        out.push("**What this change does to the firewall and the routes**", "");
        if (d.firewall.length + d.routes.length === 0) out.push("Nothing: the same rules and routes as the base.", "");
        else out.push("```diff", ...(d.firewall.length ? ["# firewall", ...d.firewall] : []), ...(d.routes.length ? ["# routes", ...d.routes] : []), "```", "");
    }
    out.push("<details><summary>Firewall rules and routes</summary>", "", "```", "# firewall", ...head.firewall, "# routes", ...head.routes, "```", "", "</details>", "");
    return out.join("\n");
}
