// Issue 22, "rendered text proves itself": every string a stack config holds is replaced, one
// field at a time, by hostile text (line breaks of every kind, quotes, $(...), systemd
// specifiers, YAML indicators, very long strings, a valid value with a hostile middle or
// tail). For each field, every such config must be
//   refused by the config validator (model/validate.ts), naming that field (or a key above or
//   below it), or
//   rendered so that nothing gains a meaning: each machine's user-data reads the same under
//   YAML 1.1 (after coreos-cloudinit's address substitution) and 1.2; it has the baseline's
//   top-level keys, SSH key count, sections, units and files; every file (script) is byte for
//   byte the baseline's; every unit and drop-in line is the baseline's except `Environment=`
//   values, which are quoted the way systemd reads back exactly one assignment; and the HAProxy
//   configuration the router makes of the services has the baseline's directives.
// A field the validator lets through but the renderer refuses, naming it, is safe but late: it
// is listed in KNOWN_LATE. A field where a hostile value got through unsafely is listed in
// KNOWN_OPEN. Both lists may only shrink: a field that passes while listed fails the test
// ("remove X from ..."), a field that fails while not listed fails it with its counterexample.
//
// Per field: a fixed corpus (every hostile fragment after, inside and instead of each valid
// value), then HOSTILE_RUNS random values (default 200) from a seed fixed per field, so a result
// is repeatable; HOSTILE_RUNS=2000 searches deeper.

import { expect } from "chai";
import fc from "fast-check";
import * as path from "path";
import YAML from "yaml";
import { buildMachineModels, renderMachines, RenderedMachine } from "../../cloud-config";
import { parseEnvironmentDropIn } from "../../cloud-config/environment";
import { substituteAddresses } from "../../cloud-config/inspect";
import { cloudinitEnvironmentProblem } from "../../cloud-config/value-safety";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { planCluster } from "../../model/plan";
import { readStackFile } from "../../model/stack-config";
import { ClusterConfig, ClusterPlan, ConfigValidationError } from "../../model/types";
import { validateConfig } from "../../model/validate";
import { renderHaproxyConfig } from "../../router/haproxy-config";
import { gcpRaw } from "../model/raw-configs";
import { hostileCorpus, hostileVariant } from "./hostile-strings";

const ROOT = path.resolve(__dirname, "..", "..");
const RUNS = Number(process.env.HOSTILE_RUNS ?? 200);

/**
 * Fields where a hostile value still gets through unsafely, with a minimal counterexample. The
 * config validator's owner empties this list; the test fails on any change to it but a shrink.
 */
const KNOWN_OPEN: Readonly<Record<string, string>> = {};

/**
 * Fields the config validator lets hostile values through for, which the renderer then refuses
 * naming the field (safe, but after validation: `pulumi preview` fails in the program, not in
 * the config check). Closing one means refusing the value in model/validate*.ts.
 */
const KNOWN_LATE: Readonly<Record<string, string>> = {};

type Step = string | number;

interface Base {
    name: string;
    stack: string;
    raw: Record<string, unknown>;
}

const SHA = "7e57".repeat(16);
const FLEET_URL = "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz";

/** Every string key the stack files leave unset, set to a valid value, on GCE in both flavors. */
function fullGcp(flavor: "flatcar" | "container-linux"): Record<string, unknown> {
    return gcpRaw({
        osFlavor: flavor,
        osImage: flavor === "flatcar" ? "projects/kinvolk-public/global/images/family/flatcar-stable" : "projects/demo-project/global/images/coreos-stable-2512",
        etcdDiscoveryUrl: "https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579",
        rebootWindowStart: "Sun 04:00",
        rebootWindowLength: "1h30m",
        fleetRelease: { sha256: SHA, version: "v1.0.0", url: FLEET_URL },
        fleetEndpoint: "unix:///var/run/fleet.sock",
        etcdEndpoints: ["http://10.10.0.2:2379"],
        healthCheckPath: "/healthz",
        servicesPrefix: "/services",
        existingNetwork: "coreos-net",
        existingSubnetwork: "coreos-subnet",
        fleetMetadata: { disk: "ssd" },
        fleetServices: [{ name: "demo", image: "nginxdemos/hello:0.4-plain-text", containerPort: 80, count: 2 }],
    });
}

function bases(): Base[] {
    return [
        { name: "dev", stack: "dev", raw: readStackFile("dev", ROOT) },
        { name: "prod", stack: "prod", raw: readStackFile("prod", ROOT) },
        { name: "local", stack: "local", raw: readStackFile("local", ROOT) },
        { name: "gcp-full-flatcar", stack: "dev", raw: fullGcp("flatcar") },
        { name: "gcp-full-container-linux", stack: "dev", raw: fullGcp("container-linux") },
    ];
}

/** A string leaf of a raw config: a value, or (for fleetMetadata) a key of a user-named map. */
interface Leaf {
    base: Base;
    path: Step[];
    value: string;
    isKey: boolean;
}

const USER_NAMED_MAPS = new Set(["fleetMetadata"]);

function leavesOf(base: Base): Leaf[] {
    const out: Leaf[] = [];
    const walk = (value: unknown, steps: Step[]) => {
        if (typeof value === "string") out.push({ base, path: steps, value, isKey: false });
        else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...steps, i]));
        else if (value && typeof value === "object") {
            for (const [k, v] of Object.entries(value)) {
                if (steps.length === 1 && USER_NAMED_MAPS.has(String(steps[0]))) out.push({ base, path: [...steps, k], value: k, isKey: true });
                walk(v, [...steps, k]);
            }
        }
    };
    walk(base.raw, []);
    return out;
}

function formatPath(steps: Step[]): string {
    return steps.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");
}

/** `services[0].hosts[1]` -> `services[].hosts[]`; a user-named map key -> `fleetMetadata{key}`. */
function fieldOf(leaf: Leaf): string {
    if (leaf.isKey) return `${String(leaf.path[0])}{key}`;
    const steps = leaf.path.map((s) => (typeof s === "number" ? "[]" : s));
    return steps.map((s, i) => (s === "[]" ? s : i === 0 ? s : `.${s}`)).join("");
}

/** A copy of `raw` with the leaf replaced, sharing everything off the path (the plaintext-secret mark included). */
function withLeaf(raw: Record<string, unknown>, leaf: Leaf, text: string): Record<string, unknown> {
    const set = (node: unknown, depth: number): unknown => {
        const step = leaf.path[depth];
        if (Array.isArray(node)) return node.map((v, i) => (i === step ? (depth === leaf.path.length - 1 ? text : set(v, depth + 1)) : v));
        const object = node as Record<string, unknown>;
        if (leaf.isKey && depth === leaf.path.length - 1) {
            return Object.fromEntries(Object.entries(object).map(([k, v]) => (k === step ? [text, v] : [k, v])));
        }
        return { ...object, [step]: depth === leaf.path.length - 1 ? text : set(object[step as string], depth + 1) };
    };
    return set(raw, 0) as Record<string, unknown>;
}

/** Whether a problem key names the field: the field itself, a key above it, or one below it. */
function namesField(problemKey: string, leaf: Leaf): boolean {
    const field = `coreos-cluster:${formatPath(leaf.isKey ? leaf.path.slice(0, -1) : leaf.path)}`;
    const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
    return related(problemKey, field) || related(field, problemKey);
}

// ---- what a rendering may and may not vary in ----

const ENV_LINE = /^Environment="([A-Za-z_][A-Za-z0-9_]*)=((?:[^"\\%\u0000-\u001f\u007f]|\\["\\]|%%)*)"$/;
const RAW_SPECIAL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
const ADDRESSES = { privateIpv4: "10.0.0.2", publicIpv4: "" };

type Doc = Record<string, any>;

/** A unit or drop-in text with each `Environment=` value blanked: everything else must stay as it was. */
function unitShape(text: unknown): unknown {
    if (typeof text !== "string") return text;
    return text.split("\n").map((line) => {
        const env = /^Environment="([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
        return env ? `Environment="${env[1]}=..."` : line;
    });
}

function machineShape(userData: string): unknown {
    const doc = YAML.parse(userData) as Doc;
    const coreos = (doc.coreos ?? {}) as Doc;
    return {
        topKeys: Object.keys(doc),
        sshKeys: Array.isArray(doc.ssh_authorized_keys) ? doc.ssh_authorized_keys.length : -1,
        coreosKeys: Object.keys(coreos),
        sections: ["etcd2", "fleet", "locksmith", "update"].map((k) => (coreos[k] ? Object.keys(coreos[k]) : null)),
        units: ((coreos.units ?? []) as Doc[]).map((u) => ({
            keys: Object.keys(u),
            name: u.name,
            command: u.command,
            enable: u.enable,
            content: unitShape(u.content),
            dropIns: ((u.drop_ins ?? []) as Doc[]).map((d) => ({ keys: Object.keys(d), name: d.name, content: unitShape(d.content) })),
        })),
        // Scripts and other files are constant text: config values never reach them.
        writeFiles: doc.write_files ?? [],
    };
}

/** Throws, saying what, unless `userData` reads alike under both YAML versions and quotes every Environment= value. */
function checkMachineText(userData: string): void {
    const raw = RAW_SPECIAL.exec(userData);
    if (raw) throw new Error(`raw U+${raw[0].charCodeAt(0).toString(16).padStart(4, "0")} in the text`);
    const yaml12 = YAML.parse(userData, { version: "1.2" });
    const expected = JSON.parse(JSON.stringify(yaml12), (_k, v) => (typeof v === "string" ? substituteAddresses(v, ADDRESSES) : v));
    expect(YAML.parse(substituteAddresses(userData, ADDRESSES), { version: "1.1" }), "YAML 1.1 after substitution vs YAML 1.2").to.deep.equal(expected);
    const doc = yaml12 as Doc;
    const texts: string[] = [];
    for (const unit of (doc.coreos?.units ?? []) as Doc[]) {
        if (typeof unit.content === "string") texts.push(unit.content);
        for (const d of (unit.drop_ins ?? []) as Doc[]) if (typeof d.content === "string") texts.push(d.content);
    }
    for (const text of texts) {
        const envLines = text.split("\n").filter((l) => l.startsWith("Environment="));
        for (const line of envLines) if (!ENV_LINE.test(line)) throw new Error(`Environment= line not quoted as one assignment: ${JSON.stringify(line).slice(0, 200)}`);
        // Two readers, one of them systemd's word splitting: one assignment per line, the same values.
        const systemd = serviceEnvironment(text, "host").assignments;
        const ours = parseEnvironmentDropIn(text);
        expect(systemd.map((a) => a.name), "assignments systemd reads").to.deep.equal(envLines.map((l) => ENV_LINE.exec(l)![1]));
        for (const a of systemd) expect(a.value, a.name).to.equal(ours[a.name]);
    }
    // container-linux: coreos-cloudinit pastes these values unescaped into Environment="K=V".
    for (const section of ["etcd2", "fleet", "locksmith"]) {
        for (const [key, value] of Object.entries((doc.coreos?.[section] ?? {}) as Doc)) {
            const problem = typeof value === "string" ? cloudinitEnvironmentProblem(value) : undefined;
            if (problem) throw new Error(`coreos.${section}.${key} ${problem}`);
        }
    }
}

/**
 * The HAProxy configuration the router makes of the config's services (as the providers seed
 * them): the directive keyword of every line, and the services it skips as bad data.
 */
function haproxyShape(config: ClusterConfig, plan: ClusterPlan): { directives: string[]; skipped: string[] } | { refused: string[] } {
    const keys: Record<string, string> = {};
    for (const s of config.services) {
        const root = `${config.servicesPrefix}/${s.name}`;
        keys[`${root}/scheme`] = s.scheme;
        s.hosts.forEach((host, i) => (keys[`${root}/hosts/${i}`] = host));
        if (s.hostPort !== undefined) keys[`${root}/host_port`] = String(s.hostPort);
    }
    const result = renderHaproxyConfig(keys, {
        prefix: config.servicesPrefix,
        bindAddress: "0.0.0.0",
        httpPorts: config.loadBalancer.httpPorts,
        healthPort: config.healthCheck.port,
        memberAddresses: plan.members.map((m) => m.privateIp),
        runDir: "/run/coreos-router",
    });
    if (!result.ok) return { refused: result.problems };
    return { directives: result.text.split("\n").map((line) => line.trim().split(/\s+/)[0]), skipped: result.skipped.map((s) => `${s.service}: ${s.problems.join("; ")}`) };
}

interface Baseline {
    config: ClusterConfig;
    modelsJson: string;
    fileNames: string[];
    shapes: unknown[];
    haproxy: ReturnType<typeof haproxyShape>;
}

function baselineOf(base: Base): Baseline {
    const { config, problems } = validateConfig(base.raw, base.stack);
    if (!config) throw new Error(`base ${base.name} does not validate: ${problems.map((p) => `${p.key}: ${p.message}`).join("; ")}`);
    const plan = planCluster(config);
    const machines = renderMachines(config, plan);
    return {
        config,
        modelsJson: JSON.stringify(buildMachineModels(config, plan)),
        fileNames: machines.map((m) => m.fileName),
        shapes: machines.map((m) => machineShape(m.userData)),
        haproxy: haproxyShape(config, plan),
    };
}

type Outcome = "validator" | "renderer" | "rendered";

/** One hostile value in one field: how it was stopped, or that it rendered safely; throws when unsafe. */
function tryHostile(leaf: Leaf, baseline: Baseline, text: string): Outcome {
    const raw = withLeaf(leaf.base.raw, leaf, text);
    const { config, problems } = validateConfig(raw, leaf.base.stack);
    if (!config) {
        // Naming the field, or saying it (a region its zones no longer match: zones[i] "is not a zone of region ...").
        const name = String([...leaf.path].reverse().find((s) => typeof s === "string"));
        const says = (message: string) => new RegExp(`\\b${name}\\b`).test(message) || (text.length >= 4 && message.includes(text));
        if (problems.some((p) => namesField(p.key, leaf) || says(p.message))) return "validator";
        throw new Error(`refused without naming the field: ${problems.map((p) => p.key).join(", ")}`);
    }
    const plan = planCluster(config);
    let machines: RenderedMachine[];
    try {
        // The renderings are a pure function of the machine models: unchanged models, unchanged text.
        const models = JSON.stringify(buildMachineModels(config, plan));
        machines = models === baseline.modelsJson ? [] : renderMachines(config, plan);
    } catch (err) {
        if (err instanceof ConfigValidationError && err.problems.some((p) => namesField(p.key, leaf))) return "renderer";
        throw new Error(`accepted by the validator, then the renderer failed without naming the field: ${(err as Error).message.slice(0, 300)}`);
    }
    if (machines.length > 0) {
        expect(machines.map((m) => m.fileName), "machines").to.deep.equal(baseline.fileNames);
        machines.forEach((m, i) => {
            checkMachineText(m.userData);
            expect(machineShape(m.userData), `${m.fileName}: keys, units, lines and files`).to.deep.equal(baseline.shapes[i]);
        });
    }
    const haproxy = haproxyShape(config, plan);
    if ("refused" in haproxy) throw new Error(`the router makes no HAProxy config of services the validator accepted: ${haproxy.refused.join("; ").slice(0, 300)}`);
    if (haproxy.skipped.length > 0) throw new Error(`the router skips services the validator accepted: ${haproxy.skipped.join(" | ").slice(0, 300)}`);
    expect(haproxy, "HAProxy directives").to.deep.equal(baseline.haproxy);
    return "rendered";
}

/** A stable seed per field, so each field's runs repeat exactly. */
function seedOf(field: string): number {
    let h = 2166136261;
    for (const ch of field) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    return h >>> 0;
}

function short(text: string): string {
    const json = JSON.stringify(text);
    return json.length > 160 ? `${json.slice(0, 157)}..."` : json;
}

describe("hostile strings in every config field: refused naming the field, or rendered with nothing gained (issue 22)", function () {
    const all = bases();
    const baselines = new Map(all.map((b) => [b.name, baselineOf(b)]));
    const byField = new Map<string, Leaf[]>();
    for (const base of all) for (const leaf of leavesOf(base)) byField.set(fieldOf(leaf), [...(byField.get(fieldOf(leaf)) ?? []), leaf]);
    const fields = [...byField.keys()].sort();
    const report: string[] = [];

    it("the bases validate and cover every string field of the stack files and the unset optional keys", () => {
        expect(fields.length).to.be.greaterThan(40);
        for (const field of ["sshAuthorizedKeys[]", "services[].hosts[]", "fleetUnits[].content", "fleetUnits[].options[].value", "fleetRelease.url", "etcdDiscoveryUrl", "healthCheckPath", "fleetEndpoint", "etcdEndpoints[]", "zones[]", "region", "fleetMetadata{key}", "fleetServices[].image"]) {
            expect(fields, field).to.include(field);
        }
        for (const [name, baseline] of baselines) expect(baseline.haproxy, `${name}: the router takes the baseline's services`).to.have.property("skipped").that.deep.equals([]);
        for (const field of [...Object.keys(KNOWN_OPEN), ...Object.keys(KNOWN_LATE)]) expect(fields, `listed field ${field} exists`).to.include(field);
    });

    for (const field of fields) {
        it(`${field}`, function () {
            const leaves = byField.get(field)!;
            const lateExamples: string[] = [];
            const tally: Record<Outcome, number> = { validator: 0, renderer: 0, rendered: 0 };
            // The corpus once per field, its entries dealt round the field's occurrences (bases, items).
            const corpus = leaves
                .flatMap((leaf, i) => hostileCorpus(leaf.value).filter((_, j) => j % leaves.length === i).map((text) => [{ leaf, text }] as [{ leaf: Leaf; text: string }]));
            const arbitrary = fc.constantFrom(...leaves).chain((leaf) => hostileVariant(leaf.value).map((text) => ({ leaf, text })));
            const result = fc.check(
                fc.property(arbitrary, ({ leaf, text }) => {
                    const outcome = tryHostile(leaf, baselines.get(leaf.base.name)!, text);
                    tally[outcome] += 1;
                    if (outcome === "renderer") lateExamples.push(`${leaf.base.name}: ${formatPath(leaf.path)} = ${short(text)}`);
                }),
                // fast-check counts the examples among numRuns: the random runs come on top.
                { numRuns: corpus.length + RUNS, seed: seedOf(field), examples: corpus },
            );
            const open = result.failed;
            const late = lateExamples.length > 0;
            const counterexample = open
                ? `${result.counterexample![0].leaf.base.name}: ${formatPath(result.counterexample![0].leaf.path)} = ${short(result.counterexample![0].text)}: ${String((result.errorInstance as Error)?.message ?? result.errorInstance).split("\n")[0].slice(0, 300)}`
                : "";
            const shortest = lateExamples.sort((a, b) => a.length - b.length)[0];
            if (process.env.HOSTILE_REPORT) report.push(`${field}: validator ${tally.validator}, renderer ${tally.renderer}, rendered ${tally.rendered}`);
            if (open || late || field in KNOWN_OPEN || field in KNOWN_LATE) {
                report.push(`${field}: ${open ? `OPEN ${counterexample}` : late ? `LATE (renderer refused ${tally.renderer} of ${corpus.length + RUNS}) e.g. ${shortest}` : "closed"}`);
            }
            if (open && !(field in KNOWN_OPEN)) throw new Error(`${field}: a hostile value got through: ${counterexample}`);
            if (!open && field in KNOWN_OPEN) throw new Error(`${field} passes now: remove ${field} from KNOWN_OPEN`);
            if (!open && late && !(field in KNOWN_LATE)) {
                throw new Error(`${field}: the validator accepts values the renderer refuses (${tally.renderer} of ${corpus.length + RUNS}), e.g. ${shortest}; refuse them in model/validate*.ts (or list ${field} in KNOWN_LATE)`);
            }
            if (!open && !late && field in KNOWN_LATE) throw new Error(`${field}: the validator now refuses what the renderer refused: remove ${field} from KNOWN_LATE`);
        });
    }

    after(() => {
        if (report.length > 0) console.log(`\n    hostile-input report (the corpus and ${RUNS} random values per field):\n${report.map((l) => `      ${l}`).join("\n")}\n`);
    });
});
