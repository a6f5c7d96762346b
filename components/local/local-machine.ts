// LocalMachine: one "machine" of the local platform. It boots its rendered cloud-config
// user-data (components/local/boot.ts) as a detached etcd process (processes.ts) that
// outlives `pulumi up`, plus, on a worker, the router its user-data carries and the demo
// backends of the services hosted on its address (machine-process.ts); refresh notices a dead process, the next up restarts it (same data
// dir), destroy stops it by pid and removes its root folder.
// The provider captures only this folder's own modules (serialized by value; they require
// their runtime modules inside their functions).
import * as pulumi from "@pulumi/pulumi";
import type { MachineRole, OsFlavor } from "../../model/types";
import { bootPlan, BootPlan } from "./boot";
import { DEMO_BACKENDS_SCRIPT, DemoBackend } from "./demo-backends";
import { isMachineProcess, processPaths, runningProcessPid, spawnMachineProcess, stopMachineProcess } from "./machine-process";
import { isMachineEtcd, listening, machinePaths, prepareRoot, removeRoot, runningPid, startEtcd, stopEtcd, waitStarted } from "./processes";

/** Bump when the provider's behaviour changes, so delete/read run the new code (pulumi#6238). */
export const LOCAL_MACHINE_PROVIDER_VERSION = "2";

export interface LocalMachineInputs {
    name: string;
    role: MachineRole;
    address: string;
    userData: string;
    /** Absolute folder standing in for the machine's `/`. */
    root: string;
    flavor?: OsFlavor;
    /** The machine's network namespace in the local VPC (components/local/vpc); etcd runs inside it. */
    namespace?: string;
    /** How long create/update wait for the process to come up (proxies: to answer v2 reads). Default 60. */
    startTimeoutSeconds?: number;
    /** Stand-ins for the services' hosts on this machine's address (no fleetd runs their units here). */
    demoBackends?: DemoBackend[];
    providerVersion: string;
}

export interface LocalMachineState extends LocalMachineInputs {
    /** Absent when the process is not running. */
    pid?: number;
    running: boolean;
    clientUrl: string;
    dataDir: string;
    logFile: string;
    mode: "member" | "proxy";
    ignored: string[];
    /** True when the user-data starts the router (coreos-router.service). */
    routes: boolean;
    routerPid?: number;
    backendsPid?: number;
}

// The engine's placeholder for a value not known during preview.
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const REPLACE_ON = ["name", "role", "address", "root", "flavor", "namespace"] as const;
/**
 * A user-data change that alters these would make the kept data dir belong to another
 * member (or turn a proxy into a member): such a machine is replaced. Any other change
 * (fleet, locksmith, files, the initial cluster list that etcd ignores once it has data)
 * restarts it with its data, like a host rebooting with new user-data; GCE members ignore
 * user-data changes altogether.
 */
const ETCD_IDENTITY = ["ETCD_NAME", "ETCD_INITIAL_CLUSTER_TOKEN", "ETCD_INITIAL_ADVERTISE_PEER_URLS", "ETCD_DATA_DIR", "ETCD_PROXY", "ETCD_DISCOVERY"];

function planFor(inputs: LocalMachineInputs): BootPlan {
    return bootPlan(inputs.userData, { name: inputs.name, address: inputs.address, root: inputs.root, flavor: inputs.flavor });
}

/** True when the new user-data would boot a different etcd identity from the old (or either cannot boot). */
function identityChanged(olds: LocalMachineInputs, news: LocalMachineInputs): boolean {
    if (olds.userData === news.userData) return false;
    try {
        const before = planFor(olds).env;
        const after = planFor(news).env;
        return ETCD_IDENTITY.some((key) => before[key] !== after[key]);
    } catch {
        return true;
    }
}

function stateOf(inputs: LocalMachineInputs, plan: BootPlan, pid: number | undefined, extras: Extras = {}): LocalMachineState {
    return {
        ...inputs,
        ...(pid ? { pid } : {}),
        ...(extras.routerPid ? { routerPid: extras.routerPid } : {}),
        ...(extras.backendsPid ? { backendsPid: extras.backendsPid } : {}),
        routes: plan.router !== undefined,
        running: pid !== undefined,
        clientUrl: plan.clientUrl,
        dataDir: plan.dataDir,
        logFile: machinePaths(plan.root).logFile,
        mode: plan.mode,
        ignored: plan.ignored,
    };
}

const PORT_RELEASE_GRACE_MS = 5000;

interface Extras {
    routerPid?: number;
    backendsPid?: number;
}

function routerHealthy(url: string): Promise<boolean> {
    const http: typeof import("http") = require("http");
    return new Promise((resolve) => {
        const req = http.get(url, { timeout: 1000, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}

function tail(file: string, lines = 12): string {
    const fs: typeof import("fs") = require("fs");
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

async function stopExtras(root: string, known: Extras = {}): Promise<void> {
    await stopMachineProcess(runningProcessPid(root, "router", known.routerPid), root, "router");
    await stopMachineProcess(runningProcessPid(root, "demo-backends", known.backendsPid), root, "demo-backends");
}

/** Starts the demo backends and the router (after etcd: prepareRoot has written router.js); waits for the router to be healthy. */
async function startExtras(inputs: LocalMachineInputs, plan: BootPlan): Promise<Extras> {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    const extras: Extras = {};
    try {
        if (inputs.demoBackends && inputs.demoBackends.length > 0) {
            const script = path.join(plan.root, "demo-backends.js");
            fs.writeFileSync(script, DEMO_BACKENDS_SCRIPT);
            const env = { DEMO_BACKENDS: JSON.stringify(inputs.demoBackends) };
            extras.backendsPid = spawnMachineProcess({ machine: inputs.name, root: plan.root, name: "demo-backends", argv: [process.execPath, script], env });
        }
        if (plan.router) {
            const router = plan.router;
            extras.routerPid = spawnMachineProcess({ machine: inputs.name, root: plan.root, name: "router", argv: [process.execPath, router.script], env: router.env });
            const deadline = Date.now() + (inputs.startTimeoutSeconds ?? 60) * 1000;
            while (!(await routerHealthy(router.healthUrl))) {
                if (Date.now() > deadline || !isMachineProcess(extras.routerPid, plan.root, "router")) {
                    const log = processPaths(plan.root, "router").logFile;
                    throw new Error(`machine ${inputs.name}: the router did not report healthy on ${router.healthUrl}; log ${log}:\n${tail(log)}`);
                }
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        }
        return extras;
    } catch (err) {
        await stopExtras(plan.root, extras);
        throw err;
    }
}

/** Starts the machine's etcd and waits for it to come up; on failure stops exactly that pid again. */
async function boot(inputs: LocalMachineInputs, plan: BootPlan): Promise<number> {
    const urls = [plan.env.ETCD_LISTEN_CLIENT_URLS, plan.env.ETCD_LISTEN_PEER_URLS].filter(Boolean).join(",").split(",");
    // A process that just died (crash, SIGKILL) gives up its memory before its sockets, so its
    // ports can stay taken for a moment after it stops looking like etcd: wait that out, bounded.
    const deadline = Date.now() + PORT_RELEASE_GRACE_MS;
    for (const url of urls) {
        while (await listening(url, 1000, inputs.namespace)) {
            if (Date.now() >= deadline) {
                throw new Error(`machine ${inputs.name}: ${url} is already in use by another process (another machine on ${inputs.address}?); nothing was started`);
            }
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
    }
    prepareRoot(plan);
    const pid = await startEtcd(plan, inputs.namespace);
    try {
        await waitStarted(plan, pid, (inputs.startTimeoutSeconds ?? 60) * 1000, inputs.namespace);
    } catch (err) {
        await stopEtcd(pid, plan.dataDir);
        throw err;
    }
    return pid;
}

export const localMachineProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: LocalMachineInputs, news: LocalMachineInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const known = (v: unknown) => v !== undefined && v !== UNKNOWN;
        for (const key of ["name", "address", "userData", "root", "providerVersion"] as const) {
            if (known(news[key]) && typeof news[key] !== "string") failures.push({ property: key, reason: `${key} must be a string` });
            if (news[key] === undefined) failures.push({ property: key, reason: `${key} is required` });
        }
        if (known(news.role) && news.role !== "etcd" && news.role !== "worker") failures.push({ property: "role", reason: "role must be etcd or worker" });
        if (known(news.root) && typeof news.root === "string" && !news.root.startsWith("/")) {
            failures.push({ property: "root", reason: `root must be an absolute path, got ${news.root}` });
        }
        if (failures.length === 0 && [news.name, news.address, news.userData, news.root].every(known)) {
            try {
                const plan = planFor(news);
                const expected = news.role === "worker" ? "proxy" : "member";
                if (plan.mode !== expected) {
                    failures.push({ property: "userData", reason: `machine ${news.name}: role ${news.role} but its user-data boots an etcd ${plan.mode}` });
                }
            } catch (err) {
                failures.push({ property: "userData", reason: (err as Error).message });
            }
        }
        return { inputs: news, failures };
    },

    async diff(_id: string, olds: LocalMachineState, news: LocalMachineInputs) {
        const replaces: string[] = REPLACE_ON.filter((key) => olds[key] !== news[key]);
        if (news.userData !== UNKNOWN && identityChanged(olds, news)) replaces.push("userData");
        const processGone =
            olds.running === false ||
            !isMachineEtcd(olds.pid, olds.dataDir) ||
            (olds.routes === true && !isMachineProcess(olds.routerPid, olds.root, "router")) ||
            ((olds.demoBackends ?? []).length > 0 && !isMachineProcess(olds.backendsPid, olds.root, "demo-backends"));
        const changes =
            replaces.length > 0 ||
            processGone ||
            olds.userData !== news.userData ||
            olds.providerVersion !== news.providerVersion ||
            olds.startTimeoutSeconds !== news.startTimeoutSeconds ||
            JSON.stringify(olds.demoBackends ?? []) !== JSON.stringify(news.demoBackends ?? []);
        // Same address and root: the old machine must be gone before the new one binds them.
        return { changes, replaces, deleteBeforeReplace: true };
    },

    async create(inputs: LocalMachineInputs) {
        const fs: typeof import("fs") = require("fs");
        const plan = planFor(inputs);
        const leftover = runningPid(plan.root, plan.dataDir);
        if (leftover) {
            throw new Error(`machine ${inputs.name}: an etcd (pid ${leftover}) already runs from ${plan.root}; stop that pid or remove the folder first`);
        }
        if (fs.existsSync(plan.dataDir) && fs.readdirSync(plan.dataDir).length > 0) {
            throw new Error(`machine ${inputs.name}: ${plan.dataDir} already holds etcd data from an earlier machine; remove ${plan.root} to boot a fresh one`);
        }
        let pid: number;
        let extras: Extras;
        try {
            pid = await boot(inputs, plan);
            try {
                extras = await startExtras(inputs, plan);
            } catch (err) {
                await stopEtcd(pid, plan.dataDir, 2000);
                throw err;
            }
        } catch (err) {
            // A failed first boot leaves no data behind, so a retry starts clean (the log stays for reading).
            fs.rmSync(plan.dataDir, { recursive: true, force: true });
            throw err;
        }
        return { id: inputs.name, outs: stateOf(inputs, plan, pid, extras) };
    },

    async read(id: string, props: LocalMachineState) {
        const pid = runningPid(props.root, props.dataDir, props.pid);
        const routerPid = runningProcessPid(props.root, "router", props.routerPid);
        const backendsPid = runningProcessPid(props.root, "demo-backends", props.backendsPid);
        const { pid: _old, routerPid: _r, backendsPid: _b, ...rest } = props;
        return { id, props: { ...rest, ...(pid ? { pid } : {}), ...(routerPid ? { routerPid } : {}), ...(backendsPid ? { backendsPid } : {}), running: pid !== undefined } };
    },

    async update(_id: string, olds: LocalMachineState, news: LocalMachineInputs) {
        const plan = planFor(news);
        // Keeps the data dir: a member rejoins its cluster with its own state.
        // The router and the backends restart on every update: a restarted router rebuilds from etcd.
        await stopExtras(plan.root, olds);
        let running = runningPid(plan.root, plan.dataDir, olds.pid);
        if (running && olds.userData !== news.userData) {
            await stopEtcd(running, plan.dataDir);
            running = undefined;
        }
        const pid = running ?? (await boot(news, plan));
        if (running) prepareRoot(plan);
        return { outs: stateOf(news, plan, pid, await startExtras(news, plan)) };
    },

    async delete(_id: string, props: LocalMachineState) {
        // Its data goes next, so a short grace is enough: a leader hands over within it when the rest of
        // the cluster stays, and a leader stopped together with every peer (destroy) would otherwise
        // wait etcd's 7 s request timeout for a handover no peer can take.
        await stopExtras(props.root, props);
        await stopEtcd(runningPid(props.root, props.dataDir, props.pid), props.dataDir, 2000);
        removeRoot(props.root);
    },
};

export interface LocalMachineArgs {
    name: pulumi.Input<string>;
    role: pulumi.Input<MachineRole>;
    address: pulumi.Input<string>;
    userData: pulumi.Input<string>;
    root: pulumi.Input<string>;
    flavor?: pulumi.Input<OsFlavor>;
    namespace?: pulumi.Input<string>;
    startTimeoutSeconds?: pulumi.Input<number>;
    demoBackends?: pulumi.Input<DemoBackend[]>;
}

export class LocalMachine extends pulumi.dynamic.Resource {
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;
    declare public readonly clientUrl: pulumi.Output<string>;
    declare public readonly dataDir: pulumi.Output<string>;
    declare public readonly logFile: pulumi.Output<string>;
    declare public readonly mode: pulumi.Output<"member" | "proxy">;
    declare public readonly ignored: pulumi.Output<string[]>;
    declare public readonly routes: pulumi.Output<boolean>;
    declare public readonly routerPid: pulumi.Output<number | undefined>;

    constructor(name: string, args: LocalMachineArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            localMachineProvider,
            name,
            {
                ...args,
                providerVersion: LOCAL_MACHINE_PROVIDER_VERSION,
                pid: undefined,
                running: undefined,
                clientUrl: undefined,
                dataDir: undefined,
                logFile: undefined,
                mode: undefined,
                ignored: undefined,
                routes: undefined,
                routerPid: undefined,
                backendsPid: undefined,
            },
            opts,
        );
    }
}
