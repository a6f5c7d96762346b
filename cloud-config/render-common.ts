// What both flavor emitters share: the top-level keys, unit/file shapes and the
// one place YAML text is produced.

import YAML from "yaml";
import { MachineModel, UnitSpec, WriteFileSpec } from "./model";

export const CLOUD_CONFIG_HEADER = "#cloud-config\n";

/** Drops undefined fields so the emitted mapping has only what was set, in model order. */
function compact<T extends object>(value: T): Partial<T> {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function unitEntry(unit: UnitSpec): Record<string, unknown> {
    return compact({
        name: unit.name,
        command: unit.command,
        enable: unit.enable,
        content: unit.content,
        drop_ins: unit.drop_ins && unit.drop_ins.length > 0 ? unit.drop_ins.map((d) => ({ name: d.name, content: d.content })) : undefined,
    });
}

export function writeFileEntry(file: WriteFileSpec): Record<string, unknown> {
    return { path: file.path, owner: file.owner, permissions: file.permissions, ...(file.encoding ? { encoding: file.encoding } : {}), content: file.content };
}

/** hostname, ssh keys and files: identical in both flavors. */
export function topLevel(model: MachineModel, writeFiles: WriteFileSpec[], coreos: Record<string, unknown>): Record<string, unknown> {
    return compact({
        hostname: model.hostname,
        ssh_authorized_keys: model.sshAuthorizedKeys.length > 0 ? [...model.sshAuthorizedKeys] : undefined,
        write_files: writeFiles.length > 0 ? writeFiles.map(writeFileEntry) : undefined,
        coreos,
    });
}

/**
 * YAML 1.1 output: coreos-cloudinit parses with a YAML 1.1 library, so strings such as
 * `on`, `off` or `04:00` must come out quoted or they would turn into booleans and
 * sexagesimal numbers there. Literal blocks keep unit files readable; no line folding.
 */
export function stringifyCloudConfig(document: Record<string, unknown>): string {
    return CLOUD_CONFIG_HEADER + YAML.stringify(document, { version: "1.1", blockQuote: "literal", lineWidth: 0 });
}
