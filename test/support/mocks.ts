// Runs the Pulumi program (index.ts) under the SDK's mocks and records what it registered:
// every resource with its inputs, each RegisterResource request as serialized for the
// engine (secrets still wrapped, options and dependencies included), the options a stack
// transformation sees, the program's stack outputs, and the provider functions it called.
import { fakePki } from "../components/gcp/fixtures/fake-pki";
import { rolloutSlots } from "../../model/tls-rollout";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { newOpenSshPrivateKey } from "../../model/ssh-key";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PROJECT = "coreos-cluster";

export interface RegisteredResource {
    type: string;
    name: string;
    /** As the mocks received them, secrets unwrapped (see WireRegistration for secretness). */
    inputs: Record<string, any>;
    custom: boolean;
}

export interface CapturedOptions {
    type: string;
    name: string;
    protect?: boolean;
    ignoreChanges?: string[];
    deleteBeforeReplace?: boolean;
    dependsOn?: unknown;
    /** The resource's args as the program passed them (Outputs unresolved). */
    props: Record<string, any>;
    resource: pulumi.Resource;
}

/** A registration as the engine would receive it (serialized: secrets still wrapped). */
export interface WireRegistration {
    type: string;
    name: string;
    object: Record<string, unknown>;
    protect: boolean;
    ignoreChanges: string[];
    deleteBeforeReplace: boolean;
    /** Whether the program set deleteBeforeReplace explicitly (either way). */
    deleteBeforeReplaceDefined: boolean;
    /** URNs the engine would wait for (dependsOn expanded to components' children). */
    dependencies: string[];
}

/** The signature the SDK wraps a secret value in on the wire (sdk/nodejs/runtime/rpc.ts). */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface ProgramRun {
    resources: RegisteredResource[];
    wire: WireRegistration[];
    options: CapturedOptions[];
    outputs: Record<string, any>;
    calls: pulumi.runtime.MockCallArgs[];
}

/** Stack config as `pulumi.runtime.setAllConfig` wants it: qualified keys, string values. */
export function toPulumiConfig(raw: Record<string, unknown>): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) {
        if (value === undefined) continue;
        result[`${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return result;
}

const SECRET_KEYS = ["etcdPassword", "sshTunnel"].map((k) => `${PROJECT}:${k}`);

function kindOf(type: string): string {
    // gcp:compute/regionHealthCheck:RegionHealthCheck -> regionHealthChecks
    const name = type.split(":").pop() ?? type;
    const plain = name.replace(/^Region/, "");
    return plain.charAt(0).toLowerCase() + plain.slice(1) + "s";
}

function scopeOf(inputs: Record<string, any>): string {
    if (inputs.zone) return `zones/${inputs.zone}`;
    if (inputs.region) return `regions/${inputs.region}`;
    return "global";
}

/** A deserialized value with secret wrappers replaced by what they wrap. */
export function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value !== null && typeof value === "object") {
        if (value[SECRET_SIG_KEY] === SECRET_SIG) return unwrapSecrets(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** Plausible provider outputs for the GCE resources, derived from their inputs. */
export class GceMocks implements pulumi.runtime.Mocks {
    readonly resources: RegisteredResource[] = [];
    readonly calls: pulumi.runtime.MockCallArgs[] = [];
    private externalAddresses = 0;

    newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const inputs = unwrapSecrets(args.inputs ?? {});
        this.resources.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? false });
        const project = inputs.project ?? "mock-project";
        const name: string = inputs.name ?? (inputs.namePrefix ? `${inputs.namePrefix}20261122` : args.name);
        const selfLink = `https://www.googleapis.com/compute/v1/projects/${project}/${scopeOf(inputs)}/${kindOf(args.type)}/${name}`;
        const state: Record<string, any> = { ...inputs, name, selfLink };
        switch (args.type) {
            case "gcp:compute/address:Address":
                if (!inputs.address) state.address = `203.0.113.${++this.externalAddresses}`;
                break;
            case "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
                state.instanceGroup = selfLink.replace("/instanceGroupManagers/", "/instanceGroups/");
                break;
            case "gcp:serviceaccount/account:Account":
                state.email = `${inputs.accountId}@${project}.iam.gserviceaccount.com`;
                break;
            case "command:remote:Command":
                state.stdout = "etcd healthy on all members";
                state.stderr = "";
                break;
            case "pulumi-nodejs:dynamic:Resource":
                // The local load balancer answers with its frontend address, as localLoadBalancerProvider.create does.
                if (inputs.health && Array.isArray(inputs.ports) && typeof inputs.address === "string") state.ip = inputs.address;
                break;
            case "pulumi-nodejs:dynamic/coreos-cluster:TlsRolloutPlan":
                // A new plan rolls nothing: every slot is the target (as its provider's create answers).
                if (inputs.bundles && typeof inputs.bundles === "object") state.slots = rolloutSlots([], inputs.bundles);
                break;
            case "pulumi-nodejs:dynamic/coreos-cluster:ClusterPki":
                // The cluster's PKI answers with PEM-shaped stand-ins (test/components/gcp/fixtures/fake-pki.ts), as its provider would with real ones.
                if (Array.isArray(inputs.certificates)) {
                    Object.assign(state, fakePki(String(inputs.clusterName), inputs.certificates), {
                        expiries: Object.fromEntries(inputs.certificates.map((c: { id: string }) => [c.id, "2027-12-06T00:00:00.000Z"])),
                    });
                }
                break;
        }
        return { id: args.custom ? selfLink : undefined, state };
    }

    call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        this.calls.push(args);
        const { inputs } = args;
        switch (args.token) {
            case "gcp:compute/getNetwork:getNetwork":
                return {
                    ...inputs,
                    selfLink: `https://www.googleapis.com/compute/v1/projects/${inputs.project}/global/networks/${inputs.name}`,
                };
            case "gcp:compute/getSubnetwork:getSubnetwork":
                return {
                    ...inputs,
                    selfLink:
                        inputs.selfLink ??
                        `https://www.googleapis.com/compute/v1/projects/${inputs.project}/regions/${inputs.region}/subnetworks/${inputs.name}`,
                };
            default:
                throw new Error(`unexpected provider function call ${args.token}`);
        }
    }
}

/**
 * Forget modules so the next require runs the program afresh, with no config or resources
 * left over from an earlier stack: "all" forgets every module of the project (not
 * node_modules); "program" only the program itself, the one module with top-level effects
 * (the pure modules hold no state, and re-transpiling them costs seconds per run).
 */
export function forgetProjectModules(scope: "all" | "program" = "all", programPath = path.join(REPO_ROOT, "index.ts")): void {
    for (const file of Object.keys(require.cache)) {
        if (scope === "all" ? isProjectModule(file) : file === programPath) delete require.cache[file];
    }
}

function isProjectModule(file: string): boolean {
    return file.startsWith(REPO_ROOT) && !file.includes(`${path.sep}node_modules${path.sep}`);
}

/**
 * Runs `fn` with fresh project modules, then puts the earlier module instances back, so
 * test files that run later in the same mocha process keep the classes they imported
 * (an `instanceof` against a class from a forgotten module would otherwise fail).
 */
async function withFreshModules<T>(scope: "all" | "program" | undefined, programPath: string | undefined, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.entries(require.cache).filter(([file]) => isProjectModule(file)));
    forgetProjectModules(scope, programPath);
    try {
        return await fn();
    } finally {
        for (const file of Object.keys(require.cache)) if (isProjectModule(file)) delete require.cache[file];
        Object.assign(require.cache, saved);
    }
}

/** Taps the mock monitor so each RegisterResource request is recorded as serialized. */
function tapMonitor(): WireRegistration[] {
    const wire: WireRegistration[] = [];
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
        wire.push({
            type: req.getType(),
            name: req.getName(),
            object: req.getObject()?.toJavaScript() ?? {},
            protect: req.getProtect() ?? false,
            ignoreChanges: req.getIgnorechangesList() ?? [],
            deleteBeforeReplace: req.getDeletebeforereplace() ?? false,
            deleteBeforeReplaceDefined: req.getDeletebeforereplacedefined() ?? false,
            dependencies: req.getDependenciesList() ?? [],
        });
        return register(req, callback);
    };
    return wire;
}

async function settle(rounds = 20): Promise<void> {
    for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface RunOptions {
    stack: string;
    /** Which modules to forget before running (default "all"). */
    fresh?: "all" | "program";
    /** Raw stack config with short keys, as readStackFile returns it. */
    config: Record<string, unknown>;
    preview?: boolean;
    programPath?: string;
}

/** Runs the program as the root stack under the mocks and waits for every registration. */
export async function runProgram(opts: RunOptions): Promise<ProgramRun> {
    return withFreshModules(opts.fresh, opts.programPath, () => runProgramNow(opts));
}

/**
 * The shipped dev and prod stacks take their SSH tunnel key from this variable (sshTunnel.privateKeyEnv),
 * as CI does from a secret; under the mocks a throwaway key, made once per process, stands in.
 */
export const TUNNEL_KEY_ENV = "COREOS_CLUSTER_SSH_KEY";
/** The local stack's deployer key (scripts/local.sh makes it for `npm run local`). */
export const LOCAL_TUNNEL_KEY_ENV = "COREOS_LOCAL_SSH_KEY";
function provideTunnelKey(): void {
    for (const name of [TUNNEL_KEY_ENV, LOCAL_TUNNEL_KEY_ENV]) {
        if (process.env[name]) continue;
        process.env[name] = newOpenSshPrivateKey();
    }
}

async function runProgramNow(opts: RunOptions): Promise<ProgramRun> {
    provideTunnelKey();
    const mocks = new GceMocks();
    await pulumi.runtime.setMocks(mocks, PROJECT, opts.stack, opts.preview ?? false);
    pulumi.runtime.setAllConfig(toPulumiConfig(opts.config), SECRET_KEYS);
    const wire = tapMonitor();

    const options: CapturedOptions[] = [];
    const capture: pulumi.ResourceTransformation = (t) => {
        options.push({
            type: t.type,
            name: t.name,
            protect: t.opts.protect,
            ignoreChanges: t.opts.ignoreChanges,
            deleteBeforeReplace: (t.opts as pulumi.CustomResourceOptions).deleteBeforeReplace,
            dependsOn: t.opts.dependsOn,
            props: t.props,
            resource: t.resource,
        });
        return undefined;
    };
    const program = opts.programPath ?? path.join(REPO_ROOT, "index.ts");
    const outputs = await pulumi.runtime.runInPulumiStack(async () => {
        pulumi.runtime.registerStackTransformation(capture);
        return require(program);
    });
    // Resources not reachable from the outputs (firewall rules, ...) may still be registering.
    let seen = -1;
    while (seen !== options.length) {
        seen = options.length;
        await Promise.all(options.map((o) => new Promise((resolve) => o.resource.urn.apply(resolve))));
        await settle();
    }
    return { resources: mocks.resources, wire, options, outputs: (outputs ?? {}) as Record<string, any>, calls: mocks.calls };
}

export interface FailedRun {
    error: unknown;
    /** Every resource registration the mocks received (components included). */
    registered: RegisteredResource[];
}

/** Requires the program expecting it to throw; records what was registered regardless. */
export async function runFailingProgram(opts: RunOptions): Promise<FailedRun> {
    return withFreshModules(opts.fresh, opts.programPath, () => runFailingProgramNow(opts));
}

async function runFailingProgramNow(opts: RunOptions): Promise<FailedRun> {
    provideTunnelKey();
    const mocks = new GceMocks();
    await pulumi.runtime.setMocks(mocks, PROJECT, opts.stack, opts.preview ?? false);
    pulumi.runtime.setAllConfig(toPulumiConfig(opts.config), SECRET_KEYS);
    let error: unknown;
    try {
        // The program's exports are a promise of its outputs (index.ts builds the platform one turn later): a failure there is this run's too.
        await Promise.resolve(require(opts.programPath ?? path.join(REPO_ROOT, "index.ts")));
    } catch (e) {
        error = e;
    }
    // Give any registration the program might have started a chance to reach the mocks.
    await settle();
    return { error, registered: mocks.resources };
}

// ---- Helpers for asserting on what the program registered ----

/** The GCE resource types the program may create. */
export const GCE = {
    network: "gcp:compute/network:Network",
    subnetwork: "gcp:compute/subnetwork:Subnetwork",
    router: "gcp:compute/router:Router",
    nat: "gcp:compute/routerNat:RouterNat",
    firewall: "gcp:compute/firewall:Firewall",
    address: "gcp:compute/address:Address",
    instance: "gcp:compute/instance:Instance",
    template: "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
    groupManager: "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
    autoscaler: "gcp:compute/regionAutoscaler:RegionAutoscaler",
    healthCheck: "gcp:compute/regionHealthCheck:RegionHealthCheck",
    backendService: "gcp:compute/regionBackendService:RegionBackendService",
    forwardingRule: "gcp:compute/forwardingRule:ForwardingRule",
    serviceAccount: "gcp:serviceaccount/account:Account",
    iamMember: "gcp:projects/iAMMember:IAMMember",
} as const;

export function urnOf(resource: pulumi.Resource): Promise<string> {
    return new Promise((resolve) => resource.urn.apply(resolve));
}

export function byType(resources: RegisteredResource[], type: string): RegisteredResource[] {
    return resources.filter((r) => r.type === type);
}

export function one<T>(items: T[]): T {
    if (items.length !== 1) throw new Error(`expected exactly one, found ${items.length}`);
    return items[0];
}

/** Every port a firewall rule's `allows` opens (ranges expanded). */
export function portsOf(allows: { ports?: string[] }[]): number[] {
    const ports: number[] = [];
    for (const allow of allows) {
        for (const entry of allow.ports ?? []) {
            const [from, to] = String(entry).split("-").map(Number);
            for (let p = from; p <= (to ?? from); p++) ports.push(p);
        }
    }
    return ports;
}

export function inCidr(ip: string, cidr: string): boolean {
    const toInt = (a: string) => a.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
    const [base, prefix] = cidr.split("/");
    const size = 2 ** (32 - Number(prefix));
    const start = toInt(base) - (toInt(base) % size);
    return toInt(ip) >= start && toInt(ip) < start + size;
}

/**
 * Whether the SDK's Args interface for a resource type declares `labels`, read from
 * @pulumi/gcp's own type declarations: "labels on everything that supports them" is then
 * checked against the provider, not against a list kept by hand.
 */
export function argsDeclareLabels(type: string): boolean {
    const fs = require("fs") as typeof import("fs");
    const [, modulePath, className] = type.split(":");
    const [moduleName, fileName] = modulePath.split("/");
    const dir = path.join(REPO_ROOT, "node_modules", "@pulumi", "gcp", moduleName);
    const file = fs.readdirSync(dir).find((f) => f.toLowerCase() === `${fileName.toLowerCase()}.d.ts`);
    if (!file) throw new Error(`no declaration file for ${type}`);
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    const start = text.indexOf(`export interface ${className}Args {`);
    if (start < 0) throw new Error(`no ${className}Args in ${file}`);
    const body = text.slice(start, text.indexOf("\n}", start));
    return /\n\s+labels\?:/.test(body);
}
