// TlsPhaseWait: between two phases of a certificate rollout on GCE (model/tls-rollout.ts), waits
// until every machine reports that it holds the phase (cloud-config/tls-refresh.ts writes the
// reports; members in a restart phase also report that etcd runs with the new CA file). Reads the
// reports as the deployer, through the same way in as the other providers (the SSH tunnel, mutual
// TLS with the deployer's certificate of this very phase: the one every member trusts right now).
// Without a way in nothing can be observed: it then waits a fixed multiple of the refresh period.
// Bundled (components/services/bundled-provider.ts): nothing captured.
import type * as pulumi from "@pulumi/pulumi";
import { laggingMachines, PhaseExpectations } from "../../model/tls-rollout";
import { TLS_STATUS_PREFIX } from "../../model/etcd-auth";
import { EtcdConnectionArgs, withEtcd } from "../etcd/etcd-client";

export interface TlsPhaseWaitInputs {
    providerVersion: string;
    /** The slot's phase name (trust-add, leaves, trust-drop; none: nothing to wait for). */
    phase: string;
    roll: boolean;
    expected: PhaseExpectations;
    /** The deployer's connection with this phase's certificate. Secret. Absent: no way in. */
    connection?: EtcdConnectionArgs;
    timeoutSeconds: number;
    /** Without a connection: how long every machine's refresh timer needs to have run twice. */
    blindWaitSeconds: number;
}

export interface TlsPhaseWaitState extends TlsPhaseWaitInputs {
    /** What the wait saw last: empty once every machine held the phase. */
    lagging: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function readReports(connection: EtcdConnectionArgs): Promise<Record<string, string>> {
    const prefix = `${TLS_STATUS_PREFIX}/`;
    const all = await withEtcd(connection, (session) => session.run("read the machines' TLS reports", (client) => client.getAll().prefix(prefix).strings()));
    return Object.fromEntries(Object.entries(all).map(([key, value]) => [key.slice(prefix.length), value]));
}

/** Resolves once every machine holds the phase; rejects after the timeout naming who does not. */
export async function waitForPhase(inputs: TlsPhaseWaitInputs, opts: { pollMs?: number; log?: (m: string) => void } = {}): Promise<string[]> {
    if (!inputs.roll) return [];
    if (!inputs.connection) {
        opts.log?.(`TLS rollout ${inputs.phase}: no way into the VPC to read the machines' reports; waiting ${inputs.blindWaitSeconds} s for their refresh timers`);
        await sleep(inputs.blindWaitSeconds * 1000);
        return [];
    }
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    let lagging: string[] = ["no report read yet"];
    for (;;) {
        try {
            lagging = laggingMachines(await readReports(inputs.connection), inputs.expected);
        } catch (err) {
            lagging = [`the reports could not be read: ${(err as Error).message}`];
        }
        if (lagging.length === 0) return [];
        if (Date.now() > deadline) {
            throw new Error(`TLS rollout ${inputs.phase}: after ${inputs.timeoutSeconds} s not every machine holds the phase: ${lagging.join("; ")}. Nothing was rolled back: every phase so far keeps the cluster consistent, and the next up resumes from here`);
        }
        await sleep(opts.pollMs ?? 5000);
    }
}

export const provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!Number.isInteger(news.timeoutSeconds) || news.timeoutSeconds < 1) failures.push({ property: "timeoutSeconds", reason: "must be a whole number of seconds from 1" });
        if (!news.expected || typeof news.expected.members !== "object") failures.push({ property: "expected", reason: "must name what each machine reports" });
        return { inputs: news, failures };
    },
    async diff(_id, olds: TlsPhaseWaitState, news: TlsPhaseWaitInputs) {
        // The connection is not compared: a new tunnel or certificate changes nothing the machines hold.
        const changes = (["providerVersion", "phase", "roll", "expected"] as const).some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: TlsPhaseWaitInputs) {
        // A new cluster's machines fetch the target at boot: nothing was rolled, nothing to wait for.
        return { id: `tls-phase-wait`, outs: { ...inputs, roll: false, lagging: [] } };
    },
    async read(id, props: TlsPhaseWaitState) {
        return { id, props };
    },
    async update(_id, _olds, news: TlsPhaseWaitInputs) {
        return { outs: { ...news, lagging: await waitForPhase(news) } };
    },
    async delete() {
        /* Nothing outside the state. */
    },
};
