// A local machine's life, apart from Pulumi: boot a fresh one from its inputs (its "instance
// template"), and shut one down, data and all. The LocalMachine provider calls these, and so does
// the local autohealer (components/local/balancer), which recreates a sick worker from the
// template its boot left next to its root, as a GCE group recreates a VM from its template.
// Runtime modules are required inside functions: this module is bundled into the provider and
// the balancer, and bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import type { MachineRole, OsFlavor } from "../../model/types";
import { bootPlan, BootPlan } from "./boot";
import { DEMO_BACKENDS_SCRIPT, DemoBackend } from "./demo-backends";
import { isMachineProcess, processPaths, runningProcessPid, spawnMachineProcess, stopMachineProcess } from "./machine-process";
import { listening, machinePaths, prepareRoot, removeRoot, runningPid, startEtcd, stopEtcd, waitStarted } from "./processes";
import { httpGetInNamespace } from "./vpc/spawn";

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
    /** The local secret store and the one secret this machine may read (components/local/tls-store.ts), fetched at every boot. */
    tlsStore?: { dir: string; secretId: string };
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
    /** The client certificate files its readiness probes present (mutual TLS), under its root. */
    probeTls?: { ca: string; cert: string; key: string };
    ignored: string[];
    /** True when the user-data starts the router (coreos-router.service). */
    routes: boolean;
    routerPid?: number;
    backendsPid?: number;
}

export function planFor(inputs: LocalMachineInputs): BootPlan {
    return bootPlan(inputs.userData, { name: inputs.name, address: inputs.address, root: inputs.root, flavor: inputs.flavor, tlsStore: inputs.tlsStore });
}

export function stateOf(inputs: LocalMachineInputs, plan: BootPlan, pid: number | undefined, extras: Extras = {}): LocalMachineState {
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
        ...(plan.probeTls ? { probeTls: plan.probeTls } : {}),
        ignored: plan.ignored,
    };
}

const PORT_RELEASE_GRACE_MS = 5000;

export interface Extras {
    routerPid?: number;
    backendsPid?: number;
}

async function routerHealthy(url: string, namespace?: string): Promise<boolean> {
    // In the VPC the health port is the probers' and the workers' own: ask from the machine itself.
    if (namespace !== undefined) return (await httpGetInNamespace(namespace, url, 1000))?.status === 200;
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

export async function stopExtras(root: string, known: Extras = {}): Promise<void> {
    await stopMachineProcess(runningProcessPid(root, "router", known.routerPid), root, "router");
    await stopMachineProcess(runningProcessPid(root, "demo-backends", known.backendsPid), root, "demo-backends");
}

/** Starts the demo backends and the router (after etcd: prepareRoot has written router.js); waits for the router to be healthy. */
export async function startExtras(inputs: LocalMachineInputs, plan: BootPlan): Promise<Extras> {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    const extras: Extras = {};
    try {
        if (inputs.demoBackends && inputs.demoBackends.length > 0) {
            const script = path.join(plan.root, "demo-backends.js");
            fs.writeFileSync(script, DEMO_BACKENDS_SCRIPT);
            const env = { DEMO_BACKENDS: JSON.stringify(inputs.demoBackends) };
            extras.backendsPid = spawnMachineProcess({ machine: inputs.name, root: plan.root, name: "demo-backends", argv: [process.execPath, script], env, namespace: inputs.namespace });
        }
        if (plan.router) {
            const router = plan.router;
            extras.routerPid = spawnMachineProcess({ machine: inputs.name, root: plan.root, name: "router", argv: [...router.privileges, process.execPath, router.script], env: router.env, namespace: inputs.namespace });
            const deadline = Date.now() + (inputs.startTimeoutSeconds ?? 60) * 1000;
            while (!(await routerHealthy(router.healthUrl, inputs.namespace))) {
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
export async function boot(inputs: LocalMachineInputs, plan: BootPlan): Promise<number> {
    const urls = plan.gateway ? [plan.clientUrl] : [plan.env.ETCD_LISTEN_CLIENT_URLS, plan.env.ETCD_LISTEN_PEER_URLS].filter(Boolean).join(",").split(",");
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

/** Where a machine's boot leaves its inputs for the autohealer: beside its root, mode 0600 (user-data may hold etcd credentials). */
export function templatePath(root: string): string {
    return `${root}.template.json`;
}

/** Boots a fresh machine (no data may exist yet) and leaves its template; on failure nothing keeps running. */
export async function bootFreshMachine(inputs: LocalMachineInputs): Promise<LocalMachineState> {
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
    fs.writeFileSync(templatePath(inputs.root), JSON.stringify(inputs), { mode: 0o600 });
    return stateOf(inputs, plan, pid, extras);
}

/** Stops every process of the machine (by pid, only if ours) and removes its root and template: a deleted VM. */
export async function shutdownMachine(props: LocalMachineState): Promise<void> {
    const fs: typeof import("fs") = require("fs");
    // Its data goes next, so a short grace is enough: a leader hands over within it when the rest of
    // the cluster stays, and a leader stopped together with every peer (destroy) would otherwise
    // wait etcd's 7 s request timeout for a handover no peer can take.
    await stopExtras(props.root, props);
    await stopEtcd(runningPid(props.root, props.dataDir, props.pid), props.dataDir, 2000);
    fs.rmSync(templatePath(props.root), { force: true });
    removeRoot(props.root);
}
