// Rolling a new worker template must not take serving capacity away: new VMs come up first
// (surge) and an old one goes only when its replacement is healthy (max unavailable 0).
// GCE's defaults do the opposite for a regional group: as many unavailable as it has zones.
import { GROUP_MANAGER_TYPES, PlainResource, TYPES, asArray, describe, isRecord } from "./resource-data";

function positive(value: unknown): boolean {
    return typeof value === "number" && value > 0;
}

export function workerGroupCapacityViolations(resource: PlainResource): string[] {
    if (!GROUP_MANAGER_TYPES.includes(resource.type)) return [];
    const policy = resource.props.updatePolicy;
    const what = `worker group ${describe(resource)}`;
    if (!isRecord(policy)) {
        return [
            `${what} has no updatePolicy: GCE's default lets an update take instances down before their ` +
                `replacements run. Set updatePolicy { maxUnavailableFixed: 0, maxSurgeFixed: >0, minimalAction: "REPLACE" }.`,
        ];
    }
    const violations: string[] = [];
    if (policy.maxUnavailableFixed !== 0 || positive(policy.maxUnavailablePercent)) {
        const current =
            policy.maxUnavailablePercent !== undefined
                ? `maxUnavailablePercent ${policy.maxUnavailablePercent}`
                : `maxUnavailableFixed ${policy.maxUnavailableFixed ?? "unset (GCE default: one per zone)"}`;
        violations.push(`${what} may lose capacity during updates (${current}); set updatePolicy.maxUnavailableFixed: 0.`);
    }
    if (!positive(policy.maxSurgeFixed) && !positive(policy.maxSurgePercent)) {
        violations.push(
            `${what} has no surge (maxSurgeFixed ${policy.maxSurgeFixed ?? "unset"}); with maxUnavailable 0 an update ` +
                `could never replace an instance. Set updatePolicy.maxSurgeFixed above 0.`,
        );
    }
    if (String(policy.replacementMethod ?? "").toUpperCase() === "RECREATE") {
        violations.push(`${what} uses replacementMethod RECREATE, which cannot surge; use SUBSTITUTE (the default).`);
    }
    const zones = asArray(resource.props.distributionPolicyZones).length;
    if (resource.type === TYPES.regionInstanceGroupManager && positive(policy.maxSurgeFixed) && zones > 0) {
        if ((policy.maxSurgeFixed as number) < zones) {
            violations.push(
                `${what} spans ${zones} zones but maxSurgeFixed is ${policy.maxSurgeFixed}; GCE requires a regional ` +
                    `group's fixed surge to be 0 or at least its number of zones.`,
            );
        }
    }
    return violations;
}
