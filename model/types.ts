// The validated, typed model of one stack's configuration. Everything downstream
// (plan, cloud-config rendering, platforms, providers) takes this, never raw config.

export type Platform = "gcp" | "local";
export type OsFlavor = "flatcar" | "container-linux";
export type ServiceScheme = "http" | "tcp";
export type RebootStrategy = "etcd-lock" | "reboot" | "off";
export type FleetDesiredState = "inactive" | "loaded" | "launched";
export type MachineRole = "etcd" | "worker";

/** etcd ports, fixed by the product (the firewall matrix and every URL use them): the port table's. */
export { ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "./ports";

export interface ServiceSpec {
    /** `/services/<name>/...`: [a-z0-9-], 1-63 chars, starts with a letter. */
    name: string;
    scheme: ServiceScheme;
    /** `ip:port` entries, written to `<prefix>/<name>/hosts/<n>`. */
    hosts: string[];
    /** Required for tcp services; the port every worker's router serves it on. */
    hostPort?: number;
    /**
     * The host_port is load-balanced to the internet only when true; otherwise it is reachable
     * from inside the VPC (the subnet) only.
     */
    public?: boolean;
}

export interface FleetUnitOption {
    section: string;
    name: string;
    value: string;
}

export interface FleetUnitSpec {
    /** Unit name as fleet accepts it, e.g. `web@.service` or `sidekick.service`. */
    name: string;
    /** Unit file text; exactly one of `content` and `options` is given. */
    content?: string;
    options?: FleetUnitOption[];
    /** Default `launched` (templates are always pushed as `inactive`). */
    desiredState?: FleetDesiredState;
    /** For a template `foo@.service`: instances to launch, e.g. [1, 2] -> foo@1.service, foo@2.service. */
    instances?: Array<string | number>;
}

/**
 * A templated fleet service as the stack declares it (components/fleet/fleet-service.ts): the
 * unit from a docker image or unit file text, run as `count` instances with presence sidekicks.
 */
export interface FleetServiceConfig {
    /** The service name (a DNS label): units `<name>@N.service`, keys `<prefix>/<name>/...`. */
    name: string;
    /** Exactly one of image (with containerPort) and content (with instancePort). */
    image?: string;
    containerPort?: number;
    content?: string;
    instancePort?: number;
    count: number;
    scheme: ServiceScheme;
    /** tcp only, and then required: the port every worker's router serves it on. */
    hostPort?: number;
    ttlSeconds?: number;
    waitTimeoutSeconds?: number;
}

export interface FleetRelease {
    version: string;
    url: string;
    /** sha256 (64 hex digits) of the release tarball at `url`. */
    sha256: string;
}

export interface SshTunnelSpec {
    host: string;
    port: number;
    username: string;
    /**
     * Secret: never logged, never stored in plaintext state. Absent from what resources are given when
     * the key comes from `privateKeyEnv` (tunnelForResources): then it never reaches state at all.
     */
    privateKey?: string;
    /**
     * The environment variable the key came from (sshTunnel.privateKeyEnv). Resources then carry only
     * this name and read the key from their process's environment when they dial, so a preview (which
     * can decrypt state) never sees the key and a deploy job hands it in as a secret of its own.
     */
    privateKeyEnv?: string;
    /**
     * Set by the local platform (never by a stack file): the local VPC subnet `host` lives in. The
     * tunnel then dials only when the host's route goes through that VPC's bridge (vpc-route-guard.ts).
     */
    localVpc?: string;
}

export interface ClusterConfig {
    /** Prefix of every resource name: `<name>-etcd-0`, `<name>-worker`, ... */
    name: string;
    /** Environment label (usually the stack name: dev, prod, local). */
    environment: string;
    platform: Platform;
    /** True only for a stack explicitly marked as dev (allows a single etcd member). */
    isDev: boolean;

    gcp: {
        project: string;
        region: string;
        zones: string[];
        /** Custom-mode subnet range; etcd members get static addresses from it. */
        subnetCidr: string;
        /** Use an existing network/subnet (self links or names) instead of creating one. */
        existingNetwork?: string;
        existingSubnetwork?: string;
    };

    etcd: {
        count: number;
        machineType: string;
        diskSizeGb: number;
        /** Pinned etcd version for Flatcar's etcd-member.service (ETCD_IMAGE_TAG). */
        version: string;
        /** Bootstrap through a discovery URL instead of the static initial_cluster list. */
        discoveryUrl?: string;
        /** Protect members against deletion (always true in prod). */
        protect: boolean;
    };

    workers: {
        min: number;
        max: number;
        machineType: string;
        diskSizeGb: number;
    };

    os: {
        flavor: OsFlavor;
        /** GCE image (family or self link), e.g. `projects/kinvolk-public/global/images/family/flatcar-stable`. */
        image: string;
    };

    ssh: {
        authorizedKeys: string[];
        sourceRanges: string[];
        allowWorld: boolean;
    };

    externalIps: boolean;

    loadBalancer: {
        /** HTTP/HTTPS ports forwarded to workers (default 80, 443). */
        httpPorts: number[];
        /** Extra TCP ports besides the tcp services' host_ports. */
        tcpPorts: number[];
    };

    healthCheck: {
        port: number;
        path: string;
    };

    /**
     * Where the metrics ports (model/monitoring.ts) are admitted from. Absent on configs built by
     * hand: no range, the ports admitted from nowhere, as on GCE by default.
     */
    monitoring?: { ranges: string[] };

    fleet: {
        /** Extra `k=v` fleet metadata added to role/zone/region/cluster. */
        metadata: Record<string, string>;
        /** Where the providers reach fleet: unix:///..., http://host:port. */
        endpoint?: string;
        /**
         * The fleet release Flatcar machines install (Flatcar ships no fleet). Its sha256
         * is checked on the VM before anything is unpacked; without a pinned release the
         * Flatcar rendering carries no fleet at all.
         */
        release?: FleetRelease;
    };

    /** Where workers pull the router's images (model/images.ts); absent or "": on gcp the stack's own Artifact Registry mirror. */
    images?: { mirror: string };

    updates: {
        /** The members' strategy; workers never take locksmith's lock (model/reboot-strategy.ts). */
        rebootStrategy: RebootStrategy;
        /** e.g. `Sun 04:00` */
        windowStart?: string;
        /** e.g. `2h` */
        windowLength?: string;
    };

    services: ServiceSpec[];
    /** Defaults to `/services`. */
    servicesPrefix: string;
    fleetUnits: FleetUnitSpec[];
    /** Announced by their fleet sidekicks, so never also in `services`. */
    fleetServices: FleetServiceConfig[];

    /** How the providers reach etcd (defaults to the planned member client URLs). */
    access: {
        etcdEndpoints?: string[];
        etcdUsername?: string;
        etcdPassword?: string;
        sshTunnel?: SshTunnelSpec;
        /** Also mirror service keys into the etcd v2 keyspace (fleet-era readers, confd v2). */
        mirrorToV2: boolean;
        /**
         * How long the providers wait (bounded, exponential backoff) for a booting cluster to
         * answer before their first write; 0: no wait beyond the connection's own retries.
         */
        clusterWaitSeconds?: number;
    };

    /** The cluster PKI's settings (docs/security.md): rotation and renewal are config changes. */
    tls: {
        caGeneration: number;
        leafGeneration: number;
        trustPreviousCa: boolean;
        leafValidityDays: number;
        renewBeforeDays: number;
        caValidityDays: number;
    };

    local: {
        /** First machine address of the local VPC (its /24 is the subnet), e.g. `10.213.10.10`. */
        firstAddress: string;
        /** Workers to boot on the local platform. */
        workers: number;
        /** Root folder of the local machines (relative to the repo). */
        dataDir: string;
    };
}

/**
 * What rendering a machine's cloud-config reads of the config: all of it but how the deployer
 * reaches etcd (access: endpoints, password, SSH tunnel key). The compiler keeps those secrets out
 * of user-data, and out of the key the rendering is cached under (components/render-cache.ts).
 */
export type RenderingConfig = Omit<ClusterConfig, "access">;

/** One validation problem, always naming the config key (e.g. `coreos-cluster:etcdCount`). */
export interface ConfigProblem {
    key: string;
    message: string;
}

export class ConfigValidationError extends Error {
    constructor(public readonly problems: ConfigProblem[]) {
        super(
            `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
                problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
        );
        this.name = "ConfigValidationError";
    }
}

/** Where one etcd member lives, computed before any resource exists. */
export interface MemberPlan {
    index: number;
    /** `<cluster>-etcd-<index>`: also the etcd member name and hostname. */
    name: string;
    zone: string;
    privateIp: string;
    clientUrl: string;
    peerUrl: string;
}

/** A worker slot. On GCE workers come from a group (no fixed IP); locally each has its own loopback IP. */
export interface WorkerPlan {
    name: string;
    zone: string;
    /** Only on the local platform. */
    privateIp?: string;
}

export interface ClusterPlan {
    members: MemberPlan[];
    /** `name=peerUrl,...` for every member. */
    initialCluster: string;
    /** Derived from the cluster name, stable across runs. */
    clusterToken: string;
    clientUrls: string[];
    /** Zones the worker group spans. */
    workerZones: string[];
    /** Local platform only: one entry per worker machine. */
    workers: WorkerPlan[];
}
