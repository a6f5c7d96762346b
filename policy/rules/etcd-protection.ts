// A production etcd member is never deleted or replaced by an update: a replaced member
// comes back empty with initial-cluster-state=new and cannot rejoin, and two careless
// replacements lose quorum. Pulumi's `protect` stops `pulumi up`/`destroy` from deleting
// it; GCE's deletionProtection stops everything else (console, gcloud, another tool).
// Replacing a member is a manual, documented operation (docs/delivery.md).
import { PlainResource, TYPES, environmentOf, isProductionContext, labelsOf, StackContext } from "./resource-data";

export function isEtcdMember(resource: PlainResource): boolean {
    return resource.type === TYPES.instance && labelsOf(resource).role === "etcd";
}

export function etcdProtectionViolations(resource: PlainResource, ctx: StackContext): string[] {
    if (!isEtcdMember(resource)) return [];
    const environment = environmentOf(resource, ctx);
    if (!isProductionContext(resource, ctx)) return [];
    const violations: string[] = [];
    if (resource.protect !== true) {
        violations.push(
            `etcd member ${resource.name} in environment "${environment}" is not protected: set the resource ` +
                `option protect: true (coreos-cluster:protectMembers, always true in prod) so no update can delete or replace it.`,
        );
    }
    if (resource.props.deletionProtection !== true) {
        violations.push(
            `etcd member ${resource.name} in environment "${environment}" has no GCE deletionProtection: ` +
                `set deletionProtection: true so it cannot be deleted outside Pulumi either.`,
        );
    }
    return violations;
}
