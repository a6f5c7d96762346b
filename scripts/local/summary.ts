// What `npm run local` prints once `pulumi up` is done: the machines and their addresses, the load
// balancer, the curl lines that work from this machine, where the logs are and how to go on or tear
// down. Pure: the stack's outputs in, text out (tested without Pulumi, test/scripts/local-summary.test.ts).
// What did not apply locally is only counted here; the list is the `notAppliedLocally` output.
import * as path from "path";
import type { LocalView } from "../../model/local-view";

export interface SummaryOutputs {
    localCluster: LocalView | null;
    loadBalancerIp?: string | null;
    notAppliedLocally?: { machines?: Record<string, string[]>; fleetServices?: Record<string, string> } | null;
}

/** The first line of the summary (the engine tests look for it). */
export const SUMMARY_TITLE = "local: the cluster is up";

/** `host:port` as a URL authority, the port left out when it is HTTP's own. */
function origin(address: string, port: number): string {
    return `http://${address}${port === 80 ? "" : `:${port}`}`;
}

/** The curl lines that reach each HTTP service through the load balancer, by Host and by path (docs/router.md). */
export function curlLines(view: LocalView, loadBalancerIp: string): string[] {
    const port = view.loadBalancer.httpPorts[0];
    if (port === undefined) return [];
    const base = origin(loadBalancerIp, port);
    return view.services
        .filter((s) => s.scheme === "http")
        .flatMap((s) => [`curl -H 'Host: ${s.name}.example.com' ${base}/`, `curl ${base}/${s.name}/`]);
}

/** How much of the machines' user-data and of the fleet services did not run here. */
export function notAppliedCount(notApplied: SummaryOutputs["notAppliedLocally"]): { items: number; machines: number; fleetServices: number } {
    const machines = Object.values(notApplied?.machines ?? {}).filter((list) => list.length > 0);
    const fleetServices = Object.keys(notApplied?.fleetServices ?? {}).length;
    return { items: machines.reduce((n, list) => n + list.length, 0) + fleetServices, machines: machines.length, fleetServices };
}

function table(rows: string[][], indent = "  "): string[] {
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
    return rows.map((r) => (indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ")).trimEnd());
}

function plural(n: number, one: string, many = `${one}s`): string {
    return `${n} ${n === 1 ? one : many}`;
}

/** The summary text; `cwd` makes folders relative to where the user runs it. */
export function localSummary(outputs: SummaryOutputs, cwd = "/"): string {
    const view = outputs.localCluster;
    if (!view) return "local: the stack has no localCluster output (it is not a local stack, or was deployed before this version: run `npm run local` again)\n";
    const lb = outputs.loadBalancerIp ?? view.loadBalancer.address;
    const members = view.machines.filter((m) => m.role === "etcd");
    const workers = view.machines.filter((m) => m.role === "worker");
    const servedBy = (address: string) => view.services.filter((s) => s.hosts.some((h) => h.startsWith(`${address}:`))).map((s) => s.name);
    const rows: string[][] = [
        ...members.map((m) => [m.name, m.address, `etcd member${view.sshd?.machine === m.name ? `; sshd :${view.sshd.port}, the deployer's way in` : ""}`]),
        ...workers.map((w) => {
            const backends = servedBy(w.address);
            return [w.name, w.address, `worker: etcd gateway, router${backends.length ? `, stand-in backends of ${backends.join(", ")}` : ""}`];
        }),
        [view.loadBalancer.name, lb, `load balancer: ports ${view.loadBalancer.ports.join(", ")} to the healthy workers (health check :${view.healthCheck.port}${view.healthCheck.path})`],
        ...(view.prometheus ? [[view.prometheus.name, view.prometheus.address, `Prometheus: scrapes ${view.prometheus.scrapes.map((j) => `${j.job} :${j.port} on ${plural(j.machines.length, "machine")}`).join(", ")}`]] : []),
    ];
    const rel = (p: string) => {
        const r = path.relative(cwd, p);
        return r === "" ? "." : r.startsWith("..") ? p : r;
    };
    const lines = [
        `${SUMMARY_TITLE}: ${plural(members.length, "etcd member")}, ${plural(workers.length, "worker")}, a load balancer${view.prometheus ? ", Prometheus" : ""}, each in its own network namespace`,
        "",
        ...table(rows),
        "",
    ];
    const curls = curlLines(view, lb);
    if (curls.length > 0) lines.push("From this machine, through the load balancer:", ...curls.map((c) => `  ${c}`), "");
    const internal = view.services.filter((s) => s.scheme === "tcp" && !s.public);
    if (internal.length > 0) lines.push(`Inside the VPC only (not load-balanced): ${internal.map((s) => `${s.name} on every worker's :${s.hostPort}`).join(", ")}`, "");
    const missing = notAppliedCount(outputs.notAppliedLocally);
    if (missing.items > 0) {
        const where = [missing.machines > 0 ? plural(missing.machines, "machine") : "", missing.fleetServices > 0 ? plural(missing.fleetServices, "fleet service") : ""].filter(Boolean).join(" and ");
        lines.push(`Not applied on the local platform: ${plural(missing.items, "item")} of ${where} (list: npm run local -- outputs notAppliedLocally; docs/local-platform.md)`, "");
    }
    if (view.prometheus) lines.push(`Metrics: ${view.prometheus.url}/   (Prometheus's UI, from this machine; docs/metrics.md)`);
    lines.push(
        "Status:  npm run local -- status",
        `Logs:    npm run local -- logs [machine] [-f]   (files: ${rel(view.dataDir)}/<machine>/*.log)`,
        "Destroy: npm run local -- destroy",
    );
    return lines.join("\n") + "\n";
}
