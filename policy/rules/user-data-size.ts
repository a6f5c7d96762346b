// GCE refuses a metadata value over 256 KiB and all metadata of a VM over 512 KiB. The API
// error comes only at create time, halfway through an update; the policy stops it at preview.
import { PlainResource, describe, isLocalMachine, isRecord, isVm } from "./resource-data";

/** Same value as cloud-config's GCE_USER_DATA_LIMIT_BYTES. */
export const GCE_USER_DATA_LIMIT_BYTES = 262144;
export const GCE_TOTAL_METADATA_LIMIT_BYTES = 524288;

function bytes(text: string): number {
    return Buffer.byteLength(text, "utf8");
}

/** The `user-data` metadata value of a VM or template, if any. */
export function userDataOf(resource: PlainResource): string | undefined {
    const metadata = resource.props.metadata;
    if (!isRecord(metadata)) return undefined;
    const value = metadata["user-data"];
    return typeof value === "string" ? value : undefined;
}

/** The cloud-config a machine boots: a GCE VM's `user-data`, or a local machine's userData input. */
export function machineUserData(resource: PlainResource): string | undefined {
    if (isLocalMachine(resource)) return resource.props.userData as string;
    return isVm(resource) ? userDataOf(resource) : undefined;
}

export function userDataSizeViolations(resource: PlainResource): string[] {
    if (!isVm(resource)) return [];
    const metadata = resource.props.metadata;
    if (!isRecord(metadata)) return [];
    const violations: string[] = [];
    const userData = userDataOf(resource);
    if (userData !== undefined && bytes(userData) > GCE_USER_DATA_LIMIT_BYTES) {
        violations.push(
            `user-data of ${describe(resource)} is ${bytes(userData)} bytes; GCE accepts at most ` +
                `${GCE_USER_DATA_LIMIT_BYTES} bytes (256 KiB) per metadata value. Move large files out of the ` +
                `cloud-config (fetch them at boot) or shrink the fleet units and services it carries.`,
        );
    }
    let total = 0;
    for (const [key, value] of Object.entries(metadata)) total += bytes(key) + bytes(String(value ?? ""));
    if (total > GCE_TOTAL_METADATA_LIMIT_BYTES) {
        violations.push(
            `metadata of ${describe(resource)} totals ${total} bytes; GCE accepts at most ` +
                `${GCE_TOTAL_METADATA_LIMIT_BYTES} bytes (512 KiB) of metadata per VM.`,
        );
    }
    return violations;
}
