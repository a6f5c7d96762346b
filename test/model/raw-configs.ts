// Raw stack configs (short keys, as readStackFile/readPulumiConfig return them) that are
// valid as they stand; tests change one thing and expect exactly that to be reported.

export const OPS_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@example.com";

/** A real ed25519 key (ssh-keygen, no passphrase), made for these tests only: validation reads the key with ssh2. */
export const TEST_PRIVATE_KEY = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACCdh8hacFDEkb2eiNq6DZ6AOJtXukBrMsZkf6VLW2BBEQAAAIgDc/l5A3P5",
    "eQAAAAtzc2gtZWQyNTUxOQAAACCdh8hacFDEkb2eiNq6DZ6AOJtXukBrMsZkf6VLW2BBEQ",
    "AAAECnFdw9+vBgpEURERijHFCYvtcekIDBFtT1l91/MqiQ9p2HyFpwUMSRvZ6I2roNnoA4",
    "m1e6QGsyxmR/pUtbYEERAAAAAAECAwQF",
    "-----END OPENSSH PRIVATE KEY-----",
].join("\n");

export function gcpRaw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        clusterName: "demo",
        platform: "gcp",
        environment: "dev",
        isDev: true,
        project: "demo-project",
        region: "europe-west1",
        zones: ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
        subnetCidr: "10.10.0.0/24",
        etcdCount: 3,
        workerMin: 2,
        workerMax: 4,
        sshAuthorizedKeys: [OPS_KEY],
        services: [
            { name: "web", scheme: "http", hosts: ["10.10.0.20:8080", "10.10.0.21:8080"] },
            { name: "redis", scheme: "tcp", hosts: ["10.10.0.22:6379"], host_port: 6379 },
        ],
        fleetUnits: [
            { name: "web@.service", instances: [1, 2], content: "[Unit]\nDescription=web %i\n\n[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nConflicts=web@*.service\n" },
            { name: "hello.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/echo hello" }] },
        ],
        // Test data: Flatcar machines need a pinned fleet release when units are pushed.
        fleetRelease: { sha256: "7e57".repeat(16) },
        // The way in that services and fleet units need on GCE (the key from the environment, unread offline).
        sshTunnel: { host: "localhost", port: 2222, username: "core", privateKeyEnv: "COREOS_CLUSTER_SSH_KEY" },
        ...overrides,
    };
}

export function prodRaw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return gcpRaw({
        environment: "prod",
        isDev: false,
        etcdCount: 5,
        protectMembers: true,
        externalIps: false,
        workerMin: 3,
        workerMax: 6,
        ...overrides,
    });
}

/** The local stack's way in for its providers: the deployer's sshd on the first member (offline validation does not read the key). */
export const LOCAL_TUNNEL = { host: "10.213.10.10", username: "root", privateKeyEnv: "COREOS_LOCAL_SSH_KEY" };

export function localRaw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
        clusterName: "local",
        platform: "local",
        environment: "local",
        isDev: true,
        region: "local",
        etcdCount: 3,
        localFirstAddress: "10.213.10.10",
        localWorkers: 2,
        ...overrides,
    };
}
