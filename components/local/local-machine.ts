// LocalMachine: one "machine" of the local platform. It boots its rendered cloud-config
// user-data (components/local/boot.ts) as a detached etcd process (processes.ts) that
// outlives `pulumi up`; refresh notices a dead process, the next up restarts it (same data
// dir), destroy stops it by pid and removes its root folder.
// The provider captures only this folder's own modules (serialized by value; they require
// their runtime modules inside their functions).
import * as pulumi from "@pulumi/pulumi";
import type { MachineRole, OsFlavor } from "../../model/types";
import { bootPlan, BootPlan } from "./boot";
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

function stateOf(inputs: LocalMachineInputs, plan: BootPlan, pid: number | undefined): LocalMachineState {
    return {
        ...inputs,
        ...(pid ? { pid } : {}),
        running: pid !== undefined,
        clientUrl: plan.clientUrl,
        dataDir: plan.dataDir,
        logFile: machinePaths(plan.root).logFile,
        mode: plan.mode,
        ignored: plan.ignored,
    };
}

const PORT_RELEASE_GRACE_MS = 5000;

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
        const processGone = olds.running === false || !isMachineEtcd(olds.pid, olds.dataDir);
        const changes =
            replaces.length > 0 ||
            processGone ||
            olds.userData !== news.userData ||
            olds.providerVersion !== news.providerVersion ||
            olds.startTimeoutSeconds !== news.startTimeoutSeconds;
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
        try {
            pid = await boot(inputs, plan);
        } catch (err) {
            // A failed first boot leaves no data behind, so a retry starts clean (the log stays for reading).
            fs.rmSync(plan.dataDir, { recursive: true, force: true });
            throw err;
        }
        return { id: inputs.name, outs: stateOf(inputs, plan, pid) };
    },

    async read(id: string, props: LocalMachineState) {
        const pid = runningPid(props.root, props.dataDir, props.pid);
        const { pid: _old, ...rest } = props;
        return { id, props: { ...rest, ...(pid ? { pid } : {}), running: pid !== undefined } };
    },

    async update(_id: string, olds: LocalMachineState, news: LocalMachineInputs) {
        const plan = planFor(news);
        // Keeps the data dir: a member rejoins its cluster with its own state.
        let running = runningPid(plan.root, plan.dataDir, olds.pid);
        if (running && olds.userData !== news.userData) {
            await stopEtcd(running, plan.dataDir);
            running = undefined;
        }
        const pid = running ?? (await boot(news, plan));
        return { outs: stateOf(news, plan, pid) };
    },

    async delete(_id: string, props: LocalMachineState) {
        // Its data goes next, so a short grace is enough: a leader hands over within it when the rest of
        // the cluster stays, and a leader stopped together with every peer (destroy) would otherwise
        // wait etcd's 7 s request timeout for a handover no peer can take.
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
}

export class LocalMachine extends pulumi.dynamic.Resource {
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;
    declare public readonly clientUrl: pulumi.Output<string>;
    declare public readonly dataDir: pulumi.Output<string>;
    declare public readonly logFile: pulumi.Output<string>;
    declare public readonly mode: pulumi.Output<"member" | "proxy">;
    declare public readonly ignored: pulumi.Output<string[]>;

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
            },
            opts,
        );
    }
}
