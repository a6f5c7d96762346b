// Public face of cloud-config/: config + plan in, one validated #cloud-config per machine out.

import { ClusterPlan, ConfigValidationError, OsFlavor, RenderingConfig } from "../model/types";
import { buildMachineModels } from "./build";
import { MachineModel } from "./model";
import { renderContainerLinux } from "./render-container-linux";
import { renderFlatcar } from "./render-flatcar";
import { RenderedMachine } from "./rendered-machine";
import { formatIssue, validateCloudConfig } from "./validate";
import { readBothVersions } from "./yaml-agreement";

export { buildMachineModels } from "./build";
export { etcdEnvironmentOf, fleetEnvironmentOf } from "./inspect";
export type { MachineModel } from "./model";
export { userDataHash } from "./rendered-machine";
export type { RenderedMachine } from "./rendered-machine";
export { formatIssue, validateCloudConfig } from "./validate";
export type { Issue, IssueLevel, ValidationResult } from "./validate";
export { yamlDisagreement } from "./yaml-agreement";
export type { YamlDisagreement } from "./yaml-agreement";

/** GCE refuses a single metadata value above 256 KiB. */
export const GCE_USER_DATA_LIMIT_BYTES = 262144;

export function renderModel(model: MachineModel, flavor: OsFlavor): string {
    switch (flavor) {
        case "container-linux":
            return renderContainerLinux(model);
        case "flatcar":
            return renderFlatcar(model);
        default:
            throw new Error(`unknown OS flavor "${String(flavor)}" (coreos-cluster:osFlavor): use flatcar or container-linux`);
    }
}

/** Throws rather than hand a VM user-data that GCE would refuse or coreos-cloudinit would reject. */
function assertDeliverable(machine: RenderedMachine, config: RenderingConfig): void {
    const bytes = Buffer.byteLength(machine.userData, "utf8");
    if (bytes > GCE_USER_DATA_LIMIT_BYTES) {
        // Name the config values that make user-data grow, largest first, so the fix is obvious.
        const contributors = [
            { key: "coreos-cluster:sshAuthorizedKeys", bytes: Buffer.byteLength(config.ssh.authorizedKeys.join("\n"), "utf8") },
            { key: "coreos-cluster:fleetMetadata", bytes: Buffer.byteLength(JSON.stringify(config.fleet.metadata), "utf8") },
        ].sort((a, b) => b.bytes - a.bytes);
        throw new ConfigValidationError([
            {
                key: contributors[0].key,
                message:
                    `user-data of machine ${machine.name} (${machine.fileName}) would be ${bytes} bytes, over GCE's limit of ` +
                    `${GCE_USER_DATA_LIMIT_BYTES} bytes (256 KiB) for one metadata value; ` +
                    contributors.map((c) => `${c.key} contributes ${c.bytes} bytes`).join(", "),
            },
        ]);
    }
    // Rendered text proves itself: coreos-cloudinit's YAML 1.1 reader and our YAML 1.2 one must read one document.
    const { disagreement, agreed } = readBothVersions(machine.userData);
    if (disagreement) {
        const message =
            `rendered cloud-config of machine ${machine.name} (${machine.fileName}): YAML 1.1 (coreos-cloudinit) and YAML 1.2 ` +
            `would read different documents at ${disagreement.path || "the top"}: ${disagreement.message}`;
        if (disagreement.configKey) throw new ConfigValidationError([{ key: disagreement.configKey, message }]);
        throw new Error(message);
    }
    const { errors } = validateCloudConfig(machine.userData, agreed);
    if (errors.length > 0) {
        throw new Error(
            `rendered cloud-config of machine ${machine.name} (${machine.fileName}) is invalid:\n` +
                errors.map((e) => `  ${formatIssue(e)}`).join("\n"),
        );
    }
}

export function renderMachines(config: RenderingConfig, plan: ClusterPlan): RenderedMachine[] {
    const machines = buildMachineModels(config, plan).map((model) => ({
        name: model.name,
        role: model.role,
        fileName: model.fileName,
        userData: renderModel(model, config.os.flavor),
    }));
    machines.forEach((machine) => assertDeliverable(machine, config));
    return machines;
}
