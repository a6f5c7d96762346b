// The router's unit contract, in one place: the unit's name, every ROUTER_* variable the unit sets
// and the watcher reads, their defaults, the paths the unit uses, and what the router container
// keeps of root's powers. cloud-config/router.ts renders the unit from it, router/main.ts reads the
// environment by it, and components/local/router-boot.ts runs the same unit text with it.
// No imports: the router bundle (router/bundle.ts) and the local providers' bundles carry it.

/** The systemd unit every worker's user-data starts. */
export const ROUTER_UNIT = "coreos-router.service";

/** The name of every variable of the contract, by what it means. */
export const ROUTER_ENV = {
    /** Where write_files puts the bundled watcher (router.js). */
    script: "ROUTER_SCRIPT",
    /** The services prefix the router watches, e.g. /services. */
    prefix: "ROUTER_PREFIX",
    /** Members' client URLs, comma separated: the watcher reads etcd v3 through their JSON gateway. */
    etcdEndpoints: "ROUTER_ETCD_ENDPOINTS",
    /** This worker's etcd v2 proxy: the health check reads through it. */
    etcdProxy: "ROUTER_ETCD_PROXY",
    /** Where HTTP and TCP frontends listen (0.0.0.0 on GCE, the machine's address locally). */
    bind: "ROUTER_BIND",
    /** HTTP ports, comma separated (the load balancer's lbHttpPorts). */
    httpPorts: "ROUTER_HTTP_PORTS",
    /** Optional: where the health check listens; ROUTER_BIND when unset. */
    healthBind: "ROUTER_HEALTH_BIND",
    healthPort: "ROUTER_HEALTH_PORT",
    healthPath: "ROUTER_HEALTH_PATH",
    /** Optional: where HAProxy's Prometheus exporter listens (on ROUTER_BIND); unset: no exporter. */
    metricsPort: "ROUTER_METRICS_PORT",
    /** Optional: where `<service>.local` is answered; ROUTER_BIND when unset. */
    dnsAddress: "ROUTER_DNS_ADDRESS",
    /** Optional: DNS port, ROUTER_DEFAULTS.dnsPort when unset; "0" turns DNS off. */
    dnsPort: "ROUTER_DNS_PORT",
    configDir: "ROUTER_CONFIG_DIR",
    runDir: "ROUTER_RUN_DIR",
    /** Optional (required with https endpoints): the trust bundle, the router's certificate and key (model/pki-delivery.ts paths). */
    etcdCa: "ROUTER_ETCD_CA",
    etcdCert: "ROUTER_ETCD_CERT",
    etcdKey: "ROUTER_ETCD_KEY",
    /** Optional: the etcd user (under etcd auth); the password is derived from the key (model/etcd-auth.ts). */
    etcdUser: "ROUTER_ETCD_USER",
    /** Optional: the HAProxy binary, ROUTER_DEFAULTS.haproxy when unset. */
    haproxy: "ROUTER_HAPROXY",
    /** Optional: quiet time (ms) after the last etcd event before a reload. */
    settleMs: "ROUTER_SETTLE_MS",
    /** Optional: the longest a burst of events delays a reload (ms). */
    maxSettleMs: "ROUTER_MAX_SETTLE_MS",
} as const;

export type RouterVariable = (typeof ROUTER_ENV)[keyof typeof ROUTER_ENV];

/** Every variable of the contract; the local boot passes exactly these to the watcher. */
export const ROUTER_VARIABLES: readonly RouterVariable[] = Object.values(ROUTER_ENV);

/** What the watcher uses when an optional variable is unset. */
export const ROUTER_DEFAULTS = {
    dnsPort: 53,
    haproxy: "haproxy",
    settleMs: 100,
    maxSettleMs: 1000,
} as const;

/** Variables the watcher refuses to start without. */
export const ROUTER_REQUIRED: readonly RouterVariable[] = [
    ROUTER_ENV.prefix,
    ROUTER_ENV.etcdEndpoints,
    ROUTER_ENV.etcdProxy,
    ROUTER_ENV.bind,
    ROUTER_ENV.httpPorts,
    ROUTER_ENV.healthPort,
    ROUTER_ENV.healthPath,
    ROUTER_ENV.configDir,
    ROUTER_ENV.runDir,
];

/** Variables holding paths on the machine (the local boot maps them under the machine's root). */
export const ROUTER_PATH_VARIABLES: readonly RouterVariable[] = [ROUTER_ENV.script, ROUTER_ENV.configDir, ROUTER_ENV.runDir, ROUTER_ENV.etcdCa, ROUTER_ENV.etcdCert, ROUTER_ENV.etcdKey];

/** The paths the unit uses on the machine. */
export const ROUTER_PATHS = {
    script: "/opt/coreos-router/router.js",
    configDir: "/etc/coreos-router",
    runDir: "/run/coreos-router",
} as const;

/** HAProxy's workers drop root to this user and group (Debian's package and the official image both have it; uid 99 in the image). */
export const ROUTER_HAPROXY_USER = "haproxy";

/**
 * The only capabilities the router container keeps (`--cap-drop ALL`, then these), and why:
 * the watcher and HAProxy's master stay root inside the container, with nothing else of root.
 */
export const ROUTER_CAPABILITIES: ReadonlyArray<{ name: string; why: string }> = [
    { name: "NET_BIND_SERVICE", why: "HTTP on 80/443 and DNS on 53 are ports below 1024" },
    { name: "SETUID", why: "HAProxy's workers drop to the haproxy user" },
    { name: "SETGID", why: "HAProxy's workers drop to the haproxy group (setgroups, setgid)" },
    { name: "KILL", why: "HAProxy's root master signals its workers, which run as haproxy (soft stop on reload, stop)" },
];

/** The signal that stops the router: its PID 1 handles it (node would take SIGUSR1, the HAProxy image's STOPSIGNAL, as "open the inspector"). */
export const ROUTER_STOP_SIGNAL = "SIGTERM";
