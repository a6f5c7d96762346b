// fleetd's request rules as the conformance server applies them: names, options, the unit-file
// round trip, the unit hash and page tokens. Written from shared/reference/fleet-api.md (rules and
// "Observed behaviour of real fleetd"), independently of model/fleet-rules.ts on purpose, so a
// mistake shared by the client's validation and the server cannot hide.
import * as crypto from "crypto";

export interface ConformanceUnitOption { section: string; name: string; value: string }
export type ConformanceState = "inactive" | "loaded" | "launched";

export const STATES: ConformanceState[] = ["inactive", "loaded", "launched"];
const SUFFIXES = ["automount", "busname", "device", "mount", "path", "scope", "service", "slice", "snapshot", "socket", "swap", "target", "timer"];
const TEMPLATE_SUFFIXES = ["path", "service", "socket", "target", "timer"];
const TRUE_VALUES = ["true", "yes", "1", "on", "t"];
export const LINE_MAX = 2048;

export class HttpError extends Error {
    constructor(public readonly status: number, message: string) { super(message); }
}

/** fleetd's name checks; instances are checked against template types too (`a@b.mount` is refused). */
export function nameError(name: string): string | undefined {
    if (name.length === 0) return "unit name cannot be empty";
    if (name.length > 256) return "unit name exceeds maximum length (256)";
    const dot = name.lastIndexOf(".");
    if (dot === -1) return `unit name must contain "."`;
    // systemd's unit name characters, backslash included: real fleetd accepts `p\x2d1.service`
    if (/[^A-Za-z0-9:_.@\\-]/.test(name)) return `invalid character in unit name "${name}"`;
    if (name[0] === "@") return `unit name cannot start in "@"`;
    const suffix = name.slice(dot + 1);
    if (dot === 0 || !SUFFIXES.includes(suffix)) return `invalid unit type "${suffix}"`;
    if (name.includes("@") && !TEMPLATE_SUFFIXES.includes(suffix)) return `invalid unit type for template: "${suffix}"`;
    return undefined;
}

export const isTemplate = (name: string) => /^[^@]+@\.[a-z]+$/.test(name);

/** The unit file text fleet stores (go-systemd's serialization: sections in order of first appearance). */
export function serializeUnit(options: ConformanceUnitOption[]): string {
    const sections = new Map<string, ConformanceUnitOption[]>();
    for (const o of options) sections.set(o.section, [...(sections.get(o.section) ?? []), o]);
    return [...sections].map(([s, opts]) => `[${s}]\n${opts.map((o) => `${o.name}=${o.value}\n`).join("")}`).join("\n");
}

/** Parses stored unit file text back into options, as fleetd does when a unit is read from its registry. */
export function parseUnit(text: string): ConformanceUnitOption[] {
    const out: ConformanceUnitOption[] = [];
    const lines = text.split("\n");
    let section = "";
    for (let i = 0; i < lines.length; i++) {
        let line = lines[i].trim();
        while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
        if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
        if (line.startsWith("[") && line.endsWith("]")) { section = line.slice(1, -1); continue; }
        const eq = line.indexOf("=");
        if (eq > 0) out.push({ section, name: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
    }
    return out;
}

/** What fleetd keeps: the options after a trip through unit file text (a `\n` splits, a trailing `\` joins). */
export const storedOptions = (options: ConformanceUnitOption[]) => parseUnit(serializeUnit(options));

/** fleet's unit hash: sha1 of the unit file text, hex (fleetctl list-unit-files shows its first 7 digits). */
export function unitHash(options: ConformanceUnitOption[]): string {
    return crypto.createHash("sha1").update(serializeUnit(options)).digest("hex");
}

/** Shape checks of a PUT's options; a missing value is accepted as empty (as fleetd does). */
export function decodeOptions(raw: unknown): ConformanceUnitOption[] {
    if (!Array.isArray(raw)) throw new HttpError(400, "unable to decode body: options must be a list");
    return raw.map((o) => {
        if (typeof o !== "object" || o === null || typeof o.section !== "string" || typeof o.name !== "string" || !["string", "undefined"].includes(typeof o.value)) {
            throw new HttpError(400, "unable to decode body: option needs string section, name and value");
        }
        return { section: o.section, name: o.name, value: o.value ?? "" };
    });
}

export function lineError(options: ConformanceUnitOption[]): string | undefined {
    return options.some((o) => Buffer.byteLength(`${o.name}=${o.value}`) >= LINE_MAX) ? `line too long (max ${LINE_MAX} bytes)` : undefined;
}

/** `%n %N %p %i` inside X-Fleet values, as fleet expands them for `name`. */
export function expand(value: string, name: string): string {
    const dot = name.lastIndexOf(".");
    const base = name.slice(0, dot);
    const at = base.indexOf("@");
    const map: Record<string, string> = { n: name, N: base, p: at === -1 ? base : base.slice(0, at), i: at === -1 ? "" : base.slice(at + 1) };
    return value.replace(/%([nNpi%])/g, (_, c: string) => (c === "%" ? "%" : map[c]));
}

export interface Requirements { machineID?: string; peers: string[]; conflicts: string[]; metadata: Array<[string, string]>; global: boolean; replaces: string[] }

export function requirements(name: string, options: ConformanceUnitOption[]): Requirements {
    const xf = options.filter((o) => o.section === "X-Fleet");
    const values = (...keys: string[]) => xf.filter((o) => keys.includes(o.name)).flatMap((o) => expand(o.value, name).split(/\s+/)).filter(Boolean);
    const globals = xf.filter((o) => o.name === "Global");
    return {
        machineID: values("MachineID", "X-ConditionMachineID")[0],
        peers: values("MachineOf", "X-ConditionMachineOf"),
        conflicts: values("Conflicts", "X-Conflicts"),
        metadata: values("MachineMetadata", "X-ConditionMachineMetadata").map((kv) => kv.replace(/"/g, "").split("=") as [string, string]),
        global: globals.length > 0 && TRUE_VALUES.includes(globals[globals.length - 1].value.trim().toLowerCase()),
        replaces: values("Replaces"),
    };
}

/** The combination rules; fleetd applies them when a unit is created, not when one is replaced. */
export function combinationError(name: string, options: ConformanceUnitOption[]): string | undefined {
    const r = requirements(name, options);
    const rules: Array<[boolean, string]> = [
        [!!r.machineID && r.peers.length > 0, "MachineID cannot be used with Peers"],
        [!!r.machineID && r.conflicts.length > 0, "MachineID cannot be used with Conflicts"],
        [!!r.machineID && r.global, "MachineID cannot be used with Global"],
        [!!r.machineID && r.replaces.length > 0, "MachineID cannot be used with Replaces"],
        [r.global && r.peers.length > 0, "Global cannot be used with Peers"],
        [r.global && r.replaces.length > 0, "Global cannot be used with Replaces"],
        [r.conflicts.length > 0 && r.replaces.length > 0, "Conflicts cannot be used with Replaces"],
    ];
    const bad = rules.find(([b]) => b)?.[1];
    if (bad) return bad;
    for (const peer of r.peers) {
        const conflict = r.conflicts.find((c) => globMatch(c, peer));
        if (conflict) return `unresolvable requirements: peer "${peer}" matches conflict "${conflict}"`;
    }
    return undefined;
}

export function globMatch(glob: string, name: string): boolean {
    const re = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${re}$`).test(name);
}

/** fleetd's 503 text while it cannot reach etcd (fleet's api/server.go). */
export const ETCD_AWAY = "fleet server unable to communicate with etcd";

/** fleet's validateContentType: exactly one header, `application/json` exactly (parameters allowed). */
export function contentTypeError(values: string[]): string | undefined {
    if (values.length !== 1) return `expected 1 Content-Type, got ${values.length}`;
    return values[0].split(";")[0].trim() === "application/json" ? undefined : "only acceptable Content-Type is application/json";
}

/** fleet's page token: URL-safe base64 of little-endian uint16 limit and uint16 page (1-based); `ZAACAA==` is limit 100, page 2. */
export function encodePageToken(limit: number, page: number): string {
    const b = Buffer.alloc(4);
    b.writeUInt16LE(limit, 0);
    b.writeUInt16LE(page, 2);
    return b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

/** The page a request asks for, with fleet's checks and texts (api/pagination.go); none: page 1. */
export function pageTokenOf(values: string[], limit: number): { limit: number; page: number } {
    if (values.length > 1) throw new HttpError(400, "too many values for page token");
    if (values.length === 0) return { limit, page: 1 };
    const bytes = goBase64UrlDecode(values[0]);
    // encoding/binary reads exactly 4 bytes: fewer is EOF (none) or unexpected EOF; more are ignored
    if (bytes.length < 4) throw new HttpError(400, bytes.length === 0 ? "EOF" : "unexpected EOF");
    const token = { limit: bytes.readUInt16LE(0), page: bytes.readUInt16LE(2) };
    if (token.limit !== limit) throw new HttpError(400, `token limit must be ${limit}`);
    if (token.page === 0) throw new HttpError(400, "token page must be greater than zero");
    return token;
}

const URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Go's base64.URLEncoding.DecodeString (padded), with its CorruptInputError offsets as fleetd reports them. */
function goBase64UrlDecode(src: string): Buffer {
    const corrupt = (at: number) => new HttpError(400, `illegal base64 data at input byte ${at}`);
    const out: number[] = [];
    let si = 0;
    while (si < src.length) {
        const q: number[] = [];
        let done = false;
        for (let j = 0; j < 4; j++) {
            if (si === src.length) {
                if (j === 0) { done = true; break; }
                throw corrupt(si - j); // padding is required
            }
            const c = src[si++];
            const v = URL_ALPHABET.indexOf(c);
            if (v >= 0) { q.push(v); continue; }
            if (c === "\n" || c === "\r") { j--; continue; }
            if (c !== "=") throw corrupt(si - 1);
            if (j < 2) throw corrupt(si - 1);
            if (j === 2) {
                while (si < src.length && (src[si] === "\n" || src[si] === "\r")) si++;
                if (si === src.length) throw corrupt(src.length);
                if (src[si] !== "=") throw corrupt(si - 1);
                si++;
            }
            while (si < src.length && (src[si] === "\n" || src[si] === "\r")) si++;
            if (si < src.length) throw corrupt(si); // trailing garbage
            done = true;
            break;
        }
        const bits = q.reduce((acc, v) => (acc << 6) | v, 0) << (6 * (4 - q.length));
        for (let k = 0; k < q.length - 1; k++) out.push((bits >> (16 - 8 * k)) & 0xff);
        if (done) break;
    }
    return Buffer.from(out);
}
