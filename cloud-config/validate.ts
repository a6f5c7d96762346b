// A pure re-implementation of `coreos-cloudinit -validate` (rules in
// shared/reference/cloud-config.md), plus one rule of ours: dashed keys, which
// Flatcar's coreos-cloudinit silently ignores. Every issue carries a line number.

import * as path from "path";
import * as zlib from "zlib";
import YAML, { isMap, isScalar, isSeq, LineCounter, Node, Pair, Scalar } from "yaml";
import { cloudConfigSpec, FieldSpec, writeFile } from "./validate-schema";
import type { AgreedYaml } from "./yaml-agreement";

export type IssueLevel = "error" | "warning" | "info";

export interface Issue {
    line: number;
    level: IssueLevel;
    message: string;
}

export interface ValidationResult {
    errors: Issue[];
    warnings: Issue[];
    infos: Issue[];
}

class Collector {
    readonly issues: Issue[] = [];
    constructor(private readonly lines: LineCounter) {}

    lineOf(node: unknown): number {
        const range = (node as Node | undefined)?.range;
        return range ? this.lines.linePos(range[0]).line : 1;
    }

    add(level: IssueLevel, node: unknown, message: string): void {
        this.issues.push({ line: this.lineOf(node), level, message });
    }
}

function describe(value: unknown): string {
    if (isMap(value)) return "a mapping";
    if (isSeq(value)) return "a list";
    if (isScalar(value)) {
        const v = value.value;
        if (typeof v === "string") return `the string ${JSON.stringify(v)}`;
        return `${typeof v === "number" ? "the number" : typeof v === "boolean" ? "the boolean" : "the value"} ${String(v)}`;
    }
    return "an unsupported value";
}

function isNull(node: unknown): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
}

function checkScalar(spec: FieldSpec, node: unknown, where: string, out: Collector): void {
    if (!isScalar(node)) {
        out.add("warning", node, `${where}: incorrect type: want ${spec.type}, got ${describe(node)}`);
        return;
    }
    const value = (node as Scalar).value;
    const typeOk =
        (spec.type === "string" && typeof value === "string") ||
        (spec.type === "bool" && typeof value === "boolean") ||
        (spec.type === "int" && typeof value === "number" && Number.isInteger(value)) ||
        (spec.type === "float" && typeof value === "number");
    if (!typeOk) {
        // The pattern hint says how to write the value (e.g. quote a mode); enum hints are about values.
        const hint = spec.type === "string" && spec.pattern && spec.hint ? ` (${spec.hint})` : "";
        out.add("warning", node, `${where}: incorrect type: want ${spec.type}, got ${describe(node)}${hint}`);
        return;
    }
    if (spec.type !== "string" || typeof value !== "string") return;
    if (spec.enum && !spec.enum.includes(value)) {
        const hint = spec.hint ? `; ${spec.hint}` : "";
        out.add("error", node, `${where}: invalid value ${JSON.stringify(value)} (want one of: ${spec.enum.join(", ")}${hint})`);
    } else if (spec.pattern && !spec.pattern.test(value)) {
        const hint = spec.hint ? `; ${spec.hint}` : "";
        out.add("error", node, `${where}: invalid value ${JSON.stringify(value)} (must match ${spec.pattern.source}${hint})`);
    }
}

function decodeContent(content: string, encoding: string): void {
    const base64 = encoding.includes("64");
    const gzip = encoding.startsWith("gz");
    let bytes: Buffer;
    if (base64) {
        const compact = content.replace(/\s+/g, "");
        if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new Error("not valid base64");
        bytes = Buffer.from(compact, "base64");
    } else {
        bytes = Buffer.from(content, "latin1");
    }
    if (gzip) zlib.gunzipSync(bytes);
}

function checkWriteFile(node: YAML.YAMLMap, where: string, out: Collector): void {
    const pathNode = node.get("path", true);
    if (isScalar(pathNode) && typeof pathNode.value === "string") {
        const normalized = path.posix.normalize(pathNode.value);
        if (normalized === "/usr" || normalized.startsWith("/usr/")) {
            out.add("error", pathNode, `${where}.path: ${pathNode.value} is under /usr, which is read-only`);
        }
    }
    const encodingNode = node.get("encoding", true);
    const contentNode = node.get("content", true);
    const encoding = isScalar(encodingNode) ? encodingNode.value : undefined;
    const content = isScalar(contentNode) ? contentNode.value : undefined;
    const known = (writeFile as { fields: Record<string, FieldSpec> }).fields.encoding;
    if (typeof encoding !== "string" || typeof content !== "string") return;
    if (known.type !== "string" || !known.enum?.includes(encoding)) return;
    try {
        decodeContent(content, encoding);
    } catch (err) {
        out.add("error", contentNode, `${where}.content: cannot be decoded as ${encoding}: ${(err as Error).message}`);
    }
}

function checkMap(spec: Extract<FieldSpec, { type: "map" }>, node: YAML.YAMLMap, where: string, out: Collector): void {
    for (const pair of node.items as Pair[]) {
        const keyNode = pair.key;
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
        const child = where ? `${where}.${key}` : key;
        if (where === "coreos" && key === "write_files") {
            out.add("info", keyNode, "coreos.write_files: write_files is nested under coreos; it belongs at the top level");
            checkNode({ type: "list", of: writeFile }, pair.value, child, out);
            continue;
        }
        if (spec.anyKeys) continue;
        let fieldSpec = spec.fields[key];
        if (!fieldSpec && key.includes("-") && spec.fields[key.replace(/-/g, "_")]) {
            const underscored = key.replace(/-/g, "_");
            out.add(
                "warning",
                keyNode,
                `${child}: dashed key; the underscore form "${underscored}" is required (Flatcar's coreos-cloudinit ignores dashed keys)`,
            );
            fieldSpec = spec.fields[underscored];
        } else if (!fieldSpec) {
            out.add("warning", keyNode, `${child}: unrecognized key "${key}"`);
            continue;
        }
        if (fieldSpec.type === "map" && fieldSpec.deprecated) out.add("warning", keyNode, `${child}: deprecated: ${fieldSpec.deprecated}`);
        checkNode(fieldSpec, pair.value, child, out);
    }
    if (spec.writeFile) checkWriteFile(node, where, out);
}

function checkNode(spec: FieldSpec, node: unknown, where: string, out: Collector): void {
    if (isNull(node)) return;
    if (spec.type === "map") {
        if (!isMap(node)) return out.add("warning", node, `${where}: incorrect type: want a mapping, got ${describe(node)}`);
        return checkMap(spec, node, where, out);
    }
    if (spec.type === "list") {
        if (!isSeq(node)) return out.add("warning", node, `${where}: incorrect type: want a list, got ${describe(node)}`);
        node.items.forEach((item, i) => checkNode(spec.of, item, `${where}[${i}]`, out));
        return;
    }
    checkScalar(spec, node, where, out);
}

/**
 * Validates user-data as coreos-cloudinit would. `parsed` is the same text already read as YAML 1.2
 * with its line counter (readBothVersions in yaml-agreement.ts): then it is not parsed again.
 */
export function validateCloudConfig(text: string, parsed?: AgreedYaml): ValidationResult {
    const lines = parsed?.lines ?? new LineCounter();
    const out = new Collector(lines);
    const firstLine = text.split("\n", 1)[0].replace(/\r$/, "");
    if (firstLine !== "#cloud-config") {
        out.issues.push({ line: 1, level: "error", message: `the first line must be exactly "#cloud-config" (got ${JSON.stringify(firstLine)})` });
    }
    const doc = parsed?.doc ?? YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false });
    for (const err of [...doc.errors, ...doc.warnings]) {
        const line = err.linePos?.[0].line ?? lines.linePos(err.pos[0]).line;
        out.issues.push({ line, level: "error", message: `YAML: ${err.message.split("\n")[0]}` });
    }
    if (doc.errors.length === 0) {
        const root = doc.contents;
        if (!isNull(root) && !isMap(root)) {
            out.add("error", root, `the document must be a mapping of keys, got ${describe(root)}`);
        } else if (isMap(root)) {
            checkMap(cloudConfigSpec as Extract<FieldSpec, { type: "map" }>, root, "", out);
        }
    }
    const sorted = [...out.issues].sort((a, b) => a.line - b.line);
    return {
        errors: sorted.filter((i) => i.level === "error"),
        warnings: sorted.filter((i) => i.level === "warning"),
        infos: sorted.filter((i) => i.level === "info"),
    };
}

/** `line 12: error: ...`, the way coreos-cloudinit prints its report. */
export function formatIssue(issue: Issue): string {
    return `line ${issue.line}: ${issue.level}: ${issue.message}`;
}
