// The local platform's rotation in place (issue 21, item 5): new certificate bundles reach the
// RUNNING machines in the phases of model/tls-rollout.ts. Each phase is written to the local secret
// store, then every running machine refreshes its files from it (the simulated
// coreos-tls-refresh.service: the same fetch as at boot, into the machine's root), then, for a
// phase that changes what members trust, the members restart one at a time, each only while every
// member is healthy and each waited for until the cluster is healthy again: one member down at a
// time, so quorum holds throughout. Workers never restart: the router reads its files again on
// every connection, and HAProxy keeps serving meanwhile.
//
// The store is created with the cluster (LocalTlsStore: the machines' first boot needs it); from
// then on this resource owns the existing bundles' contents. State: the bundles delivered (secret).
// Bundled with its modules (bundled-provider.ts): nothing captured.
import type * as pulumi from "@pulumi/pulumi";
import { planRollout, RolloutPhase } from "../../model/tls-rollout";
import { writeBundle, fetchBundle } from "./tls-store";
import { boot, planFor, LocalMachineInputs, templatePath } from "./machine-lifecycle";
import { memberHealthy, runningPid, stopEtcd } from "./processes";

export interface RolloutMachine {
    name: string;
    role: "etcd" | "worker";
    /** The machine's root: its boot template beside it says how it fetches and starts. */
    root: string;
    secretId: string;
}

export interface LocalTlsRolloutInputs {
    providerVersion: string;
    /** The local secret store (storeDir). */
    dir: string;
    /** Target payload by secret id. Secret. */
    bundles: Record<string, string>;
    machines: RolloutMachine[];
    /** Bound on each wait for the cluster to be healthy. */
    healthTimeoutSeconds: number;
}

export interface LocalTlsRolloutState extends LocalTlsRolloutInputs {
    /** The phases the last update rolled, by name (for the deploy log and tests). */
    rolled: string[];
}

interface Running {
    machine: RolloutMachine;
    inputs: LocalMachineInputs;
}

/** The machines running now, with the inputs they booted from (their template); a machine not running fetches at its next boot. */
function running(machines: readonly RolloutMachine[]): Running[] {
    const fs: typeof import("fs") = require("fs");
    const out: Running[] = [];
    for (const machine of machines) {
        const template = templatePath(machine.root);
        if (!fs.existsSync(template)) continue;
        const inputs = JSON.parse(fs.readFileSync(template, "utf8")) as LocalMachineInputs;
        if (runningPid(machine.root, planFor(inputs).dataDir) !== undefined) out.push({ machine, inputs });
    }
    return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Members not healthy now, each probed from its own namespace with its own files. */
async function unhealthyMembers(members: readonly Running[]): Promise<string[]> {
    const answers = await Promise.all(
        members.map(async ({ machine, inputs }) => {
            const plan = planFor(inputs);
            return (await memberHealthy(plan.clientUrl, 1500, inputs.namespace, plan.probeTls)) ? undefined : machine.name;
        }),
    );
    return answers.filter((n): n is string => n !== undefined);
}

async function waitHealthy(members: readonly Running[], timeoutSeconds: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
        const unhealthy = await unhealthyMembers(members);
        if (unhealthy.length === 0) return;
        if (Date.now() > deadline) throw new Error(`TLS rollout: ${what}: members ${unhealthy.join(", ")} not healthy within ${timeoutSeconds} s; the rollout stopped here (every bundle delivered so far is consistent; the next up resumes)`);
        await sleep(300);
    }
}

/** One phase: store, every running machine's files, then (if asked) members one at a time. */
async function rollPhase(phase: RolloutPhase, inputs: LocalTlsRolloutInputs, log: (msg: string) => void): Promise<void> {
    for (const [secretId, payload] of Object.entries(phase.bundles)) writeBundle(inputs.dir, secretId, payload);
    const machines = running(inputs.machines);
    for (const { machine, inputs: booted } of machines) {
        const fetch = planFor(booted).tlsFetch;
        if (fetch) fetchBundle(fetch.bundle, booted.root, fetch.dir, fetch.etcdUserIds);
        else log(`${machine.name}: its user-data fetches no TLS bundle; nothing refreshed`);
    }
    if (!phase.restartMembers) return;
    const members = machines.filter((m) => m.machine.role === "etcd");
    for (const member of members) {
        // Quorum: restart one member only while every member is healthy.
        await waitHealthy(members, inputs.healthTimeoutSeconds, `before restarting ${member.machine.name} (${phase.name})`);
        const plan = planFor(member.inputs);
        await stopEtcd(runningPid(plan.root, plan.dataDir), plan.dataDir);
        await boot(member.inputs, plan);
        await waitHealthy(members, inputs.healthTimeoutSeconds, `after restarting ${member.machine.name} (${phase.name})`);
    }
}

async function rollout(olds: LocalTlsRolloutState, news: LocalTlsRolloutInputs): Promise<LocalTlsRolloutState> {
    const pulumiLog = (msg: string) => {
        try {
            (require("@pulumi/pulumi") as typeof pulumi).log.info(`TLS rollout: ${msg}`);
        } catch {
            // outside an engine (tests): quiet
        }
    };
    const phases = planRollout(olds.bundles ?? {}, news.bundles);
    for (const phase of phases) {
        pulumiLog(`${phase.name}: ${phase.why}${phase.restartMembers ? " (members restart one at a time)" : ""}`);
        await rollPhase(phase, news, pulumiLog);
    }
    // Secrets gone from the target are no machine's (a removed member): their files go.
    for (const secretId of Object.keys(olds.bundles ?? {})) {
        if (!(secretId in news.bundles)) require("fs").rmSync(require("path").join(news.dir, `${secretId}.bundle`), { force: true });
    }
    return { ...news, rolled: phases.map((p) => p.name) };
}

export const provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.dir !== "string" || news.dir === "") failures.push({ property: "dir", reason: "must be the local secret store's folder" });
        if (!Array.isArray(news.machines)) failures.push({ property: "machines", reason: "must be a list of machines" });
        if (!Number.isInteger(news.healthTimeoutSeconds) || news.healthTimeoutSeconds < 1) failures.push({ property: "healthTimeoutSeconds", reason: "must be a whole number of seconds from 1" });
        return { inputs: news, failures };
    },
    async diff(_id, olds: LocalTlsRolloutState, news: LocalTlsRolloutInputs) {
        const changed = (["providerVersion", "dir", "bundles", "machines", "healthTimeoutSeconds"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes: changed.length > 0, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: LocalTlsRolloutInputs) {
        // The machines booted from the store LocalTlsStore wrote: the target is what they hold.
        return { id: `${inputs.dir}#rollout`, outs: { ...inputs, rolled: [] } };
    },
    async read(id, props: LocalTlsRolloutState) {
        return { id, props };
    },
    async update(_id, olds: LocalTlsRolloutState, news: LocalTlsRolloutInputs) {
        return { outs: await rollout(olds, news) };
    },
    async delete() {
        // The store's bundles go with LocalTlsStore; the machines' files with the machines.
    },
};
