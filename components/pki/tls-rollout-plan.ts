// TlsRolloutPlan as a resource: the slots of the current rollout (secret), from the bundles the
// machines were last given (its state) and the ones they should hold now.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { RolloutSlot } from "../../model/tls-rollout";
import { TLS_ROLLOUT_PLAN_PROVIDER_VERSION } from "../provider-versions";

export const tlsRolloutPlanProvider = bundledProvider(require.resolve("./tls-rollout-plan-provider"));

export class TlsRolloutPlan extends BundledResource {
    declare readonly slots: pulumi.Output<RolloutSlot[]>;

    constructor(name: string, args: { bundles: pulumi.Input<Record<string, string>> }, opts?: pulumi.CustomResourceOptions) {
        super(
            tlsRolloutPlanProvider,
            name,
            { providerVersion: TLS_ROLLOUT_PLAN_PROVIDER_VERSION, bundles: pulumi.secret(args.bundles), slots: undefined },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "bundles", "slots"] },
            "coreos-cluster",
            "TlsRolloutPlan",
        );
    }
}
