// The local stack's outputs as `pulumi stack output --json` gives them, for the operator commands' unit tests.
import type { LocalView } from "../../model/local-view";

export function localViewFixture(): LocalView {
    const root = "/repo/.local-machines";
    const machine = (name: string, role: "etcd" | "worker", address: string) => ({ name, role, address, namespace: `ccl-${name}`, root: `${root}/${name}` });
    return {
        dataDir: root,
        machines: [
            machine("local-etcd-0", "etcd", "10.213.10.10"),
            machine("local-etcd-1", "etcd", "10.213.10.11"),
            machine("local-etcd-2", "etcd", "10.213.10.12"),
            machine("local-worker-0", "worker", "10.213.10.13"),
            machine("local-worker-1", "worker", "10.213.10.14"),
        ],
        loadBalancer: { name: "local-ingress", address: "10.213.10.2", namespace: "ccl-local-lb", root: `${root}/local-ingress`, ports: [80, 443], httpPorts: [80, 443] },
        sshd: { machine: "local-etcd-0", address: "10.213.10.10", port: 22, root: `${root}/local-etcd-0-sshd` },
        services: [
            { name: "web", scheme: "http", hosts: ["10.213.10.13:8080", "10.213.10.14:8080"] },
            { name: "redis", scheme: "tcp", hosts: ["10.213.10.13:16379"], hostPort: 6379 },
        ],
        healthCheck: { port: 10256, path: "/healthz" },
    };
}
