// LocalTlsRollout: rolls renewed certificates and a rotated CA onto the running local machines in
// phases (model/tls-rollout.ts; the provider is tls-rollout-provider.ts). It follows the machines
// and the load balancer: it acts on a cluster that already serves.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { LOCAL_TLS_ROLLOUT_PROVIDER_VERSION } from "../provider-versions";
import type { RolloutMachine } from "./tls-rollout-provider";

export const localTlsRolloutProvider = bundledProvider(require.resolve("./tls-rollout-provider"));

export interface LocalTlsRolloutArgs {
    /** The local secret store's folder. */
    dir: pulumi.Input<string>;
    /** Target payload by secret id (secret). */
    bundles: pulumi.Input<Record<string, string>>;
    machines: pulumi.Input<RolloutMachine[]>;
    healthTimeoutSeconds?: pulumi.Input<number>;
}

export class LocalTlsRollout extends BundledResource {
    declare readonly rolled: pulumi.Output<string[]>;

    constructor(name: string, args: LocalTlsRolloutArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            localTlsRolloutProvider,
            name,
            { providerVersion: LOCAL_TLS_ROLLOUT_PROVIDER_VERSION, dir: args.dir, bundles: pulumi.secret(args.bundles), machines: args.machines, healthTimeoutSeconds: args.healthTimeoutSeconds ?? 120, rolled: undefined },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "bundles"] },
            "coreos-cluster",
            "LocalTlsRollout",
        );
    }
}
