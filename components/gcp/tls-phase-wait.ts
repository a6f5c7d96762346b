// TlsPhaseWait as a resource (the provider is tls-phase-wait-provider.ts).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { PhaseExpectations } from "../../model/tls-rollout";
import type { EtcdConnectionArgs } from "../etcd/etcd-client";
import { TLS_PHASE_WAIT_PROVIDER_VERSION } from "../provider-versions";

export const tlsPhaseWaitProvider = bundledProvider(require.resolve("./tls-phase-wait-provider"));

export interface TlsPhaseWaitArgs {
    phase: pulumi.Input<string>;
    roll: pulumi.Input<boolean>;
    expected: pulumi.Input<PhaseExpectations>;
    connection?: pulumi.Input<EtcdConnectionArgs>;
    timeoutSeconds: pulumi.Input<number>;
    blindWaitSeconds: pulumi.Input<number>;
}

export class TlsPhaseWait extends BundledResource {
    declare readonly lagging: pulumi.Output<string[]>;

    constructor(name: string, args: TlsPhaseWaitArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            tlsPhaseWaitProvider,
            name,
            {
                providerVersion: TLS_PHASE_WAIT_PROVIDER_VERSION,
                phase: args.phase,
                roll: args.roll,
                expected: args.expected,
                ...(args.connection ? { connection: pulumi.secret(args.connection) } : {}),
                timeoutSeconds: args.timeoutSeconds,
                blindWaitSeconds: args.blindWaitSeconds,
                lagging: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
            "coreos-cluster",
            "TlsPhaseWait",
        );
    }
}
