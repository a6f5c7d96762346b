// Gathers `npm run local -- status` the way the deployer reaches the cluster, never around the
// firewall: each member's etcd through the stack's SSH tunnel (the bastion member's sshd, as the
// providers dial it), with mutual TLS as the stack's consumer identity (the `consumerCredentials`
// output: it may read the services prefix and nothing else of etcd's keyspace); the workers as the
// load balancer's health checker sees them (its status file: the stand-in for GCE's
// `gcloud compute backend-services get-health`, which reports the checker's view too). The key and
// the certificates stay in memory; errors pass through the etcd client's redaction.
import * as fs from "fs";
import * as path from "path";
import { openEtcdSession, EtcdConnectionArgs } from "../../components/etcd/etcd-client";
import { runningProcessPid } from "../../components/local/machine-process";
import type { BalancerStatus } from "../../components/local/balancer/config";
import type { LocalView } from "../../model/local-view";
import type { SshTunnelSpec } from "../../model/types";
import { memberIdHex, ServiceStatus, StatusReport, WorkerStatus } from "./status-table";

export interface StatusInputs {
    localCluster: LocalView;
    etcdMemberNames: string[];
    etcdClientUrls: string[];
    servicesPrefix: string;
    sshTunnel: { host: string; port: number; username: string; localVpc?: string };
    consumerCredentials: { ca: string; cert: string; key: string };
}

/** The variable local.sh hands the deployer's key in (Pulumi.local.yaml's sshTunnel.privateKeyEnv). */
export const TUNNEL_KEY_ENV = "COREOS_LOCAL_SSH_KEY";

function connection(inputs: StatusInputs, endpoints: string[], keyEnv: string): EtcdConnectionArgs {
    const tunnel: SshTunnelSpec = { ...inputs.sshTunnel, privateKeyEnv: keyEnv } as SshTunnelSpec;
    return { endpoints, tls: inputs.consumerCredentials, sshTunnel: tunnel, timeoutMs: 4000, retries: 0 };
}

/** The registered services, grouped from their keys (`<prefix>/<name>/scheme`, `hosts/<n>`, `host_port`). */
export function servicesFromKeys(keys: Record<string, string>, prefix: string): ServiceStatus[] {
    const root = prefix.endsWith("/") ? prefix : `${prefix}/`;
    const byName = new Map<string, ServiceStatus & { hostKeys: Array<[string, string]> }>();
    for (const [key, value] of Object.entries(keys)) {
        if (!key.startsWith(root)) continue;
        const [name, field, ...rest] = key.slice(root.length).split("/");
        if (!name || !field) continue;
        const s = byName.get(name) ?? { name, hosts: [], hostKeys: [] };
        byName.set(name, s);
        if (field === "scheme" && rest.length === 0) s.scheme = value;
        else if (field === "host_port" && rest.length === 0) s.hostPort = value;
        else if (field === "hosts" && rest.length === 1) s.hostKeys.push([rest[0], value]);
    }
    return [...byName.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map(({ hostKeys, ...s }) => ({ ...s, hosts: hostKeys.sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true })).map(([, h]) => h) }));
}

/** The workers as the load balancer's health checker last saw them. */
export function workersFromBalancer(view: LocalView, status: BalancerStatus | undefined): WorkerStatus[] {
    return view.machines
        .filter((m) => m.role === "worker")
        .map((w) => {
            const b = status?.backends[w.name];
            return {
                name: w.name,
                address: w.address,
                inRotation: b?.loadBalancer.healthy ?? false,
                ...(b?.loadBalancer.last ? { lastProbe: b.loadBalancer.last } : {}),
                ...(b?.report ? { report: b.report as WorkerStatus["report"] } : {}),
                recreations: b?.recreations ?? 0,
                recreating: b?.recreating ?? false,
            };
        });
}

function readBalancer(root: string): BalancerStatus | undefined {
    try {
        return JSON.parse(fs.readFileSync(path.join(root, "status.json"), "utf8"));
    } catch {
        return undefined;
    }
}

export async function gatherStatus(inputs: StatusInputs, keyEnv = TUNNEL_KEY_ENV): Promise<StatusReport> {
    const view = inputs.localCluster;
    const memberIds: Record<string, string> = {};
    const members = await Promise.all(
        inputs.etcdMemberNames.map(async (name, i) => {
            const address = view.machines.find((m) => m.name === name)?.address ?? new URL(inputs.etcdClientUrls[i]).hostname;
            const session = openEtcdSession(connection(inputs, [inputs.etcdClientUrls[i]], keyEnv));
            try {
                const status = await session.run("status", (c) => c.maintenance.status());
                const list = await session.run("member list", (c) => c.cluster.memberList({})).catch(() => undefined);
                for (const m of list?.members ?? []) if (m.name) memberIds[memberIdHex(m.ID)] = m.name;
                return { name, address, status: { memberId: status.header.member_id, leaderId: status.leader, version: status.version, raftTerm: status.raftTerm } };
            } catch (err) {
                return { name, address, error: (err as Error).message.replace(/^etcd status failed after .*?: /, "") };
            } finally {
                await session.close();
            }
        }),
    );
    let services: ServiceStatus[] = [];
    let servicesError: string | undefined;
    const session = openEtcdSession(connection(inputs, inputs.etcdClientUrls, keyEnv));
    try {
        const keys = await session.run("read services", (c) => c.getAll().prefix(inputs.servicesPrefix.endsWith("/") ? inputs.servicesPrefix : `${inputs.servicesPrefix}/`).strings());
        services = servicesFromKeys(keys, inputs.servicesPrefix);
    } catch (err) {
        servicesError = (err as Error).message;
    } finally {
        await session.close();
    }
    const lb = view.loadBalancer;
    const balancer = readBalancer(lb.root);
    const running = runningProcessPid(lb.root, "load-balancer") !== undefined;
    return {
        members,
        memberIds,
        workers: workersFromBalancer(view, running ? balancer : undefined),
        loadBalancer: { name: lb.name, address: lb.address, ports: lb.ports, running, ...(running && !balancer ? { problem: "no status file yet" } : {}) },
        services,
        ...(servicesError ? { servicesError } : {}),
    };
}
