// LocalClusterReadiness: waits (bounded) until every member reports healthy and every
// worker proxy answers a v2 read, so whatever depends on the LocalCluster starts only then.
// Members are created without waiting (a member is healthy only once a quorum runs), so
// this is where the cluster as a whole is waited for. Its inputs include the machines'
// pids: when a machine is restarted, readiness is waited for again.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import type { ProbeTls } from "./vpc/spawn";
import { CLUSTER_READINESS_PROVIDER_VERSION } from "../provider-versions";

export { CLUSTER_READINESS_PROVIDER_VERSION } from "../provider-versions";
export type { ClusterReadinessInputs, ClusterReadinessState } from "./cluster-readiness-provider";

/** The provider as the engine runs it: the bundle of cluster-readiness-provider.ts and its modules. */
export const clusterReadinessProvider = bundledProvider(require.resolve("./cluster-readiness-provider"));
export interface ClusterReadinessArgs {
    cluster: pulumi.Input<string>;
    memberClientUrls: pulumi.Input<pulumi.Input<string>[]>;
    proxyUrls: pulumi.Input<pulumi.Input<string>[]>;
    memberNamespaces?: string[];
    proxyNamespaces?: string[];
    memberProbeTls?: pulumi.Input<Array<ProbeTls | undefined>>;
    proxyProbeTls?: pulumi.Input<Array<ProbeTls | undefined>>;
    pids: pulumi.Input<pulumi.Input<number | undefined>[]>;
    timeoutSeconds?: pulumi.Input<number>;
}

export class LocalClusterReadiness extends BundledResource {
    declare public readonly ready: pulumi.Output<boolean>;
    declare public readonly unhealthy: pulumi.Output<string[]>;

    constructor(name: string, args: ClusterReadinessArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            clusterReadinessProvider,
            name,
            {
                ...args,
                // A machine without a pid (not running) shows as 0, which still differs from its next pid.
                pids: pulumi.output(args.pids).apply((pids) => pids.map((p) => p ?? 0)),
                timeoutSeconds: args.timeoutSeconds ?? 120,
                providerVersion: CLUSTER_READINESS_PROVIDER_VERSION,
                ready: undefined,
                unhealthy: undefined,
            },
            opts,
        );
    }
}
