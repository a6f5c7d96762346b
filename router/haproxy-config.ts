// The one place HAProxy configuration text is produced: service keys in, config text out.
// Pure (plain data in and out, no I/O), so it is unit-tested alone and shared verbatim by
// the watcher on GCE and on the local platform (it is bundled into the worker's user-data).
// Key layout (components/services/service-keys.ts, seeds/004):
//   <prefix>/<name>/scheme      http | tcp
//   <prefix>/<name>/hosts/<n>   ip:port
//   <prefix>/<name>/host_port   optional; a TCP frontend on that port
import { createHash } from "crypto";
import { hostProblem } from "../components/services/service-keys";
import { serviceNameProblem } from "../model/service-naming";

export interface RouterConfigOptions {
    /** The services prefix, e.g. `/services` (no trailing slash). */
    prefix: string;
    /** Address every frontend binds: `0.0.0.0` on GCE (load-balanced traffic), the machine's own address locally. */
    bindAddress: string;
    /** HTTP frontends (the load balancer's lbHttpPorts). */
    httpPorts: number[];
    /** Ports the worker already uses (health check, etcd proxy): a host_port on one of them is refused. */
    reservedPorts: Array<{ port: number; what: string }>;
    /** Folder of the admin socket (seamless reloads pass listeners through it). */
    runDir: string;
}

export interface RoutedService {
    name: string;
    scheme: "http" | "tcp";
    /** Sorted by host key, so round robin order is stable. */
    hosts: Array<{ id: string; address: string }>;
    hostPort?: number;
}

export type RouterConfigResult =
    | { ok: true; text: string; services: RoutedService[]; /** In the text as `node cfg-<id>`: HAProxy's `show info` tells which config serves. */ id: string }
    | { ok: false; problems: string[]; services: RoutedService[] };

const HOST_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Groups `<prefix>/<name>/...` keys into services; every key it cannot read is a problem naming that key. */
export function parseServiceKeys(keys: Record<string, string>, prefix: string): { services: RoutedService[]; problems: string[] } {
    const problems: string[] = [];
    const byName: Record<string, { scheme?: string; hosts: Array<{ id: string; address: string }>; hostPort?: string }> = {};
    const base = `${prefix}/`;
    for (const key of Object.keys(keys).sort()) {
        if (!key.startsWith(base)) continue;
        const value = keys[key];
        const parts = key.slice(base.length).split("/");
        const name = parts[0];
        const nameProblem = serviceNameProblem(name);
        if (nameProblem) {
            problems.push(`${key}: ${nameProblem}`);
            continue;
        }
        const entry = (byName[name] ??= { hosts: [] });
        if (parts.length === 2 && parts[1] === "scheme") entry.scheme = value;
        else if (parts.length === 2 && parts[1] === "host_port") entry.hostPort = value;
        else if (parts.length === 3 && parts[1] === "hosts") {
            const problem = HOST_ID.test(parts[2]) ? hostProblem(value) : `host key "${parts[2]}" must be 1-64 of A-Z a-z 0-9 _ . -`;
            if (problem) problems.push(`${key}: ${problem}`);
            else entry.hosts.push({ id: parts[2], address: value });
        }
        // Other keys under a service (a future field, the v2 mirror's dir markers) do not route anything.
    }
    const services: RoutedService[] = [];
    for (const name of Object.keys(byName).sort()) {
        const entry = byName[name];
        const where = `${base}${name}`;
        if (entry.scheme !== "http" && entry.scheme !== "tcp") {
            problems.push(entry.scheme === undefined ? `${where}/scheme is missing (must be http or tcp)` : `${where}/scheme: "${entry.scheme}" must be http or tcp`);
            continue;
        }
        let hostPort: number | undefined;
        if (entry.hostPort !== undefined) {
            hostPort = /^\d{1,5}$/.test(entry.hostPort) ? Number(entry.hostPort) : NaN;
            if (!(hostPort >= 1 && hostPort <= 65535)) {
                problems.push(`${where}/host_port: "${entry.hostPort}" must be a port 1-65535`);
                continue;
            }
        } else if (entry.scheme === "tcp") {
            problems.push(`${where}/host_port is missing (required for a tcp service)`);
            continue;
        }
        services.push({ name, scheme: entry.scheme, hosts: entry.hosts, ...(hostPort !== undefined ? { hostPort } : {}) });
    }
    return { services, problems };
}

function portProblems(services: RoutedService[], options: RouterConfigOptions): string[] {
    const problems: string[] = [];
    const taken: Record<number, string> = {};
    for (const port of options.httpPorts) taken[port] = `HTTP port ${port} (lbHttpPorts)`;
    for (const r of options.reservedPorts) taken[r.port] = r.what;
    for (const s of services) {
        if (s.hostPort === undefined) continue;
        const holder = taken[s.hostPort];
        if (holder) problems.push(`${options.prefix}/${s.name}/host_port: ${s.hostPort} is already taken by ${holder}`);
        else taken[s.hostPort] = `service ${s.name}'s host_port`;
    }
    return problems;
}

function servers(service: RoutedService): string[] {
    // TCP checks: a host that stops accepting connections leaves the rotation within ~2 s.
    return service.hosts.map((h) => `    server ${h.id} ${h.address} check inter 1s fall 2 rise 1`);
}

function httpFrontend(http: RoutedService[], options: RouterConfigOptions): string[] {
    const lines = ["frontend http", "    mode http", ...options.httpPorts.map((p) => `    bind ${options.bindAddress}:${p}`), "    option forwardfor"];
    for (const s of http) {
        lines.push(`    acl host_${s.name} hdr_beg(host) -i ${s.name}.`, `    acl path_${s.name} path /${s.name}`, `    acl path_${s.name} path_beg /${s.name}/`);
    }
    // Host wins over path; the first match sets txn.route, later rules see it and stand aside.
    for (const s of http) lines.push(`    http-request set-var(txn.route) str(${s.name}) if !{ var(txn.route) -m found } host_${s.name}`);
    for (const s of http) {
        lines.push(
            `    http-request set-var(txn.route) str(${s.name}) if !{ var(txn.route) -m found } path_${s.name}`,
            // Routed by path (not by Host): the backend sees the path without /<name>.
            `    http-request set-path %[path,regsub(^/${s.name}/?,/)] if { var(txn.route) -m str ${s.name} } !host_${s.name}`,
        );
    }
    for (const s of http) lines.push(`    use_backend http_${s.name} if { var(txn.route) -m str ${s.name} }`);
    lines.push("    default_backend unknown_service");
    return lines;
}

function httpBackend(s: RoutedService): string[] {
    const lines = [`backend http_${s.name}`, "    mode http", "    balance roundrobin"];
    lines.push(`    http-error status 503 content-type "text/plain" string "503 service ${s.name} has no live host"`);
    if (s.hosts.length === 0) lines.push(`    http-request return status 503 content-type "text/plain" string "503 service ${s.name} has no registered host"`);
    return [...lines, ...servers(s)];
}

function tcpSection(s: RoutedService, options: RouterConfigOptions): string[] {
    return [
        `frontend tcp_${s.name}`,
        "    mode tcp",
        `    bind ${options.bindAddress}:${s.hostPort}`,
        `    default_backend tcp_${s.name}`,
        "",
        `backend tcp_${s.name}`,
        "    mode tcp",
        "    balance roundrobin",
        ...servers(s),
    ];
}

/**
 * The HAProxy configuration for the service keys under `options.prefix` (keys are absolute etcd
 * keys, values their strings). Any key it cannot use is a problem and no text is produced: the
 * router then keeps its last good configuration rather than silently routing half the data.
 */
export function renderHaproxyConfig(keys: Record<string, string>, options: RouterConfigOptions): RouterConfigResult {
    const parsed = parseServiceKeys(keys, options.prefix);
    const problems = [...parsed.problems, ...portProblems(parsed.services, options)];
    if (options.httpPorts.length === 0) problems.push("no HTTP port to serve (lbHttpPorts is empty)");
    if (problems.length > 0) return { ok: false, problems, services: parsed.services };
    const http = parsed.services.filter((s) => s.scheme === "http");
    const known = http.length > 0 ? http.map((s) => s.name).join(", ") : "none";
    const sections: string[][] = [
        [
            `# Generated by the coreos-cluster router from the etcd keys under ${options.prefix}/. Do not edit: the next change replaces it.`,
            "global",
            "    master-worker",
            // The new worker takes the listening sockets over from the old one: no refused connection during a reload.
            `    stats socket ${options.runDir}/haproxy.sock mode 600 level admin expose-fd listeners`,
            "    hard-stop-after 30s",
            "    log stderr format short local0 notice",
        ],
        [
            "defaults",
            "    log global",
            "    timeout connect 5s",
            "    timeout client 60s",
            "    timeout server 60s",
            "    timeout http-request 10s",
            "    retries 2",
            "    option redispatch",
        ],
        httpFrontend(http, options),
        [
            "backend unknown_service",
            "    mode http",
            `    http-request return status 404 content-type "text/plain" string "404 no service routes this Host or path (http services: ${known})"`,
        ],
        ...http.map(httpBackend),
        ...parsed.services.filter((s) => s.hostPort !== undefined).map((s) => tcpSection(s, options)),
    ];
    const body = sections.map((lines) => lines.join("\n")).join("\n\n") + "\n";
    const id = createHash("sha256").update(body).digest("hex").slice(0, 16);
    return { ok: true, text: body.replace("\nglobal\n", `\nglobal\n    node cfg-${id}\n`), services: parsed.services, id };
}
