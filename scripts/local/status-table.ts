// `npm run local -- status`: one table of the cluster as the deployer sees it. Pure: what the probes
// found in (status-probe.ts gathers it through the stack's SSH tunnel, with mutual TLS, and from the
// load balancer's health checker), text out (test/scripts/local-status.test.ts).

export interface MemberStatus {
    name: string;
    address: string;
    /** What etcd's Status call answered through the tunnel; absent when it did not answer. */
    status?: { memberId: string; leaderId: string; version?: string; raftTerm?: string };
    /** Why it did not answer. */
    error?: string;
}

export interface WorkerStatus {
    name: string;
    address: string;
    /** The load balancer's verdict: new connections go to it. */
    inRotation: boolean;
    /** What the health checker's last probe saw (`200`, `503`, `connect ECONNREFUSED`). */
    lastProbe?: string;
    /** The router's last health answer (its JSON), absent when it did not answer. */
    report?: { healthy?: boolean; config?: { loaded?: boolean; services?: string[] }; haproxy?: { running?: boolean } };
    recreations: number;
    recreating: boolean;
}

export interface ServiceStatus {
    name: string;
    scheme?: string;
    hosts: string[];
    hostPort?: string;
}

export interface StatusReport {
    members: MemberStatus[];
    /** etcd's member list (id -> name) from any member that answered. */
    memberIds: Record<string, string>;
    workers: WorkerStatus[];
    loadBalancer: { name: string; address: string; ports: number[]; running: boolean; problem?: string };
    services: ServiceStatus[];
    /** Why the services could not be read (no member answered, credentials refused). */
    servicesError?: string;
}

export interface StatusRow {
    part: "member" | "worker" | "balancer" | "service";
    name: string;
    where: string;
    state: string;
    detail: string;
}

/** Member ids as etcd prints them (hex), whatever form they came in. */
export function memberIdHex(id: string | number | bigint): string {
    try {
        return BigInt(id).toString(16);
    } catch {
        return String(id);
    }
}

export function memberRow(m: MemberStatus, ids: Record<string, string>): StatusRow {
    if (!m.status) return { part: "member", name: m.name, where: m.address, state: "DOWN", detail: `no answer through the tunnel: ${m.error ?? "unknown"}` };
    const leader = memberIdHex(m.status.leaderId);
    const self = memberIdHex(m.status.memberId);
    if (leader === "0") return { part: "member", name: m.name, where: m.address, state: "NO LEADER", detail: "answers, but has no leader (quorum lost?)" };
    const version = m.status.version ? `etcd ${m.status.version}` : "";
    const leaderText = leader === self ? "leader" : `leader: ${ids[leader] ?? leader}`;
    return { part: "member", name: m.name, where: m.address, state: "healthy", detail: [leaderText, version, m.status.raftTerm ? `term ${m.status.raftTerm}` : ""].filter(Boolean).join(", ") };
}

export function workerRow(w: WorkerStatus): StatusRow {
    const r = w.report;
    const router = !r ? `router DOWN` : r.healthy ? "router healthy" : "router UNHEALTHY";
    const serves = r?.config?.services ? `serves ${r.config.services.length ? r.config.services.join(", ") : "nothing"}` : "";
    const rotation = w.inRotation ? "in rotation" : `OUT of rotation (last probe: ${w.lastProbe ?? "none yet"})`;
    const healing = w.recreating ? "being recreated by autohealing" : w.recreations > 0 ? `recreated ${w.recreations}x by autohealing` : "";
    return { part: "worker", name: w.name, where: w.address, state: router, detail: [rotation, serves, healing].filter(Boolean).join("; ") };
}

export function statusRows(report: StatusReport): StatusRow[] {
    const lb = report.loadBalancer;
    const inRotation = report.workers.filter((w) => w.inRotation);
    const out = report.workers.filter((w) => !w.inRotation);
    const lbState = !lb.running ? "DOWN" : `${inRotation.length} of ${report.workers.length} in rotation`;
    const lbDetail = [
        `ports ${lb.ports.join(", ")}`,
        inRotation.length ? `in: ${inRotation.map((w) => w.name).join(", ")}` : "",
        out.length ? `out: ${out.map((w) => w.name).join(", ")}` : "",
        lb.running && inRotation.length === 0 && report.workers.length > 0 ? "none healthy: new connections go to all (as GCE's last resort)" : "",
        lb.problem ?? "",
    ].filter(Boolean);
    const services: StatusRow[] = report.servicesError
        ? [{ part: "service", name: "?", where: "", state: "UNREAD", detail: report.servicesError }]
        : report.services.map((s) => ({
              part: "service",
              name: s.name,
              where: `${s.scheme ?? "?"}${s.hostPort ? ` :${s.hostPort}` : ""}`,
              state: s.hosts.length === 1 ? "1 host" : `${s.hosts.length} hosts`,
              detail: s.hosts.join(", "),
          }));
    return [
        ...report.members.map((m) => memberRow(m, report.memberIds)),
        ...report.workers.map(workerRow),
        { part: "balancer", name: lb.name, where: lb.address, state: lbState, detail: lbDetail.join("; ") },
        ...services,
    ];
}

/** The table: one line per member, worker, the balancer and each registered service. */
export function statusTable(report: StatusReport): string {
    const header: StatusRow = { part: "PART" as StatusRow["part"], name: "NAME", where: "ADDRESS", state: "STATE", detail: "DETAIL" };
    const rows = [header, ...statusRows(report)];
    const cols = ["part", "name", "where", "state"] as const;
    const widths = cols.map((c) => Math.max(...rows.map((r) => r[c].length)));
    return rows.map((r) => [...cols.map((c, i) => r[c].padEnd(widths[i])), r.detail].join("  ").trimEnd()).join("\n") + "\n";
}
