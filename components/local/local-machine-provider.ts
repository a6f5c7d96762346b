// LocalMachine: one "machine" of the local platform. It boots its rendered cloud-config
// user-data (components/local/boot.ts) as a detached etcd process (processes.ts) that
// outlives `pulumi up`, plus, on a worker, the router its user-data carries and the demo
// backends of the services hosted on its address (machine-process.ts); refresh notices a dead process, the next up restarts it (same data
// dir), destroy stops it by pid and removes its root folder (machine-lifecycle.ts).
// The provider's side of LocalMachine (local-machine.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import type { MachineRole, OsFlavor } from "../../model/types";
import type { DemoBackend } from "./demo-backends";
import { checkedBefore } from "../services/checked-before";
import { runningProcessPid } from "./machine-process";
import { prepareRoot, runningPid, stopEtcd } from "./processes";
import { boot, bootFreshMachine, LocalMachineInputs, LocalMachineState, planFor, shutdownMachine, startExtras, stateOf, stopExtras, templatePath } from "./machine-lifecycle";

export type { LocalMachineInputs, LocalMachineState } from "./machine-lifecycle";

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

/** The inputs check's boot plan and role test read (planFor, and the mode against the role). */
const PLAN_INPUTS = ["name", "role", "address", "userData", "root", "flavor", "tlsStore"] as const;

/**
 * Whether check already judged these plan inputs with this same provider code (checked-before.ts):
 * the plan is a pure function of them, so planning again (parsing the user-data, ~10 ms a machine,
 * after loading `yaml`) can only repeat that verdict.
 */
export function planCheckedBefore(olds: Partial<Record<string, unknown>> | undefined, news: Partial<Record<string, unknown>>): boolean {
    return checkedBefore(olds, news, PLAN_INPUTS);
}

export const provider: ProviderOperations = {
    async check(olds: LocalMachineInputs, news: LocalMachineInputs) {
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
        if (failures.length === 0 && [news.name, news.address, news.userData, news.root].every(known) && !planCheckedBefore(olds as never, news as never)) {
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
            // By pid file too: the local autohealer may have recreated the worker since (new pids).
            runningPid(olds.root, olds.dataDir, olds.pid) === undefined ||
            (olds.routes === true && runningProcessPid(olds.root, "router", olds.routerPid) === undefined) ||
            ((olds.demoBackends ?? []).length > 0 && runningProcessPid(olds.root, "demo-backends", olds.backendsPid) === undefined);
        const changes =
            replaces.length > 0 ||
            processGone ||
            olds.userData !== news.userData ||
            olds.providerVersion !== news.providerVersion ||
            olds.startTimeoutSeconds !== news.startTimeoutSeconds ||
            JSON.stringify(olds.tlsStore ?? null) !== JSON.stringify(news.tlsStore ?? null) ||
            JSON.stringify(olds.demoBackends ?? []) !== JSON.stringify(news.demoBackends ?? []);
        // Same address and root: the old machine must be gone before the new one binds them.
        return { changes, replaces, deleteBeforeReplace: true };
    },

    async create(inputs: LocalMachineInputs) {
        return { id: inputs.name, outs: await bootFreshMachine(inputs) };
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
        const outs = stateOf(news, plan, pid, await startExtras(news, plan));
        require("fs").writeFileSync(templatePath(news.root), JSON.stringify(news), { mode: 0o600 });
        return { outs };
    },

    async delete(_id: string, props: LocalMachineState) {
        await shutdownMachine(props);
    },
};
