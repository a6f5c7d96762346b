// What the `sshTunnel` stack output tells another stack or an operator (issue 23, item 8). On GCE
// the shipped stacks dial `localhost:2222`, the local end of an IAP tunnel the deploy job opens:
// copied as is, that address means nothing outside the job. So when the tunnel's host is a
// loopback address on GCE, the output also says what that end is and how to open it yourself:
// the member behind it, its zone and project, the gcloud command and the IAM role it needs. A
// bastion (any other host) is reachable as it is and gets no such note; the local platform's
// member addresses neither. Never the key. Pure.
import type { ClusterConfig, ClusterPlan, SshTunnelSpec } from "./types";

/** The role IAP TCP forwarding checks ("IAP-secured Tunnel User"). */
export const IAP_TUNNEL_ROLE = "roles/iap.tunnelResourceAccessor";

export interface IapTunnelNote {
    /** What host:port is: the local end of a tunnel, not an address of the cluster. */
    meaning: string;
    /** The VM at the other end (member 0, what the deploy jobs open) and the port IAP forwards to. */
    instance: string;
    zone: string;
    project: string;
    remotePort: number;
    /** The command that opens the same local end on an operator's machine. */
    command: string;
    /** What the caller needs, besides compute.instances.get on the VM. */
    requiredRole: string;
}

export interface TunnelOutput {
    host: string;
    port: number;
    username: string;
    localVpc?: string;
    /** Only for a loopback host on GCE: how to make host:port mean something where you are. */
    iap?: IapTunnelNote;
}

function isLoopback(host: string): boolean {
    return host === "localhost" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "::1";
}

export function tunnelOutput(tunnel: SshTunnelSpec | undefined, config: ClusterConfig, plan: ClusterPlan): TunnelOutput | null {
    if (!tunnel) return null;
    const base: TunnelOutput = { host: tunnel.host, port: tunnel.port, username: tunnel.username, ...(tunnel.localVpc ? { localVpc: tunnel.localVpc } : {}) };
    const member = plan.members[0];
    if (config.platform !== "gcp" || !isLoopback(tunnel.host) || !member) return base;
    const { project } = config.gcp;
    const localEnd = `${tunnel.host}:${tunnel.port}`;
    return {
        ...base,
        iap: {
            meaning: `${localEnd} is the local end of an IAP TCP tunnel to ${member.name}:22, open only where the tunnel runs (the deploy job); open your own with the command below, then dial ${localEnd} as ${tunnel.username}`,
            instance: member.name,
            zone: member.zone,
            project,
            remotePort: 22,
            command: `gcloud compute start-iap-tunnel ${member.name} 22 --local-host-port=${localEnd} --zone ${member.zone} --project ${project}`,
            requiredRole: IAP_TUNNEL_ROLE,
        },
    };
}
