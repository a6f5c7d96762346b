// Rendered text proves itself: coreos-cloudinit reads user-data with go-yaml, which follows
// YAML 1.1; this project's validator, tests and local platform read it with YAML 1.2. A text
// both read alike cannot hide a second meaning (an extra SSH key behind a U+2028, a `yes` that
// is a boolean to one reader), so every rendering is parsed under both versions, after the
// `$private_ipv4` substitution coreos-cloudinit does as well, and must give one and the same
// document. Pure.

import YAML, { isMap, isPair, isScalar, isSeq, LineCounter, Node } from "yaml";
import { substituteAddresses } from "./inspect";
import { LONE_SURROGATE, SECTION_CONFIG_KEYS, VARIABLE_CONFIG_KEYS } from "./value-safety";

export interface YamlDisagreement {
    /** Where in the document, e.g. `ssh_authorized_keys[1]`, `coreos.units[2].drop_ins[0].content`; `` for the whole text. */
    path: string;
    message: string;
    /** The config key the value at `path` comes from, when it is known (`coreos-cluster:etcdDiscoveryUrl`). */
    configKey?: string;
}

/**
 * Characters that may not appear raw in rendered text. YAML 1.1 reads NEL (U+0085), U+2028 and
 * U+2029 as line breaks where YAML 1.2 reads ordinary characters; neither allows other C0/C1
 * controls, DEL, U+FFFE/U+FFFF or a byte order mark inside the document; a raw carriage return
 * is a line break to both but never written by the renderer. Escaped (`\u2028`) they are fine.
 */
const RAW_FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

type Version = "1.1" | "1.2";

/** The metadata server's answers for a VM without an external IP: `$public_ipv4` becomes empty. */
const SAMPLE_ADDRESSES = { privateIpv4: "10.0.0.2", publicIpv4: "" };

type Step = string | number;

function formatPath(steps: Step[]): string {
    return steps.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

function describeCharacter(ch: string): string {
    return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The path of the innermost node whose source range holds `offset`. */
function pathAt(node: unknown, offset: number, steps: Step[] = []): Step[] {
    if (isMap(node)) {
        for (const pair of node.items) {
            if (!isPair(pair)) continue;
            const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
            const value = pair.value as Node | null;
            const keyRange = (pair.key as Node | null)?.range;
            if (keyRange && offset >= keyRange[0] && offset < keyRange[2]) return [...steps, key];
            if (value?.range && offset >= value.range[0] && offset < value.range[2]) return pathAt(value, offset, [...steps, key]);
        }
    } else if (isSeq(node)) {
        for (const [i, item] of node.items.entries()) {
            const range = (item as Node | null)?.range;
            if (range && offset >= range[0] && offset < range[2]) return pathAt(item, offset, [...steps, i]);
        }
    }
    return steps;
}

/** First differing path between two plain JS values read from YAML, or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, steps: Step[] = []): { steps: Step[]; a: unknown; b: unknown } | undefined {
    if (Object.is(a, b)) return undefined;
    const plain = (v: unknown) => v === null || ["string", "number", "boolean"].includes(typeof v) || Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype;
    if (!plain(a) || !plain(b)) return { steps, a, b }; // a Date, Set, Map or binary from one schema only
    if (Array.isArray(a) && Array.isArray(b)) {
        for (let i = 0; i < Math.max(a.length, b.length); i++) {
            if (i >= a.length || i >= b.length) return { steps: [...steps, i], a: a[i], b: b[i] };
            const d = firstDifference(a[i], b[i], [...steps, i]);
            if (d) return d;
        }
        return undefined;
    }
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
        const ka = Object.keys(a);
        const kb = Object.keys(b);
        for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
            if (ka[i] !== kb[i]) return { steps: [...steps, ka[i] ?? kb[i]], a: (a as Record<string, unknown>)[ka[i]], b: (b as Record<string, unknown>)[kb[i]] };
            const d = firstDifference((a as Record<string, unknown>)[ka[i]], (b as Record<string, unknown>)[ka[i]], [...steps, ka[i]]);
            if (d) return d;
        }
        return undefined;
    }
    return { steps, a, b };
}

/** The first line on which two texts differ (for naming the Environment= variable behind it). */
function firstDifferentLine(a: unknown, b: unknown): string | undefined {
    if (typeof a !== "string" && typeof b !== "string") return undefined;
    const la = typeof a === "string" ? a.split("\n") : [];
    const lb = typeof b === "string" ? b.split("\n") : [];
    for (let i = 0; i < Math.max(la.length, lb.length); i++) if (la[i] !== lb[i]) return la[i] ?? lb[i];
    return undefined;
}

/** The config key behind a document path (and the text there), as far as it is known. */
export function configKeyOf(path: string, text?: string): string | undefined {
    const ssh = /^ssh_authorized_keys(\[\d+\])?/.exec(path);
    if (ssh) return `coreos-cluster:sshAuthorizedKeys${ssh[1] ?? ""}`;
    if (path === "hostname") return "coreos-cluster:clusterName";
    const section = /^coreos\.(etcd2|fleet|locksmith)\.([a-z_]+)$/.exec(path);
    if (section && SECTION_CONFIG_KEYS[`${section[1]}.${section[2]}`]) return `coreos-cluster:${SECTION_CONFIG_KEYS[`${section[1]}.${section[2]}`]}`;
    if (path === "coreos.update.reboot_strategy") return "coreos-cluster:rebootStrategy";
    const variable = text === undefined ? undefined : /Environment="?([A-Za-z_][A-Za-z0-9_]*)=/.exec(text);
    if (variable && VARIABLE_CONFIG_KEYS[variable[1]]) return `coreos-cluster:${VARIABLE_CONFIG_KEYS[variable[1]]}`;
    return undefined;
}

function disagreement(path: string, message: string, text?: string): YamlDisagreement {
    const configKey = configKeyOf(path, text);
    return { path, message, ...(configKey ? { configKey } : {}) };
}

/** Parses `text` as exactly one YAML document of `version` with no error or warning. */
function readOne(text: string, version: Version, lineCounter?: LineCounter): { value?: unknown; problem?: YamlDisagreement; doc?: YAML.Document.Parsed } {
    const docs = YAML.parseAllDocuments(text, { version, uniqueKeys: true, lineCounter });
    if (!Array.isArray(docs)) return { problem: disagreement("", `YAML ${version} reads no document`) };
    if (docs.length !== 1) return { problem: disagreement("", `YAML ${version} reads ${docs.length} documents, not one`) };
    const doc = docs[0];
    const issue = [...doc.errors, ...doc.warnings][0];
    if (issue) {
        const path = formatPath(pathAt(doc.contents, issue.pos[0]));
        return { problem: disagreement(path, `YAML ${version}: ${issue.message.split("\n")[0]}`) };
    }
    try {
        // The renderer writes no anchors or aliases; a text with one is not the renderer's.
        return { value: doc.toJS({ maxAliasCount: 0 }), doc };
    } catch (err) {
        return { problem: disagreement("", `YAML ${version}: ${(err as Error).message}`) };
    }
}

/**
 * Where libyaml (and go-yaml, its port) read a literal or folded block otherwise than the `yaml`
 * library. Without an indentation indicator, libyaml takes every space of the leading blank lines
 * as indentation (the `yaml` library may read some as text) and stops at a tab right after the
 * indentation of the first line (the `yaml` library reads it as text).
 */
function blockScalarProblem(doc: YAML.Document.Parsed, text: string): { offset: number; message: string } | undefined {
    let found: { offset: number; message: string } | undefined;
    YAML.visit(doc, {
        Scalar(_key, node) {
            if (found || (node.type !== "BLOCK_LITERAL" && node.type !== "BLOCK_FOLDED") || typeof node.value !== "string" || !node.range) return;
            const header = text.slice(node.range[0], text.indexOf("\n", node.range[0]));
            if (/\d/.test(header)) return; // an explicit indentation indicator: no detection
            const lines = node.value.split("\n");
            const first = lines.findIndex((line) => !/^[ \t]*$/.test(line)); // YAML blanks: space and tab only
            const leading = first < 0 ? lines : lines.slice(0, first);
            if (leading.some((line) => line !== "")) {
                found = { offset: node.range[0], message: "a block whose leading blank lines hold spaces or tabs: libyaml and go-yaml take them as indentation, YAML 1.2 here reads them as text" };
            } else if (first >= 0 && lines[first].startsWith("\t")) {
                found = { offset: node.range[0], message: "a block whose first line starts with a tab: libyaml and go-yaml refuse the text, YAML 1.2 here reads it" };
            }
        },
    });
    return found;
}

/** The path of the first string for which `test` holds. */
function firstString(value: unknown, test: (s: string) => boolean, steps: Step[] = []): Step[] | undefined {
    if (typeof value === "string") return test(value) ? steps : undefined;
    if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) {
            const found = firstString(v, test, [...steps, i]);
            if (found) return found;
        }
    } else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            const found = firstString(k, test, [...steps, k]) ?? firstString(v, test, [...steps, k]);
            if (found) return found;
        }
    }
    return undefined;
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
    if (typeof value === "string") return f(value);
    if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
    }
    return value;
}

/**
 * The first way YAML 1.1 and YAML 1.2 would read `text` differently, or undefined when they read
 * one and the same document: no raw character either version treats specially, exactly one
 * document without error or warning under each, equal values everywhere; YAML 1.1 reads the text
 * after coreos-cloudinit's `$private_ipv4` / `$public_ipv4` substitution, which may change
 * nothing but those very words.
 */
export function yamlDisagreement(text: string): YamlDisagreement | undefined {
    return readBothVersions(text).disagreement;
}

/** The YAML 1.2 reading of a text both versions agree on, with its line counter: what validateCloudConfig reads. */
export interface AgreedYaml {
    doc: YAML.Document.Parsed;
    lines: LineCounter;
}

/**
 * yamlDisagreement, and when there is none, the YAML 1.2 document it read, so the validator need not
 * parse the same text again (three parses per machine were a quarter of rendering's time).
 */
export function readBothVersions(text: string): { disagreement?: YamlDisagreement; agreed?: AgreedYaml } {
    const lines = new LineCounter();
    let ours: YAML.Document.Parsed | undefined;
    const disagreement = firstDisagreement(text, lines, (doc) => (ours = doc));
    return disagreement ? { disagreement } : { agreed: { doc: ours!, lines } };
}

/** `keepOurs` receives the YAML 1.2 document (parsed with `lines`) once it read without error. */
function firstDisagreement(text: string, lines: LineCounter, keepOurs: (doc: YAML.Document.Parsed) => void): YamlDisagreement | undefined {
    const raw = RAW_FORBIDDEN.exec(text) ?? LONE_SURROGATE.exec(text);
    if (raw) {
        const doc = YAML.parseDocument(text, { version: "1.2" });
        const path = formatPath(pathAt(doc.contents, raw.index));
        const lineStart = text.lastIndexOf("\n", raw.index) + 1;
        const lineEnd = text.indexOf("\n", raw.index);
        const line = text.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
        return disagreement(path, `raw ${describeCharacter(raw[0])} in the text: YAML 1.1 reads NEL, U+2028 and U+2029 as line breaks and allows no control characters raw, YAML 1.2 reads them otherwise`, line.trim());
    }
    // coreos-cloudinit parses the text after its address substitution (here the worst case: a VM
    // without an external IP, whose $public_ipv4 is empty), with YAML 1.1; our readers parse the
    // rendered text with YAML 1.2. The two must give the same document, but for those very words.
    const substituted = substituteAddresses(text, SAMPLE_ADDRESSES);
    const cloudinit = readOne(substituted, "1.1");
    if (cloudinit.problem) return substituted === text ? cloudinit.problem : { ...cloudinit.problem, message: `after the $private_ipv4/$public_ipv4 substitution: ${cloudinit.problem.message}` };
    const ours = readOne(text, "1.2", lines);
    if (ours.problem) return ours.problem;
    keepOurs(ours.doc!);
    const block = blockScalarProblem(ours.doc!, text);
    if (block) return disagreement(formatPath(pathAt(ours.doc!.contents, block.offset)), block.message);
    const surrogate = firstString(ours.value, (s) => LONE_SURROGATE.test(s));
    if (surrogate) return disagreement(formatPath(surrogate), "an escaped lone UTF-16 surrogate: YAML 1.2 here reads it, go-yaml and libyaml refuse the whole text");
    const expected = substituted === text ? ours.value : mapStrings(ours.value, (s) => substituteAddresses(s, SAMPLE_ADDRESSES));
    const diff = firstDifference(cloudinit.value, expected);
    if (diff) {
        const path = formatPath(diff.steps);
        return disagreement(path, `YAML 1.1 (coreos-cloudinit) reads ${JSON.stringify(diff.a) ?? String(diff.a)}, YAML 1.2 reads ${JSON.stringify(diff.b) ?? String(diff.b)}`, firstDifferentLine(diff.a, diff.b));
    }
    return undefined;
}
