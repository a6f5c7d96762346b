// ClusterPki: the stack's own CA and the certificates of model/pki-plan.ts, as one dynamic resource.
// Private keys are secret outputs; expiries are plain (a stack output), and a preview warns when
// any certificate is within the warning window (the next up renews it).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { CertificateSpec, expiryWarnings } from "../../model/pki-plan";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../provider-versions";
import type { IssuedCertificate } from "./cluster-pki-provider";

export const clusterPkiProvider = bundledProvider(require.resolve("./cluster-pki-provider"));

export interface ClusterPkiArgs {
    clusterName: pulumi.Input<string>;
    certificates: pulumi.Input<CertificateSpec[]>;
    leafValidityDays?: pulumi.Input<number>;
    renewBeforeDays?: pulumi.Input<number>;
    caValidityDays?: pulumi.Input<number>;
    caGeneration?: pulumi.Input<number>;
    /** Raise to renew every leaf now (the CA unchanged). */
    leafGeneration?: pulumi.Input<number>;
    /** Keep the CA before the signing one trusted after a rotation (default false: a rotation ends with it dropped). */
    trustPreviousCa?: pulumi.Input<boolean>;
    /** Warn in preview and up this many days before any certificate expires (default 45). */
    warnBeforeDays?: number;
}

export class ClusterPki extends BundledResource {
    declare readonly trustBundle: pulumi.Output<string>;
    declare readonly issued: pulumi.Output<Record<string, IssuedCertificate>>;
    declare readonly keys: pulumi.Output<Record<string, string>>;
    declare readonly caKeys: pulumi.Output<Record<string, string>>;
    declare readonly expiries: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: ClusterPkiArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            clusterPkiProvider,
            name,
            {
                providerVersion: CLUSTER_PKI_PROVIDER_VERSION,
                clusterName: args.clusterName,
                certificates: args.certificates,
                leafValidityDays: args.leafValidityDays ?? 365,
                renewBeforeDays: args.renewBeforeDays ?? 30,
                caValidityDays: args.caValidityDays ?? 3650,
                caGeneration: args.caGeneration ?? 1,
                leafGeneration: args.leafGeneration ?? 1,
                trustPreviousCa: args.trustPreviousCa ?? false,
                cas: undefined,
                caKeys: undefined,
                trustBundle: undefined,
                issued: undefined,
                keys: undefined,
                expiries: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "caKeys", "keys"] },
            "coreos-cluster",
            "ClusterPki",
        );
        const warnDays = args.warnBeforeDays ?? 45;
        this.expiries.apply((expiries) => {
            if (!expiries) return;
            for (const warning of expiryWarnings(expiries, new Date(), warnDays)) pulumi.log.warn(warning, this);
        });
    }
}
