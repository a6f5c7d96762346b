// The one list of stack config keys: their types, defaults and meaning. Validation,
// the Pulumi config reader, Pulumi.yaml (checked by a test) and docs/configuration.md
// all follow this table, so a key cannot exist in one place and not the others.

export const CONFIG_NAMESPACE = "coreos-cluster";

/** The types Pulumi.yaml's `config:` block accepts (`array` needs `items`). */
export type ConfigValueType = "string" | "integer" | "boolean" | "array" | "object";

export interface ConfigKeySpec {
    key: string;
    type: ConfigValueType;
    /** Item type of an array key. */
    items?: "string" | "integer" | "object";
    /** Default applied when the stack does not set the key (absent: see `defaultNote`). */
    defaultValue?: unknown;
    /**
     * Set only with `pulumi config set --secret`; never echoed in errors. Enforced by the
     * program (a plaintext value is refused), not by `secret: true` in Pulumi.yaml: the CLI
     * (v3.248) makes such a key mandatory in every stack and refuses its default as unencrypted.
     */
    secret?: boolean;
    description: string;
}

export const IAP_SSH_RANGE = "35.235.240.0/20";
export const FLATCAR_STABLE_IMAGE = "projects/kinvolk-public/global/images/family/flatcar-stable";
/** Last etcd minor that still serves the v2 API fleet and locksmith need. */
export const DEFAULT_ETCD_VERSION = "v3.5.17";

// Pulumi makes every declared key without a default required, so every optional key
// carries a neutral default ("" / [] / 0 for workerMax), which the validator reads as unset.
export const CONFIG_KEYS: readonly ConfigKeySpec[] = [
    { key: "clusterName", type: "string", defaultValue: "coreos", description: "Prefix of every resource name (<name>-etcd-0, <name>-worker...): lowercase letters, digits and dashes, starts with a letter, at most 24 characters." },
    { key: "platform", type: "string", defaultValue: "gcp", description: "Where the machines run: gcp (Google Compute Engine) or local (etcd processes on loopback addresses, no cloud)." },
    { key: "environment", type: "string", defaultValue: "", description: "Environment label on every resource (dev, prod, ...). Empty: the stack name. The value prod turns on the production rules." },
    { key: "isDev", type: "boolean", defaultValue: false, description: "Marks the stack as a development stack; only then is allowSingleMember honoured." },
    { key: "allowSingleMember", type: "boolean", defaultValue: false, description: "Allow etcdCount 1 (no failure tolerance). Honoured only when isDev is true." },
    { key: "project", type: "string", defaultValue: "", description: "GCP project id (required on platform gcp)." },
    { key: "region", type: "string", defaultValue: "us-central1", description: "GCP region, e.g. europe-west1. On platform local any label (zones must still be <region>-<letter>)." },
    { key: "zones", type: "array", items: "string", defaultValue: [], description: "Zones of the region to spread members and workers over, e.g. [europe-west1-b, europe-west1-c]. Required on gcp; on local defaults to <region>-a." },
    { key: "subnetCidr", type: "string", defaultValue: "10.10.0.0/24", description: "IPv4 range of the cluster subnet (prefix /8 to /29); etcd members get static addresses from its start." },
    { key: "existingNetwork", type: "string", defaultValue: "", description: "Use this existing VPC network (name or self link) instead of creating one." },
    { key: "existingSubnetwork", type: "string", defaultValue: "", description: "Use this existing subnetwork (name or self link); requires existingNetwork. subnetCidr must then be that subnet's range." },
    { key: "etcdCount", type: "integer", defaultValue: 3, description: "Number of etcd members: 3, 5 or 7 (1 only on a dev stack with allowSingleMember)." },
    { key: "etcdMachineType", type: "string", defaultValue: "e2-medium", description: "Machine type of the etcd members." },
    { key: "etcdDiskSizeGb", type: "integer", defaultValue: 20, description: "Boot disk size of the etcd members in GB (10 to 65536)." },
    { key: "etcdVersion", type: "string", defaultValue: DEFAULT_ETCD_VERSION, description: "etcd image tag for Flatcar's etcd-member.service, v3.<minor>.<patch> with minor at most 5 (v3.6 has no v2 API, which fleet needs)." },
    { key: "etcdDiscoveryUrl", type: "string", defaultValue: "", description: "Bootstrap through this discovery URL (http/https) instead of the static initial cluster list." },
    { key: "protectMembers", type: "boolean", defaultValue: false, description: "Protect the etcd members against deletion (must be true when environment is prod)." },
    { key: "workerMin", type: "integer", defaultValue: 2, description: "Minimum (and initial) size of the worker group." },
    { key: "workerMax", type: "integer", defaultValue: 0, description: "Maximum size of the worker group; 0 means the same as workerMin (a fixed-size group)." },
    { key: "workerMachineType", type: "string", defaultValue: "e2-medium", description: "Machine type of the workers." },
    { key: "workerDiskSizeGb", type: "integer", defaultValue: 30, description: "Boot disk size of the workers in GB (10 to 65536)." },
    { key: "osFlavor", type: "string", defaultValue: "flatcar", description: "flatcar (etcd-member.service, the image that exists on GCE today) or container-linux (classic etcd2/fleet sections; needs your own osImage)." },
    { key: "osImage", type: "string", defaultValue: "", description: `GCE image (family or self link). Empty: ${FLATCAR_STABLE_IMAGE} for flatcar.` },
    { key: "sshAuthorizedKeys", type: "array", items: "string", defaultValue: [], description: "SSH public keys authorized for the core user on every machine." },
    { key: "sshSourceRanges", type: "array", items: "string", defaultValue: [IAP_SSH_RANGE], description: "CIDRs allowed to reach SSH (port 22). Default: Google's IAP TCP forwarding range. 0.0.0.0/0 only with sshAllowWorld." },
    { key: "sshAllowWorld", type: "boolean", defaultValue: false, description: "Explicitly allow 0.0.0.0/0 in sshSourceRanges (refused when environment is prod)." },
    { key: "monitoringRanges", type: "array", items: "string", defaultValue: [], description: "CIDRs your Prometheus scrapes from: the only sources the firewall admits to the metrics ports (etcd's 2381 on every member, HAProxy's exporter 8405 on every worker; docs/metrics.md). Never the world, never a range of the load balancer's. Empty: the platform's default, none on gcp (the ports admitted from nowhere), the local Prometheus's own address (.3 of the VPC) on local." },
    { key: "externalIps", type: "boolean", defaultValue: false, description: "Give VMs external IPs. Without them egress goes through Cloud NAT. Must be false in prod." },
    { key: "lbHttpPorts", type: "array", items: "integer", defaultValue: [80], description: "HTTP ports the load balancer forwards to the workers (plain HTTP: 443 is refused until the router terminates TLS)." },
    { key: "lbTcpPorts", type: "array", items: "integer", defaultValue: [], description: "Extra TCP ports the load balancer forwards to the workers, besides the tcp services' host_ports." },
    { key: "healthCheckPort", type: "integer", defaultValue: 10256, description: "Port of the worker health check (load balancer and autohealing)." },
    { key: "healthCheckPath", type: "string", defaultValue: "/healthz", description: "HTTP path of the worker health check." },
    { key: "fleetMetadata", type: "object", defaultValue: {}, description: "Extra fleet machine metadata (key: value) added to role, zone, region and cluster, which are set by the program." },
    { key: "fleetEndpoint", type: "string", defaultValue: "", description: "Where the fleet unit provider reaches fleet: unix:///var/run/fleet.sock or http://127.0.0.1:49153, through sshTunnel when the host is remote." },
    { key: "fleetRelease", type: "object", defaultValue: {}, description: "The fleet release Flatcar machines install (Flatcar ships no fleet): {sha256, version?, url?}; version/url default to fleet v1.0.0's linux-amd64 tarball. The sha256 is checked on the VM before anything is unpacked. Required on GCE + Flatcar when fleetUnits are declared; without it Flatcar machines run no fleet." },
    { key: "imageMirror", type: "string", defaultValue: "", description: "Where workers pull the router's Docker Hub images (pinned by digest): empty on gcp, an Artifact Registry remote repository of Docker Hub the stack creates (<region>-docker.pkg.dev/<project>/<clusterName>-dockerhub); or an existing mirror as host[:port]/path (e.g. europe-docker.pkg.dev/shared/dockerhub); or docker.io to pull anonymously from Docker Hub (refused in prod: every worker shares the NAT's address and Docker Hub's per-address pull limit)." },
    { key: "rebootStrategy", type: "string", defaultValue: "etcd-lock", description: "Update reboot strategy of the etcd members: etcd-lock (locksmith, one member at a time), reboot or off. Workers never take locksmith's lock (a deleted worker would hold it forever): with etcd-lock they run off and take updates through the group's rolling replace." },
    { key: "rebootWindowStart", type: "string", defaultValue: "", description: "Start of the locksmith reboot window, e.g. 'Sun 04:00' or '04:00' (daily). Set together with rebootWindowLength." },
    { key: "rebootWindowLength", type: "string", defaultValue: "", description: "Length of the reboot window, e.g. 2h, 90m, 1h30m." },
    { key: "services", type: "array", items: "object", defaultValue: [], description: "Services to register in etcd: list of {name, scheme: http|tcp, hosts: [ip:port, ...], host_port} (host_port required for tcp)." },
    { key: "servicesPrefix", type: "string", defaultValue: "/services", description: "etcd key prefix of the service registrations." },
    { key: "fleetUnits", type: "array", items: "object", defaultValue: [], description: "fleet units to push: list of {name, content | options: [{section, name, value}], desiredState: inactive|loaded|launched, instances: [...] for templates}." },
    { key: "fleetServices", type: "array", items: "object", defaultValue: [], description: "Templated fleet services with presence sidekicks and rolling updates: list of {name, image + containerPort | content + instancePort, count (1-100), scheme: http|tcp (default http), hostPort (tcp only, required), ttlSeconds, waitTimeoutSeconds}. A name must not also be in services." },
    { key: "etcdEndpoints", type: "array", items: "string", defaultValue: [], description: "etcd client URLs the providers use. Empty: the planned member client URLs." },
    { key: "etcdUsername", type: "string", defaultValue: "", description: "etcd user for the providers (with etcdPassword)." },
    { key: "etcdPassword", type: "string", defaultValue: "", secret: true, description: "etcd password for the providers. Secret: set it with `pulumi config set --secret etcdPassword` (a plaintext value is refused)." },
    { key: "sshTunnel", type: "object", defaultValue: {}, secret: true, description: "Reach etcd and fleet through SSH: {host, port, username, privateKey | privateKeyEnv}; set privateKey with `pulumi config set --secret --path sshTunnel.privateKey` (a plaintext key is refused), or name in privateKeyEnv an environment variable holding the key (CI). Required on gcp when services or fleetUnits are declared (or etcdEndpoints for services)." },
    { key: "clusterWaitSeconds", type: "integer", defaultValue: 600, description: "Seconds the service and fleet providers wait for a booting cluster to answer (exponential backoff from 1 s, at most 30 s apart) before their first write; 0 to 3600. On a fresh GCE stack the members boot and pull etcd while Pulumi moves on." },
    { key: "mirrorToV2", type: "boolean", defaultValue: false, description: "Also write service keys into the etcd v2 keyspace (fleet-era readers such as confd's v2 backend)." },
    { key: "tlsCaGeneration", type: "integer", defaultValue: 1, description: "The cluster CA's generation. Raise it by one to rotate the CA in place with one `pulumi up`: machines trust the new CA beside the old, members restart one at a time, every leaf is re-issued by the new CA, then the old CA is dropped (unless tlsTrustPreviousCa). docs/security.md." },
    { key: "tlsLeafGeneration", type: "integer", defaultValue: 1, description: "Raise it by one to renew every leaf certificate now, under the same CA, with one `pulumi up` (no restart: etcd and every client read their certificate files again per connection). Leaves also renew by themselves tlsRenewBeforeDays before they expire." },
    { key: "tlsTrustPreviousCa", type: "boolean", defaultValue: false, description: "Keep the previous CA trusted after a CA rotation (for consumers holding a credential outside Pulumi); the next up with false drops it. Default false: a rotation ends with the old CA dropped." },
    { key: "tlsLeafValidityDays", type: "integer", defaultValue: 365, description: "Validity of every leaf certificate in days." },
    { key: "tlsRenewBeforeDays", type: "integer", defaultValue: 30, description: "Renew a leaf (and rotate a CA) this many days before it expires, at the next `pulumi up`; a preview warns 45 days ahead." },
    { key: "tlsCaValidityDays", type: "integer", defaultValue: 3650, description: "Validity of the cluster CA in days; must exceed tlsLeafValidityDays." },
    { key: "localFirstAddress", type: "string", defaultValue: "10.213.10.10", description: "Platform local: first address in the local VPC (a private /24 on a bridge of its own; .1 is the deployer, .2 the load balancer, .3 the local Prometheus); members take the next addresses, then the workers." },
    { key: "localWorkers", type: "integer", defaultValue: 2, description: "Platform local: number of worker machines (etcd proxies) to boot." },
    { key: "localDataDir", type: "string", defaultValue: ".local-machines", description: "Platform local: folder (relative to the project) holding the local machines' data." },
];

export const CONFIG_KEY_NAMES: readonly string[] = CONFIG_KEYS.map((k) => k.key);

export function configKeySpec(key: string): ConfigKeySpec | undefined {
    return CONFIG_KEYS.find((k) => k.key === key);
}

/** The full config key as Pulumi and every error message spell it. */
export function qualifiedKey(key: string): string {
    return `${CONFIG_NAMESPACE}:${key}`;
}
