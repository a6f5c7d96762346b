// Identity of the GCE resources: every resource is `<cluster>-<role>...`, carries the same
// three labels (so billing, audits and `gcloud ... --filter` agree on what belongs to which
// cluster), and each VM role runs as its own service account with the least it needs.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig } from "../../model/types";

/** Roles that appear in resource names and in the `role` label. */
export type ResourceRole = "etcd" | "worker" | "network" | "ingress" | "firewall";

export type ResourceLabels = Record<"cluster" | "environment" | "role", string>;

// GCE label values: lowercase letters, digits, `-` and `_`, at most 63 characters.
function labelValue(value: string): string {
    return value.toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 63);
}

export function resourceLabels(config: ClusterConfig, role: ResourceRole): ResourceLabels {
    return {
        cluster: labelValue(config.name),
        environment: labelValue(config.environment),
        role,
    };
}

/** `<cluster>-<role>[-<suffix>]`, the name of the GCE resource and of its Pulumi resource. */
export function resourceName(clusterName: string, role: string, suffix?: string | number): string {
    return suffix === undefined ? `${clusterName}-${role}` : `${clusterName}-${role}-${suffix}`;
}

/**
 * A service account id for a role: `<cluster>-<role>` when it fits GCE's 6-30 character
 * rule; otherwise the cluster part is shortened and a hash of the full name keeps ids of
 * different clusters apart (a 24-character cluster name plus `-worker` is 31).
 */
export function serviceAccountId(clusterName: string, role: ResourceRole): string {
    const full = `${clusterName}-${role}`;
    if (full.length <= 30) return full;
    const hash = crypto.createHash("sha256").update(full).digest("hex").slice(0, 4);
    const room = 30 - role.length - hash.length - 2;
    const prefix = clusterName.slice(0, room).replace(/-+$/, "");
    return `${prefix}-${hash}-${role}`;
}

/** The only OAuth scopes cluster VMs get: writing their own logs and metrics. */
export const VM_SCOPES: readonly string[] = [
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring.write",
];

/** Project roles matching VM_SCOPES (scopes limit a token; roles grant the permission). */
export const VM_ROLES: readonly string[] = ["roles/logging.logWriter", "roles/monitoring.metricWriter"];

/**
 * A dedicated service account for one VM role, allowed only to write logs and metrics.
 * Without it GCE would run the VMs as the project's default compute account, which
 * usually holds Editor on the whole project.
 */
export function createRoleServiceAccount(
    config: ClusterConfig,
    role: "etcd" | "worker",
    parent: pulumi.Resource,
): gcp.serviceaccount.Account {
    const name = resourceName(config.name, role);
    const account = new gcp.serviceaccount.Account(
        name,
        {
            accountId: serviceAccountId(config.name, role),
            displayName: `${name} (${config.environment})`,
            description: `VMs of role ${role} in cluster ${config.name}: log and metric writes only`,
            project: config.gcp.project,
        },
        { parent },
    );
    for (const projectRole of VM_ROLES) {
        new gcp.projects.IAMMember(
            `${name}-${projectRole.replace(/^roles\//, "").replace(/\./g, "-")}`,
            {
                project: config.gcp.project,
                role: projectRole,
                member: pulumi.interpolate`serviceAccount:${account.email}`,
            },
            { parent },
        );
    }
    return account;
}
