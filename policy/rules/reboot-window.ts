// With reboot_strategy etcd-lock or reboot, machines reboot into OS updates whenever one
// is downloaded: locksmith only serialises them. A window (coreos-cluster:rebootWindowStart
// and rebootWindowLength) keeps those reboots to an agreed, quiet time.
import { parse } from "yaml";
import { CONFIG_NAMESPACE, Finding, PlainResource, StackContext, configValue, isRecord } from "./resource-data";
import { machineUserData } from "./user-data-size";

const ADVICE =
    `set ${CONFIG_NAMESPACE}:rebootWindowStart and ${CONFIG_NAMESPACE}:rebootWindowLength (e.g. "Sun 04:00" and "2h"), ` +
    `or rebootStrategy off if reboots are handled another way`;

/**
 * Why a cloud-config lets the machine reboot at any time, or undefined when it does not:
 * the reboot strategy is off, or a window is set either in `coreos.locksmith` (Container
 * Linux) or as REBOOT_WINDOW_* variables of a locksmithd drop-in (Flatcar).
 */
export function userDataRebootWindowProblem(userData: string): string | undefined {
    let doc: unknown;
    try {
        doc = parse(userData);
    } catch {
        return undefined; // not YAML: the cloud-config validator reports that, not this advice
    }
    const coreos = isRecord(doc) && isRecord(doc.coreos) ? doc.coreos : {};
    const update = isRecord(coreos.update) ? coreos.update : {};
    const strategy = typeof update.reboot_strategy === "string" ? update.reboot_strategy : "etcd-lock (default)";
    if (strategy === "off") return undefined;
    const locksmith = isRecord(coreos.locksmith) ? coreos.locksmith : {};
    if (locksmith.window_start && locksmith.window_length) return undefined;
    if (/REBOOT_WINDOW_START=\S/.test(userData) && /REBOOT_WINDOW_LENGTH=\S/.test(userData)) return undefined;
    return `reboot_strategy ${strategy} with no locksmith reboot window`;
}

function configRebootWindowProblem(ctx: StackContext): string | undefined {
    const hasProjectConfig = Object.keys(ctx.config).some((k) => k.startsWith(`${CONFIG_NAMESPACE}:`));
    if (!hasProjectConfig) return undefined;
    const strategy = configValue(ctx, "rebootStrategy") ?? "etcd-lock";
    if (strategy === "off") return undefined;
    if (configValue(ctx, "rebootWindowStart") && configValue(ctx, "rebootWindowLength")) return undefined;
    return `stack config: rebootStrategy ${strategy} with no reboot window`;
}

/**
 * Stack-level: every machine's user-data (GCE VMs and templates, local machines) should
 * carry a reboot window. Where no resource carries user-data, the stack config is checked.
 */
export function rebootWindowFindings(resources: PlainResource[], ctx: StackContext): Finding[] {
    const findings: Finding[] = [];
    let sawUserData = false;
    for (const r of resources) {
        const userData = machineUserData(r);
        if (userData === undefined) continue;
        sawUserData = true;
        const problem = userDataRebootWindowProblem(userData);
        if (problem) findings.push({ urn: r.urn, message: `${r.name}: ${problem}; machines may reboot at any hour: ${ADVICE}.` });
    }
    if (!sawUserData) {
        const problem = configRebootWindowProblem(ctx);
        if (problem) findings.push({ message: `${problem}; machines may reboot at any hour: ${ADVICE}.` });
    }
    return findings;
}
