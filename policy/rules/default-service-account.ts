// The project's default compute service account usually holds Editor on the whole
// project: any process on a VM running as it can change the project. Cluster VMs run as
// their own per-role accounts that may only write logs and metrics (components/gcp/labels.ts).
import { PlainResource, describe, isRecord, isVm } from "./resource-data";

const DEFAULT_COMPUTE_ACCOUNT = /^\d+-compute@developer\.gserviceaccount\.com$/;

export function defaultServiceAccountViolations(resource: PlainResource): string[] {
    if (!isVm(resource)) return [];
    const account = resource.props.serviceAccount;
    // No serviceAccount block: the VM runs with no account at all, which is not this risk.
    if (!isRecord(account)) return [];
    const email = account.email;
    const isDefault = email === undefined || email === "" || email === "default" || DEFAULT_COMPUTE_ACCOUNT.test(String(email));
    if (!isDefault) return [];
    return [
        `${describe(resource)} runs as the default compute service account (${email ? String(email) : "no email given"}); ` +
            `give each role its own account with only roles/logging.logWriter and roles/monitoring.metricWriter.`,
    ];
}
