// The inputs the benchmarks share: the shipped dev/prod stack files and a synthetic large
// stack (7 members, a 500-worker group, 1,000 services, 200 fleet units), as raw config with
// short keys, exactly what the program reads from Pulumi.<stack>.yaml.
import * as path from "path";
import { readStackFile } from "../model/stack-config";

export interface BenchService {
    service: string;
    scheme: "http" | "tcp";
    hosts: string[];
    hostPort: number;
}

/** `count` services, each with a scheme, 3 hosts and a host_port: 5 schema keys per service. */
export function benchServices(count: number): BenchService[] {
    return Array.from({ length: count }, (_, i) => ({
        service: `svc-${String(i).padStart(5, "0")}`,
        scheme: i % 2 === 0 ? "tcp" : "http",
        hosts: [0, 1, 2].map((h) => `10.${30 + h}.${(i >> 8) & 255}.${i & 255}:${8000 + h}`),
        hostPort: 20000 + i,
    }));
}

/** The same services as stack config entries (`services:` in Pulumi.<stack>.yaml). */
export function serviceConfigEntries(count: number): Record<string, unknown>[] {
    return benchServices(count).map((s) => ({ name: s.service, scheme: s.scheme, hosts: s.hosts, host_port: s.hostPort }));
}

/** `count` fleet units: plain services with content, spread by metadata (200 in the large stack). */
export function fleetUnitEntries(count: number): Record<string, unknown>[] {
    return Array.from({ length: count }, (_, i) => ({
        name: `app-${String(i).padStart(4, "0")}.service`,
        content: [
            "[Unit]",
            `Description=bench app ${i}`,
            "After=docker.service",
            "Requires=docker.service",
            "",
            "[Service]",
            `ExecStartPre=-/usr/bin/docker rm -f app-${i}`,
            `ExecStart=/usr/bin/docker run --rm --name app-${i} -p ${30000 + i}:80 nginx:1.27-alpine`,
            `ExecStop=/usr/bin/docker stop app-${i}`,
            "",
            "[X-Fleet]",
            "MachineMetadata=role=worker",
            "",
        ].join("\n"),
    }));
}

export function shippedStack(repoRoot: string, stack: "dev" | "prod" | "local"): Record<string, unknown> {
    return readStackFile(stack, repoRoot);
}

/** A big GCE stack: 7 members over 3 zones, a fixed 500-worker group, `services` services, `units` fleet units. */
export function largeStack(opts: { services: number; units: number } = { services: 1000, units: 200 }): Record<string, unknown> {
    return {
        clusterName: "bench-large",
        platform: "gcp",
        environment: "large",
        project: "bench-project",
        region: "us-central1",
        zones: ["us-central1-a", "us-central1-b", "us-central1-c"],
        subnetCidr: "10.40.0.0/22",
        etcdCount: 7,
        etcdMachineType: "e2-standard-2",
        etcdDiskSizeGb: 50,
        protectMembers: true,
        workerMin: 500,
        workerMax: 500,
        workerMachineType: "e2-standard-4",
        workerDiskSizeGb: 100,
        osFlavor: "flatcar",
        externalIps: false,
        sshAuthorizedKeys: [
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@example.com",
        ],
        sshSourceRanges: ["35.235.240.0/20"],
        lbHttpPorts: [80],
        // The providers' way in, with the key from the environment as CI's deploy job hands it.
        sshTunnel: { host: "localhost", port: 2222, username: "core", privateKeyEnv: "COREOS_CLUSTER_SSH_KEY" },
        fleetMetadata: { tier: "large" },
        rebootStrategy: "etcd-lock",
        rebootWindowStart: "Sun 04:00",
        rebootWindowLength: "2h",
        services: serviceConfigEntries(opts.services),
        fleetUnits: fleetUnitEntries(opts.units),
        // Flatcar ships no fleet: with fleet units the machines install a pinned release (a synthetic digest here).
        fleetRelease: { sha256: "5".repeat(64) },
    };
}

/** The dev stack with `services` services instead of its two: isolates how evaluation grows with services. */
export function devWithServices(repoRoot: string, services: number): Record<string, unknown> {
    return { ...shippedStack(repoRoot, "dev"), services: serviceConfigEntries(services) };
}

/** A container-linux variant of a raw stack (GCE needs an own image for it: CoreOS has none left). */
export function withFlavor(raw: Record<string, unknown>, flavor: "flatcar" | "container-linux"): Record<string, unknown> {
    if (flavor === "flatcar") return { ...raw, osFlavor: "flatcar" };
    return { ...raw, osFlavor: "container-linux", osImage: "projects/bench-project/global/images/coreos-stable-2512-3-0" };
}

export const REPO_ROOT = path.resolve(__dirname, "..");
