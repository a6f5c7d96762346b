// ClusterConfig / ClusterPlan objects built by hand, so the cloud-config tests do not
// depend on the config loader or the planner (those have their own tests).

import { ClusterConfig, ClusterPlan, ETCD_CLIENT_PORT, ETCD_PEER_PORT, MemberPlan } from "../../model/types";

export const DEV_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDevKeyForTestsOnly0000000000000000000 dev@example";
export const OPS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpsKeyForTestsOnly0000000000000000000 ops@example";

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/** Test data only: shipped stacks pin the real digest through coreos-cluster:fleetRelease. */
export const TEST_FLEET_RELEASE = {
    version: "v1.0.0",
    url: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz",
    sha256: "7e57".repeat(16),
};

export function gcpConfig(overrides: DeepPartial<ClusterConfig> = {}): ClusterConfig {
    const base: ClusterConfig = {
        name: "demo",
        environment: "dev",
        platform: "gcp",
        isDev: true,
        gcp: { project: "demo-project", region: "europe-west1", zones: ["europe-west1-b"], subnetCidr: "10.10.0.0/24" },
        etcd: { count: 3, machineType: "e2-small", diskSizeGb: 20, version: "v3.5.17", protect: false },
        workers: { min: 2, max: 2, machineType: "e2-small", diskSizeGb: 30 },
        os: { flavor: "flatcar", image: "projects/kinvolk-public/global/images/family/flatcar-stable" },
        ssh: { authorizedKeys: [DEV_KEY], sourceRanges: ["35.235.240.0/20"], allowWorld: false },
        externalIps: true,
        loadBalancer: { httpPorts: [80, 443], tcpPorts: [] },
        healthCheck: { port: 10256, path: "/healthz" },
        fleet: { metadata: {}, release: TEST_FLEET_RELEASE },
        updates: { rebootStrategy: "etcd-lock" },
        services: [],
        servicesPrefix: "/services",
        fleetUnits: [],
        fleetServices: [],
        access: { mirrorToV2: false },
        tls: { caGeneration: 1, leafGeneration: 1, trustPreviousCa: false, leafValidityDays: 365, renewBeforeDays: 30, caValidityDays: 3650 },
        local: { firstAddress: "10.213.10.10", workers: 2, dataDir: ".local-machines" },
    };
    return merge(base, overrides);
}

function merge<T>(base: T, overrides: DeepPartial<T>): T {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
        const current = out[key];
        if (value && typeof value === "object" && !Array.isArray(value) && current && typeof current === "object") {
            out[key] = merge(current, value as DeepPartial<typeof current>);
        } else {
            out[key] = value;
        }
    }
    return out as T;
}

/** A plan shaped like model/plan.ts produces: members round-robin over the zones, static IPs from .10 on. */
export function planFor(config: ClusterConfig, firstHost = 10): ClusterPlan {
    const ipBase =
        config.platform === "local" ? config.local.firstAddress.split(".").slice(0, 3).join(".") : config.gcp.subnetCidr.split(".").slice(0, 3).join(".");
    const start = config.platform === "local" ? Number(config.local.firstAddress.split(".")[3]) : firstHost;
    const members: MemberPlan[] = Array.from({ length: config.etcd.count }, (_, index) => {
        const ip = `${ipBase}.${start + index}`;
        return {
            index,
            name: `${config.name}-etcd-${index}`,
            zone: config.gcp.zones[index % config.gcp.zones.length],
            privateIp: ip,
            clientUrl: `https://${ip}:${ETCD_CLIENT_PORT}`,
            peerUrl: `https://${ip}:${ETCD_PEER_PORT}`,
        };
    });
    const workers =
        config.platform === "local"
            ? Array.from({ length: config.local.workers }, (_, i) => ({
                  name: `${config.name}-worker-${i}`,
                  zone: config.gcp.zones[i % config.gcp.zones.length],
                  privateIp: `${ipBase}.${start + config.etcd.count + i}`,
              }))
            : [];
    return {
        members,
        initialCluster: members.map((m) => `${m.name}=${m.peerUrl}`).join(","),
        clusterToken: `${config.name}-etcd-cluster`,
        clientUrls: members.map((m) => m.clientUrl),
        workerZones: [...config.gcp.zones],
        workers,
    };
}

export function prodConfig(overrides: DeepPartial<ClusterConfig> = {}): ClusterConfig {
    return gcpConfig({
        name: "prod",
        environment: "prod",
        isDev: false,
        gcp: { project: "prod-project", region: "europe-west1", zones: ["europe-west1-b", "europe-west1-c", "europe-west1-d"] },
        etcd: { count: 5, protect: true },
        workers: { min: 3, max: 6 },
        ssh: { authorizedKeys: [OPS_KEY, DEV_KEY] },
        externalIps: false,
        fleet: { metadata: { disk: "ssd", tier: "prod" } },
        updates: { rebootStrategy: "etcd-lock", windowStart: "Sun 04:00", windowLength: "2h" },
        ...overrides,
    } as DeepPartial<ClusterConfig>);
}

export function localConfig(overrides: DeepPartial<ClusterConfig> = {}): ClusterConfig {
    return gcpConfig({
        name: "local",
        environment: "local",
        platform: "local",
        gcp: { region: "local", zones: ["local-a"] },
        externalIps: false,
        local: { firstAddress: "10.213.10.10", workers: 2, dataDir: ".local-machines" },
        ...overrides,
    } as DeepPartial<ClusterConfig>);
}
