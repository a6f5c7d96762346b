// What both flavor emitters share: the top-level keys, unit/file shapes and the
// one place YAML text is produced.

import YAML from "yaml";
import { MachineModel, UnitSpec, WriteFileSpec } from "./model";
import { LONE_SURROGATE } from "./value-safety";

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

/** Plain scalars a YAML 1.1 reader gives a meaning of their own (merge key, value key): always quoted. */
const ALWAYS_QUOTED = new Set(["<<", "="]);

/**
 * What Go's strconv (behind go-yaml, which coreos-cloudinit uses) may read as a number even where
 * the `yaml` library's 1.1 schema reads a string: base prefixes in any case, `_` separators,
 * hex floats. Conservative: such a value is quoted, which never changes what it means.
 */
const NUMBER_LIKE = /^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]+)?|\.[0-9][0-9_]*(?:[eE][-+]?[0-9_]+)?|0[xXoObB][0-9a-fA-F_.]*(?:[pP][-+]?[0-9_]+)?|\.?(?:inf|infinity|nan))$/i;

/**
 * Characters that may not appear raw in the text: YAML 1.1 reads NEL (U+0085), U+2028 and U+2029
 * as line breaks where YAML 1.2 reads ordinary characters, and neither allows C0/C1 controls, DEL,
 * a byte order mark inside a document or the non-characters U+FFFE/U+FFFF. A string holding any
 * of them is double-quoted and they are written as `\uXXXX` escapes, which both versions read alike.
 */
const ESCAPE_ONLY = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
const ESCAPE_ONLY_ALL = new RegExp(ESCAPE_ONLY.source, "g");

const VERSIONS = ["1.1", "1.2"] as const;

/** Answers of readsAsItself: renderings repeat the same scalars machine after machine. */
const readsAsItselfMemo = new Map<string, boolean>();

/** True when the plain text `value` reads back as that very string under YAML 1.1 and 1.2 alike. */
function readsAsItself(value: string): boolean {
    const known = readsAsItselfMemo.get(value);
    if (known !== undefined) return known;
    let answer = true;
    for (const version of VERSIONS) {
        const doc = YAML.parseDocument(value, { version });
        try {
            if (doc.errors.length > 0 || doc.warnings.length > 0 || doc.toJS({ maxAliasCount: 0 }) !== value) answer = false;
        } catch {
            answer = false; // e.g. `*a`, an alias
        }
    }
    if (readsAsItselfMemo.size >= 4096) readsAsItselfMemo.clear();
    readsAsItselfMemo.set(value, answer);
    return answer;
}

/** Whether a string scalar must be written double-quoted to mean the same to every YAML reader. */
export function needsDoubleQuotes(value: string): boolean {
    if (ESCAPE_ONLY.test(value)) return true;
    // Multi-line text goes in a literal block, where no type is resolved (the library quotes it when it
    // must), unless a line starts with a tab or is only blanks: libyaml and go-yaml refuse a tab where
    // they detect a block's indentation and count a leading blank line as indentation, where the
    // `yaml` library reads them as text.
    if (value.includes("\n")) return /(?:^|\n)(?:\t|[ \t]+(?:\n|$))/.test(value);
    return ALWAYS_QUOTED.has(value) || NUMBER_LIKE.test(value) || !readsAsItself(value);
}

/**
 * YAML 1.1 output: coreos-cloudinit parses with a YAML 1.1 library (go-yaml), this project's
 * validator with YAML 1.2, so every string must mean the same to both: strings such as `on`, `off`,
 * `04:00`, `0o17` or `1_000` come out quoted, and a string holding a character YAML 1.1 reads as a
 * line break (NEL, U+2028, U+2029) or does not allow raw comes out double-quoted with `\u`
 * escapes. Literal blocks keep unit files readable; no line folding, no multi-line quoted
 * scalars. yaml-agreement.ts checks the result under both versions.
 */
export function stringifyCloudConfig(document: Record<string, unknown>): string {
    const doc = new YAML.Document(document, { version: "1.1" });
    YAML.visit(doc, {
        Scalar(_key, node) {
            if (typeof node.value !== "string") return;
            // go-yaml and libyaml refuse the escape of half a surrogate pair: the whole user-data would be lost.
            if (LONE_SURROGATE.test(node.value)) throw new Error(`a string holds a lone UTF-16 surrogate, which no YAML 1.1 reader accepts: ${JSON.stringify(node.value.slice(0, 60))}`);
            if (!needsDoubleQuotes(node.value)) return;
            node.type = "QUOTE_DOUBLE";
            // The 1.1 schema claims the string `<<` as its merge key and writes it plain whatever the type says.
            if (node.value === "<<") node.tag = "tag:yaml.org,2002:str";
        },
    });
    const text = doc.toString({ blockQuote: "literal", lineWidth: 0, doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER });
    // Only double-quoted scalars can hold these now (see needsDoubleQuotes), where \uXXXX is an escape.
    return CLOUD_CONFIG_HEADER + text.replace(ESCAPE_ONLY_ALL, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
