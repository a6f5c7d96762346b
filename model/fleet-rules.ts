// fleet's unit rules (fleet API v1, shared/reference/fleet-api.md), as pure functions.
// Config validation and the FleetUnit provider both use them, so a bad unit is refused
// before any request reaches fleet. Where fleet silently accepts something that cannot do
// what the author meant (an unknown [X-Fleet] key, `Global=ture`), these rules are stricter.
import type { FleetDesiredState, FleetUnitOption, FleetUnitSpec } from "./types";

export const UNIT_NAME_MAX = 256;
/** systemd's LINE_MAX as fleet applies it: an option line must be shorter than this. */
export const OPTION_LINE_MAX_BYTES = 2048;
export const DESIRED_STATES: readonly FleetDesiredState[] = ["inactive", "loaded", "launched"];
export const UNIT_SUFFIXES = [
    ".automount", ".busname", ".device", ".mount", ".path", ".scope", ".service",
    ".slice", ".snapshot", ".socket", ".swap", ".target", ".timer",
] as const;
export const TEMPLATE_SUFFIXES = [".path", ".service", ".socket", ".target", ".timer"] as const;

// Here, not in service-naming.ts: that module is bundled into every worker's router.js (goldens).
/** A docker image reference as a FleetService runs it: no spaces or quotes, which the unit's ExecStart would split or unescape. */
export const DOCKER_IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\/:@-]*$/;

const NAME_CHARS = /^[A-Za-z0-9:_.@-]*$/;
const INSTANCE_CHARS = /^[A-Za-z0-9:_.-]+$/;

/**
 * Unit name stems the machines' own units use: the OS's (systemd, sshd, docker, the update engine,
 * gettys) and the product's (etcd, the proxy, fleet, locksmith, the router). fleet writes a unit
 * into /run/fleet/units and links it into systemd's runtime path, where it takes precedence over
 * the vendor unit of the same name: a pushed `docker.service` or `sshd@.service` replaces the
 * machine's own. Compared without the suffix and without a template's "@...", case-insensitively.
 */
export const SYSTEM_UNIT_STEMS: readonly string[] = [
    "autovt", "basic", "chronyd", "container-getty", "containerd", "coreos-cloudinit", "coreos-router", "dbus", "default", "docker",
    "emergency", "etcd", "etcd-member", "etcd2", "fleet", "fleet-install", "getty", "graphical", "halt", "ignition", "kexec",
    "local-fs", "locksmithd", "modprobe", "multi-user", "network", "network-online", "nss-lookup", "ntpd", "poweroff",
    "reboot", "remote-fs", "rescue", "serial-getty", "shutdown", "sockets", "sshd", "sysinit", "system", "timers",
    "update-engine", "user", "user-runtime-dir",
    // coreos-cloudinit's own units, GCE's guest agents and Flatcar's afterburn.
    "user-cloudinit", "user-cloudinit-proc-cmdline", "user-config", "system-config", "afterburn", "afterburn-sshkeys",
];
/** Stems that begin a family of system units (systemd-networkd, dbus-broker, sshd-keygen...). */
export const SYSTEM_UNIT_PREFIXES: readonly string[] = [
    "systemd-", "dbus-", "sshd-", "docker-", "containerd-", "etcd-", "fleet-", "locksmith", "update-engine", "flatcar-", "coreos-", "oem-",
    "user-cloudinit", "google-", "afterburn",
];
/** A mount, automount or swap unit names a path: none may be pushed over the OS's own file systems. */
const SYSTEM_MOUNT_ROOTS: readonly string[] = ["", "-", "boot", "dev", "etc", "home", "opt", "proc", "run", "sys", "tmp", "usr", "var"];
const MOUNT_SUFFIX = /\.(?:mount|automount|swap)$/;

/** Why a unit name would shadow one of the machines' own units, or undefined. */
export function systemUnitProblem(name: string): string | undefined {
    const base = name.toLowerCase().replace(/\.[a-z]+$/, "");
    const stem = base.includes("@") ? base.slice(0, base.indexOf("@")) : base;
    const mountsSystemPath = MOUNT_SUFFIX.test(name.toLowerCase()) && SYSTEM_MOUNT_ROOTS.some((root) => stem === root || (root.length > 1 && stem.startsWith(`${root}-`)));
    if (mountsSystemPath) return `"${name}" would mount over the machines' own ${stem === "-" || stem === "" ? "/" : `/${stem.replace(/-/g, "/")}`}; push mounts of your own paths only`;
    if (SYSTEM_UNIT_STEMS.includes(stem) || SYSTEM_UNIT_PREFIXES.some((p) => stem.startsWith(p))) {
        return `"${name}" would shadow the machines' own unit ${stem} (fleet links pushed units ahead of the system's); choose a name of your own`;
    }
    return undefined;
}

/** Every reason fleet (or systemd behind it) would refuse this unit name; empty when valid. */
export function unitNameProblems(name: string): string[] {
    if (typeof name !== "string" || name.length === 0) return ["unit name is empty"];
    const problems: string[] = [];
    if (name.length > UNIT_NAME_MAX) {
        problems.push(`unit name is ${name.length} characters; fleet allows at most ${UNIT_NAME_MAX}`);
    }
    if (!NAME_CHARS.test(name)) {
        const bad = [...new Set([...name].filter((c) => !/[A-Za-z0-9:_.@-]/.test(c)))];
        problems.push(`unit name "${name}" has invalid characters ${bad.map((c) => JSON.stringify(c)).join(" ")}; allowed are A-Z a-z 0-9 : _ . @ -`);
    }
    if (name.startsWith("@")) problems.push(`unit name "${name}" must not start with "@"`);
    const suffix = unitSuffix(name);
    const prefix = suffix ? name.slice(0, -suffix.length) : name;
    if (!suffix || !(UNIT_SUFFIXES as readonly string[]).includes(suffix)) {
        problems.push(`unit name "${name}" must end with one of ${UNIT_SUFFIXES.join(" ")}`);
    } else if (prefix.length === 0 || prefix === "@") {
        problems.push(`unit name "${name}" has nothing before its suffix`);
    }
    if ((name.match(/@/g) ?? []).length > 1) problems.push(`unit name "${name}" has more than one "@"`);
    if (isTemplateName(name) && suffix && !(TEMPLATE_SUFFIXES as readonly string[]).includes(suffix)) {
        problems.push(`template unit "${name}" must end with one of ${TEMPLATE_SUFFIXES.join(" ")}`);
    }
    return problems;
}

function unitSuffix(name: string): string | undefined {
    const dot = name.lastIndexOf(".");
    return dot === -1 ? undefined : name.slice(dot);
}

/** `foo@.service`: a template, which fleet keeps but never runs; its instances run. */
export function isTemplateName(name: string): boolean {
    const dot = name.lastIndexOf(".");
    return dot > 1 && name[dot - 1] === "@" && name.indexOf("@") === dot - 1;
}

/**
 * Why a template must only ever reach fleet `inactive`. Observed on real fleetd (v1.0.0-15 under a
 * real systemd, shared/reference/fleet-api.md): fleetd accepts a template created `launched` (201),
 * schedules it, systemd refuses to start it, and that machine's agent never reads unit state again.
 */
export const TEMPLATE_LAUNCH_HAZARD =
    "fleet would schedule the template itself to a machine, systemd cannot start a template, and that machine's fleet agent then stops for good (nothing on it starts or stops again, even after the template is deleted)";

/** The PUT rule: a template (`foo@.service`) goes to fleet `inactive` or not at all. */
export function templatePushProblem(name: string, desiredState: FleetDesiredState | undefined): string | undefined {
    if (!isTemplateName(name) || desiredState === undefined || desiredState === "inactive") return undefined;
    return `template unit "${name}" must never be pushed ${desiredState}: ${TEMPLATE_LAUNCH_HAZARD}`;
}

/**
 * The declaration rule: on a template, desiredState is the state of its instances (the template
 * itself is pushed inactive), so one with no instances cannot be anything but inactive.
 */
export function templateSpecProblem(name: unknown, desiredState: unknown, instances: readonly unknown[]): string | undefined {
    if (typeof name !== "string" || !isTemplateName(name) || instances.length > 0) return undefined;
    if (desiredState === undefined || desiredState === "inactive" || !DESIRED_STATES.includes(desiredState as FleetDesiredState)) return undefined;
    return `template unit "${name}" cannot be ${desiredState} with no instances: ${TEMPLATE_LAUNCH_HAZARD}; list instances to run copies of it (the template itself stays inactive)`;
}

/** `foo@1.service` (an instance of `foo@.service`). */
export function isInstanceName(name: string): boolean {
    const at = name.indexOf("@");
    const dot = name.lastIndexOf(".");
    return at > 0 && dot > at + 1;
}

/** instanceName("web@.service", 2) -> "web@2.service". */
export function instanceName(template: string, instance: string | number): string {
    if (!isTemplateName(template)) throw new Error(`"${template}" is not a template unit name (name@.suffix)`);
    const at = template.indexOf("@");
    return `${template.slice(0, at + 1)}${instance}${template.slice(at + 1)}`;
}

export class UnitFileSyntaxError extends Error {
    constructor(public readonly problems: string[]) {
        super(`unit file syntax: ${problems.join("; ")}`);
        this.name = "UnitFileSyntaxError";
    }
}

/**
 * systemd unit file syntax: `[Section]` headers, `Key=Value` lines (whitespace around both
 * trimmed), `#`/`;` comments, and a trailing backslash joining the next line with a space
 * (comment lines inside a continuation are skipped, as systemd does).
 */
export function parseUnitFileLenient(text: string): { options: FleetUnitOption[]; problems: string[] } {
    const options: FleetUnitOption[] = [];
    const problems: string[] = [];
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
    let section: string | undefined;
    for (let i = 0; i < lines.length; i++) {
        const lineNo = i + 1;
        let line = lines[i].trim();
        if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
        while (line.endsWith("\\")) {
            line = line.slice(0, -1) + " ";
            let next: string | undefined;
            while (next === undefined && i + 1 < lines.length) {
                const candidate = lines[++i].trim();
                if (!candidate.startsWith("#") && !candidate.startsWith(";")) next = candidate;
            }
            if (next === undefined) break;
            line += next;
        }
        if (line.startsWith("[")) {
            const m = /^\[([^\[\]]+)\]$/.exec(line);
            if (!m) { problems.push(`line ${lineNo}: malformed section header ${JSON.stringify(line)}`); continue; }
            section = m[1];
            continue;
        }
        const eq = line.indexOf("=");
        if (eq <= 0) {
            problems.push(`line ${lineNo}: expected "Key=Value", "[Section]" or a comment, got ${JSON.stringify(truncate(line))}`);
            continue;
        }
        if (section === undefined) {
            problems.push(`line ${lineNo}: option "${line.slice(0, eq).trim()}" comes before any [Section]`);
            continue;
        }
        options.push({ section, name: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
    }
    return { options, problems };
}

/** Parses unit file text into fleet options; throws UnitFileSyntaxError listing every bad line. */
export function parseUnitFile(text: string): FleetUnitOption[] {
    const { options, problems } = parseUnitFileLenient(text);
    if (problems.length > 0) throw new UnitFileSyntaxError(problems);
    return options;
}

/** Unit file text for options: sections in order of first appearance, as fleet serializes them. */
export function unitFileText(options: FleetUnitOption[]): string {
    const sections = new Map<string, FleetUnitOption[]>();
    for (const o of options) {
        if (!sections.has(o.section)) sections.set(o.section, []);
        sections.get(o.section)!.push(o);
    }
    return [...sections.entries()]
        .map(([section, opts]) => `[${section}]\n${opts.map((o) => `${o.name}=${o.value}\n`).join("")}`)
        .join("\n");
}

const X_FLEET_ALIASES: Record<string, string> = {
    MachineID: "MachineID",
    "X-ConditionMachineID": "MachineID",
    "X-ConditionMachineBootID": "MachineID",
    MachineOf: "MachineOf",
    "X-ConditionMachineOf": "MachineOf",
    MachineMetadata: "MachineMetadata",
    "X-ConditionMachineMetadata": "MachineMetadata",
    Conflicts: "Conflicts",
    "X-Conflicts": "Conflicts",
    Global: "Global",
    Replaces: "Replaces",
};
const TRUTHY = ["true", "yes", "1", "on", "t"];
const FALSY = ["false", "no", "0", "off", "f"];

/** fleet's multi-value syntax: whitespace separated, double quotes group. */
export function splitFleetValues(value: string): string[] {
    const out: string[] = [];
    const re = /"([^"]*)"|(\S+)/g;
    for (let m = re.exec(value); m; m = re.exec(value)) {
        const v = m[1] ?? m[2];
        if (v.length > 0) out.push(v);
    }
    return out;
}

/** Problems in the [X-Fleet] section: unknown keys, malformed values, combinations fleet rejects. */
export function xFleetProblems(options: FleetUnitOption[], unitName?: string): string[] {
    const problems: string[] = [];
    const values: Record<string, string[]> = { MachineID: [], MachineOf: [], MachineMetadata: [], Conflicts: [], Global: [], Replaces: [] };
    for (const o of options.filter((x) => x.section === "X-Fleet")) {
        const key = X_FLEET_ALIASES[o.name];
        if (!key) {
            problems.push(`[X-Fleet] ${o.name} is not an option fleet knows (${Object.keys(values).join(", ")})`);
            continue;
        }
        const expanded = unitName ? expandSpecifiers(o.value, unitName) : o.value;
        values[key].push(...(key === "MachineID" || key === "Global" ? [expanded.trim()].filter((v) => v) : splitFleetValues(expanded)));
    }
    for (const pair of values.MachineMetadata) {
        const parts = pair.split("=");
        if (parts.length !== 2 || !parts[0] || !parts[1]) {
            problems.push(`[X-Fleet] MachineMetadata "${pair}" must be key=value`);
        }
    }
    for (const g of values.Global) {
        if (![...TRUTHY, ...FALSY].includes(g.toLowerCase())) {
            problems.push(`[X-Fleet] Global=${g} is neither true (${TRUTHY.join("/")}) nor false (${FALSY.join("/")})`);
        }
    }
    const lastGlobal = values.Global[values.Global.length - 1];
    const has = {
        MachineID: values.MachineID.length > 0,
        MachineOf: values.MachineOf.length > 0,
        Conflicts: values.Conflicts.length > 0,
        Global: lastGlobal !== undefined && TRUTHY.includes(lastGlobal.toLowerCase()),
        Replaces: values.Replaces.length > 0,
    };
    const forbidden: Array<[keyof typeof has, keyof typeof has]> = [
        ["MachineID", "MachineOf"], ["MachineID", "Conflicts"], ["MachineID", "Global"], ["MachineID", "Replaces"],
        ["Global", "MachineOf"], ["Global", "Replaces"], ["Conflicts", "Replaces"],
    ];
    for (const [a, b] of forbidden) {
        if (has[a] && has[b]) problems.push(`[X-Fleet] ${a} cannot be used with ${b}`);
    }
    for (const peer of values.MachineOf) {
        for (const conflict of values.Conflicts) {
            if (globMatches(conflict, peer)) problems.push(`[X-Fleet] unresolvable: MachineOf ${peer} matches Conflicts ${conflict}`);
        }
    }
    return problems;
}

/** %n %N %p %i as fleet expands them inside [X-Fleet] values. */
export function expandSpecifiers(value: string, unitName: string): string {
    const dot = unitName.lastIndexOf(".");
    const base = dot === -1 ? unitName : unitName.slice(0, dot);
    const at = base.indexOf("@");
    const prefix = at === -1 ? base : base.slice(0, at);
    const instance = at === -1 ? "" : base.slice(at + 1);
    return value.replace(/%([nNpi])/g, (_m, c: string) => ({ n: unitName, N: base, p: prefix, i: instance } as Record<string, string>)[c]);
}

function globMatches(glob: string, name: string): boolean {
    const re = glob.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
    return new RegExp(`^${re}$`).test(name);
}

/** Option lines fleet (systemd's LINE_MAX) or the unit file format cannot carry. */
export function optionLineProblems(options: FleetUnitOption[]): string[] {
    const problems: string[] = [];
    for (const o of options) {
        const where = `[${o.section}] ${o.name}`;
        if (!o.section || /[\[\]\r\n]/.test(o.section)) problems.push(`option section ${JSON.stringify(o.section)} is not a valid section name`);
        if (!o.name || !/^[A-Za-z0-9_.-]+$/.test(o.name)) problems.push(`option name ${JSON.stringify(o.name)} in [${o.section}] is not a valid key`);
        if (typeof o.value !== "string") { problems.push(`${where}: value must be a string`); continue; }
        if (/[\r\n]/.test(o.value)) problems.push(`${where}: value contains a line break (use one option per line)`);
        const bytes = new TextEncoder().encode(`${o.name}=${o.value}`).length;
        if (bytes >= OPTION_LINE_MAX_BYTES) {
            problems.push(`${where}: option line is ${bytes} bytes; fleet accepts only lines under ${OPTION_LINE_MAX_BYTES} bytes`);
        }
    }
    return problems;
}

export function sameOptions(a: FleetUnitOption[], b: FleetUnitOption[]): boolean {
    return a.length === b.length && a.every((o, i) => o.section === b[i].section && o.name === b[i].name && o.value === b[i].value);
}

/** The unit's options, from `content` or `options`, plus any problem in getting them. */
export function resolveUnitOptions(spec: Pick<FleetUnitSpec, "content" | "options">): { options: FleetUnitOption[]; problems: string[] } {
    const hasContent = spec.content !== undefined && spec.content !== null;
    const hasOptions = spec.options !== undefined && spec.options !== null;
    if (hasContent === hasOptions) {
        return { options: [], problems: ["give exactly one of content (unit file text) and options"] };
    }
    if (hasContent) {
        if (typeof spec.content !== "string") return { options: [], problems: ["content must be unit file text"] };
        const parsed = parseUnitFileLenient(spec.content);
        return { options: parsed.options, problems: parsed.problems.map((p) => `content ${p}`) };
    }
    if (!Array.isArray(spec.options)) return { options: [], problems: ["options must be a list of {section, name, value}"] };
    const options = spec.options.map((o) => ({ section: o?.section, name: o?.name, value: o?.value })) as FleetUnitOption[];
    return { options, problems: [] };
}

/** Everything wrong with one unit declaration, before anything is sent to fleet. */
export function fleetUnitSpecProblems(spec: FleetUnitSpec): string[] {
    const problems = [...unitNameProblems(spec.name)];
    const { options, problems: optionProblems } = resolveUnitOptions(spec);
    problems.push(...optionProblems);
    if (optionProblems.length === 0 && options.length === 0) problems.push("the unit has no options");
    problems.push(...optionLineProblems(options), ...xFleetProblems(options, typeof spec.name === "string" ? spec.name : undefined));
    if (spec.desiredState !== undefined && !DESIRED_STATES.includes(spec.desiredState)) {
        problems.push(`desiredState "${spec.desiredState}" must be one of ${DESIRED_STATES.join(", ")}`);
    }
    const template = typeof spec.name === "string" && isTemplateName(spec.name);
    const instances = spec.instances ?? [];
    if (!Array.isArray(instances)) {
        problems.push("instances must be a list");
    } else if (instances.length > 0 && !template) {
        problems.push(`instances are only for template units (name@.suffix); "${spec.name}" is not one`);
    } else {
        const seen = new Set<string>();
        for (const inst of instances) {
            const s = String(inst);
            if (!INSTANCE_CHARS.test(s)) problems.push(`instance ${JSON.stringify(inst)} must use only A-Z a-z 0-9 : _ . -`);
            else if (seen.has(s)) problems.push(`instance "${s}" is listed twice`);
            else problems.push(...unitNameProblems(instanceName(spec.name, s)));
            seen.add(s);
        }
    }
    const templateState = templateSpecProblem(spec.name, spec.desiredState, Array.isArray(instances) ? instances : []);
    if (templateState) problems.push(templateState);
    return problems;
}

function truncate(s: string): string {
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
