// LocalClusterReadiness: waits (bounded) until every member reports healthy and every
// worker proxy answers a v2 read, so whatever depends on the LocalCluster starts only then.
// Members are created without waiting (a member is healthy only once a quorum runs), so
// this is where the cluster as a whole is waited for. Its inputs include the machines'
// pids: when a machine is restarted, readiness is waited for again.
//
// The provider's side of LocalClusterReadiness (cluster-readiness.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import { memberHealthy, proxyAnswers } from "./processes";
import type { ProbeTls } from "./vpc/spawn";

export interface ClusterReadinessInputs {
    cluster: string;
    memberClientUrls: string[];
    proxyUrls: string[];
    /** Each member's / proxy's namespace in the local VPC: it probes itself there (the deployer cannot). */
    memberNamespaces?: string[];
    proxyNamespaces?: string[];
    /** The client certificate files each member's / proxy's probe presents (mutual TLS; absent: plain). */
    memberProbeTls?: Array<ProbeTls | undefined>;
    proxyProbeTls?: Array<ProbeTls | undefined>;
    /** Pids of every machine, so a restart triggers a new wait. */
    pids: number[];
    timeoutSeconds: number;
    providerVersion: string;
}

export interface ClusterReadinessState extends ClusterReadinessInputs {
    ready: boolean;
    /** Members / proxies not answering when last checked. */
    unhealthy: string[];
}

async function unhealthyEndpoints(inputs: ClusterReadinessInputs): Promise<string[]> {
    const members = await Promise.all(inputs.memberClientUrls.map(async (u, i) => ((await memberHealthy(u, 1500, inputs.memberNamespaces?.[i], inputs.memberProbeTls?.[i] ?? undefined)) ? undefined : `member ${u}`)));
    const proxies = await Promise.all(inputs.proxyUrls.map(async (u, i) => ((await proxyAnswers(u, 1500, inputs.proxyNamespaces?.[i], inputs.proxyProbeTls?.[i] ?? undefined)) ? undefined : `proxy ${u}`)));
    return [...members, ...proxies].filter((x): x is string => x !== undefined);
}

/** Polls until every member is healthy and every proxy answers; throws naming what is not, after the timeout. */
export async function waitClusterReady(inputs: ClusterReadinessInputs): Promise<ClusterReadinessState> {
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    for (;;) {
        const unhealthy = await unhealthyEndpoints(inputs);
        if (unhealthy.length === 0) return { ...inputs, ready: true, unhealthy };
        if (Date.now() > deadline) {
            throw new Error(
                `local cluster ${inputs.cluster} not ready after ${inputs.timeoutSeconds} s: ${unhealthy.join(", ")} ` +
                    `(see etcd.log in each machine's folder)`,
            );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

export const provider: ProviderOperations = {
    async check(_olds: ClusterReadinessInputs, news: ClusterReadinessInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.timeoutSeconds === "number" && !(news.timeoutSeconds > 0)) {
            failures.push({ property: "timeoutSeconds", reason: "timeoutSeconds must be positive" });
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: ClusterReadinessState, news: ClusterReadinessInputs) {
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        const changes =
            olds.ready !== true ||
            !same(olds.memberClientUrls, news.memberClientUrls) ||
            !same(olds.proxyUrls, news.proxyUrls) ||
            !same(olds.pids, news.pids) ||
            olds.timeoutSeconds !== news.timeoutSeconds ||
            olds.providerVersion !== news.providerVersion;
        return { changes, replaces: olds.cluster !== news.cluster ? ["cluster"] : [] };
    },
    async create(inputs: ClusterReadinessInputs) {
        return { id: `${inputs.cluster}-readiness`, outs: await waitClusterReady(inputs) };
    },
    async read(id: string, props: ClusterReadinessState) {
        const unhealthy = await unhealthyEndpoints(props);
        return { id, props: { ...props, ready: unhealthy.length === 0, unhealthy } };
    },
    async update(_id: string, _olds: ClusterReadinessState, news: ClusterReadinessInputs) {
        return { outs: await waitClusterReady(news) };
    },
    async delete() {
        // Nothing to undo: readiness is an observation.
    },
};
