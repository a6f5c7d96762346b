// The local stack as its operator commands see it (`npm run local` summary, `-- status`, `-- logs`):
// the stack output `localCluster`, null on GCE. Plain data only (addresses, namespaces, folders,
// the declared services): never a key or a certificate.
import type { ServiceScheme } from "./types";

export interface LocalViewMachine {
    name: string;
    role: "etcd" | "worker";
    address: string;
    /** Its network namespace in the local VPC (`ccl-<machine>`). */
    namespace: string;
    /** The folder standing in for its `/`: its logs (`*.log`) are there. */
    root: string;
}

export interface LocalView {
    /** Absolute localDataDir. */
    dataDir: string;
    /** Members first, then workers, in the plan's order. */
    machines: LocalViewMachine[];
    loadBalancer: { name: string; address: string; namespace: string; root: string; ports: number[]; httpPorts: number[] };
    /** The deployer's way in: sshd in this member's namespace (absent without any key to accept). */
    sshd?: { machine: string; address: string; port: number; root: string };
    /** The local Prometheus (absent without a monitoring range): its UI and API at `url`, and what it scrapes. */
    prometheus?: { name: string; address: string; port: number; url: string; namespace: string; root: string; scrapes: Array<{ job: string; port: number; machines: string[] }> };
    /** The config's services, as the program registers them. */
    services: Array<{ name: string; scheme: ServiceScheme; hosts: string[]; hostPort?: number; public?: boolean }>;
    healthCheck: { port: number; path: string };
}
