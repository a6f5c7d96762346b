// Identity of the GCE resources: every resource is `<cluster>-<role>...`, carries the same
// three labels (so billing, audits and `gcloud ... --filter` agree on what belongs to which
// cluster), and each VM role (each etcd member apart) runs as its own service account with the
// least it needs.
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
 * A service account id for a role, or for one member (`etcd-0`): `<cluster>-<role>` when it fits
 * GCE's rule (6-30 of a-z 0-9 -, starting with a letter, not ending with -); otherwise the cluster
 * part is shortened and a hash of the full name keeps ids of different clusters apart (a 24-character
 * cluster name plus `-worker` is 31). The role part is never cut, so every id still says what it is.
 */
export function serviceAccountId(clusterName: string, role: string): string {
    const full = `${clusterName}-${role}`;
    if (full.length <= 30) return full;
    const hash = crypto.createHash("sha256").update(full).digest("hex").slice(0, 4);
    const room = 30 - role.length - hash.length - 2;
    const prefix = clusterName.slice(0, room).replace(/-+$/, "");
    return `${prefix}-${hash}-${role}`;
}

/**
 * The OAuth scope of every cluster VM. Secret Manager has no narrower scope than cloud-platform (its
 * API lists only that one), and a machine reads its certificates from Secret Manager at every boot.
 * A scope only caps what a token may ask for; what the VM may do is its service account's IAM
 * roles: VM_ROLES on the project, plus secretAccessor on its own TLS secret (tls-secrets.ts).
 */
export const VM_SCOPES: readonly string[] = ["https://www.googleapis.com/auth/cloud-platform"];

/** The only project roles a VM's service account holds: writing its logs and metrics. */
export const VM_ROLES: readonly string[] = ["roles/logging.logWriter", "roles/monitoring.metricWriter"];

/**
 * A dedicated service account for the VMs of one role (the workers share one: every worker holds
 * the same identities), allowed only to write logs and metrics on the project. Without it GCE would
 * run the VMs as the project's default compute account, which usually holds Editor on the whole
 * project.
 */
export function createRoleServiceAccount(config: ClusterConfig, role: "etcd" | "worker", parent: pulumi.Resource): gcp.serviceaccount.Account {
    return vmServiceAccount(config, role, `VMs of role ${role} in cluster ${config.name}: log and metric writes only`, parent);
}

/**
 * A member's own service account: the same project roles as any VM, and the only principal that may
 * read that member's TLS secret (its server and peer keys), so no member can read another's.
 */
export function createMemberServiceAccount(config: ClusterConfig, member: { name: string; index: number }, parent: pulumi.Resource): gcp.serviceaccount.Account {
    return vmServiceAccount(
        config,
        `etcd-${member.index}`,
        `etcd member ${member.name} of cluster ${config.name}: log and metric writes, and reading its own TLS secret`,
        parent,
    );
}

function vmServiceAccount(config: ClusterConfig, idRole: string, description: string, parent: pulumi.Resource): gcp.serviceaccount.Account {
    const name = resourceName(config.name, idRole);
    const account = new gcp.serviceaccount.Account(
        name,
        {
            accountId: serviceAccountId(config.name, idRole),
            displayName: `${name} (${config.environment})`,
            description,
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
