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

/** fleet's page token: base64 of little-endian uint16 limit and uint16 page (1-based); `ZAACAA==` is limit 100, page 2. */
export function encodePageToken(limit: number, page: number): string {
    const b = Buffer.alloc(4);
    b.writeUInt16LE(limit, 0);
    b.writeUInt16LE(page, 2);
    return b.toString("base64");
}

export function decodePageToken(token: string): { limit: number; page: number } {
    const b = Buffer.from(token, "base64");
    if (b.length !== 4 || b.toString("base64") !== token) throw new HttpError(400, "invalid page token");
    const limit = b.readUInt16LE(0), page = b.readUInt16LE(2);
    if (limit === 0 || page === 0) throw new HttpError(400, "invalid page token");
    return { limit, page };
}
