// The one place HAProxy configuration text is produced: service keys in, config text out.
// Pure (plain data in and out, no I/O), so it is unit-tested alone and shared verbatim by
// the watcher on GCE and on the local platform (it is bundled into the worker's user-data).
// What the keys mean and which services are skipped as bad data: router/service-parse.ts.
// Each backend's servers are slots (router/slots.ts): a host change is a batch of runtime
// commands, not a reload, and the file written with it serves the same hosts after a later reload.
import { createHash } from "crypto";
import { METRICS_PATH } from "../model/ports";
import { ROUTER_HAPROXY_USER } from "../model/router-contract";
import { parseServiceKeys, RoutedService, ServiceKeys, ServiceRules, SkippedService } from "./service-parse";
import { assignLayout, serverLines, SlotLayout, Slots } from "./slots";

export { KeyEntry, MAX_PROBLEMS_PER_SERVICE, parseServiceKeys, RoutedService, ServiceKeys, ServiceRules, shown, SkippedService } from "./service-parse";

export interface RouterConfigOptions extends ServiceRules {
    /** Address every frontend binds: `0.0.0.0` on GCE (load-balanced traffic), the machine's own address locally. */
    bindAddress: string;
    /** Folder of the admin socket (seamless reloads pass listeners through it). */
    runDir: string;
    /** HAProxy's workers drop root to this user and group; ROUTER_HAPROXY_USER when unset. */
    haproxyUser?: string;
    /** HAProxy's built-in Prometheus exporter on this port of bindAddress (ROUTER_METRICS_PORT); absent: none. */
    metricsPort?: number;
}

export type RouterConfigResult =
    | {
          ok: true;
          text: string;
          services: RoutedService[];
          skipped: SkippedService[];
          /**
           * In the text as `node cfg-<id>`: HAProxy's `show info` tells which config serves. The hash of
           * the structure only (services, ports, slot counts), not of the hosts in the slots: a host
           * change keeps the id and is applied by runtime commands; a new id needs a reload.
           */
          id: string;
          /** Which host each backend's slots hold (the next render keeps hosts in their slots). */
          layout: SlotLayout;
      }
    /** Only a problem of the whole router (no HTTP port) renders nothing. */
    | { ok: false; problems: string[]; services: RoutedService[]; skipped: SkippedService[] };

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

/** The backend's servers: its slots, with their hosts or, for the id, all alike. */
type Servers = (backend: string) => string[];

function httpBackend(s: RoutedService, servers: Servers): string[] {
    // No "no registered host" rule for a service without hosts: that would make its first host a
    // reload. With every slot free HAProxy has no server to use and answers this 503.
    return [
        `backend http_${s.name}`,
        "    mode http",
        "    balance roundrobin",
        `    http-error status 503 content-type "text/plain" string "503 service ${s.name} has no live host (none registered, or none answers its check)"`,
        ...servers(`http_${s.name}`),
    ];
}

/**
 * HAProxy's own Prometheus exporter (built in: `haproxy -vv` lists prometheus-exporter): /metrics
 * only, every other path a 404; not logged, so scrapes never fill the router's log. The firewall
 * admits its port from the monitoring range only (model/monitoring.ts).
 */
function metricsFrontend(port: number, options: RouterConfigOptions): string[] {
    return [
        "frontend metrics",
        "    mode http",
        `    bind ${options.bindAddress}:${port}`,
        "    no log",
        `    http-request use-service prometheus-exporter if { path ${METRICS_PATH} }`,
        `    http-request return status 404 content-type "text/plain" string "404 only ${METRICS_PATH} is served here"`,
    ];
}

function tcpSection(s: RoutedService, options: RouterConfigOptions, servers: Servers): string[] {
    return [
        `frontend tcp_${s.name}`,
        "    mode tcp",
        `    bind ${options.bindAddress}:${s.hostPort}`,
        `    default_backend tcp_${s.name}`,
        "",
        `backend tcp_${s.name}`,
        "    mode tcp",
        "    balance roundrobin",
        ...servers(`tcp_${s.name}`),
    ];
}

/**
 * The HAProxy configuration for the service keys under `options.prefix` (keys are absolute etcd
 * keys). A service with any problem is skipped and listed in `skipped` with its reasons; every other
 * service is rendered. Only a problem of the router itself (no HTTP port) renders nothing.
 */
export function renderHaproxyConfig(keys: ServiceKeys, options: RouterConfigOptions, previous?: SlotLayout): RouterConfigResult {
    const parsed = parseServiceKeys(keys, options.prefix, options);
    if (options.httpPorts.length === 0) return { ok: false, problems: ["no HTTP port to serve (lbHttpPorts is empty)"], ...parsed };
    const http = parsed.services.filter((s) => s.scheme === "http");
    const tcp = parsed.services.filter((s) => s.hostPort !== undefined);
    const layout = assignLayout(previous, [
        ...http.map((s) => ({ backend: `http_${s.name}`, hosts: s.hosts.map((h) => h.address) })),
        ...tcp.map((s) => ({ backend: `tcp_${s.name}`, hosts: s.hosts.map((h) => h.address) })),
    ]);
    const text = (structural: boolean) => configText(parsed.services, options, (backend) => serverLines(layout.get(backend) as Slots, structural));
    const id = createHash("sha256").update(text(true)).digest("hex").slice(0, 16);
    return { ok: true, text: text(false).replace("\nglobal\n", `\nglobal\n    node cfg-${id}\n`), services: parsed.services, skipped: parsed.skipped, id, layout };
}

function configText(services: RoutedService[], options: RouterConfigOptions, servers: Servers): string {
    const http = services.filter((s) => s.scheme === "http");
    const known = http.length > 0 ? http.map((s) => s.name).join(", ") : "none";
    const user = options.haproxyUser ?? ROUTER_HAPROXY_USER;
    const sections: string[][] = [
        [
            `# Generated by the coreos-cluster router from the etcd keys under ${options.prefix}/. Do not edit: the next change replaces it.`,
            "global",
            "    master-worker",
            // The master stays root (it re-reads the config and binds new ports on a reload); the workers, which talk to clients, do not.
            `    user ${user}`,
            `    group ${user}`,
            // Bound by the root master, owned by root, mode 600: only root (the watcher) reaches the admin level.
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
        ...http.map((s) => httpBackend(s, servers)),
        ...services.filter((s) => s.hostPort !== undefined).map((s) => tcpSection(s, options, servers)),
        ...(options.metricsPort !== undefined ? [metricsFrontend(options.metricsPort, options)] : []),
    ];
    return sections.map((lines) => lines.join("\n")).join("\n\n") + "\n";
}
