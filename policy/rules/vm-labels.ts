// Every VM says which cluster, environment and role it belongs to: billing, audits, the
// other policies (etcd count, prod protection) and `gcloud --filter` all depend on it.
import { CLUSTER_LABELS, PlainResource, describe, isVm, labelsOf } from "./resource-data";

export function vmLabelViolations(resource: PlainResource): string[] {
    if (!isVm(resource)) return [];
    const labels = labelsOf(resource);
    const missing = CLUSTER_LABELS.filter((key) => !labels[key] || labels[key].trim() === "");
    if (missing.length === 0) return [];
    return [
        `${describe(resource)} lacks the cluster label${missing.length === 1 ? "" : "s"} ${missing.join(", ")}; ` +
            `every VM and instance template carries cluster, environment and role (components/gcp/labels.ts resourceLabels).`,
    ];
}
