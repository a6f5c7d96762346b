// How certificates reach machines on GCE (issue 21, model/pki-delivery.ts): one Secret Manager
// secret per bundle (one per member, one for the worker group) and one authoritative accessor
// binding per secret: exactly the holder's service account, nothing project-wide. The versions (the
// bundles' payloads, Pulumi secrets) are the rollout's (tls-rollout.ts): one per phase, so running
// machines move to new certificates in phases. A machine fetches its bundle at boot and on its
// refresh timer with its own identity (cloud-config/tls-fetch.ts, tls-refresh.ts); nothing secret
// is in any instance's metadata.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig } from "../../model/types";
import { encodeBundle, SecretBundle } from "../../model/pki-delivery";
import { resourceLabels } from "./labels";

/** The role that may read a secret's payload, and nothing else. */
export const SECRET_ACCESSOR_ROLE = "roles/secretmanager.secretAccessor";
/** Secret Manager's limit on one version's payload. */
export const SECRET_PAYLOAD_LIMIT_BYTES = 64 * 1024;

/** What TlsSecrets reads of the cluster's PKI: a ClusterPki (components/pki/cluster-pki.ts) is one. */
export interface TlsSecretsPki {
    trustBundle: pulumi.Input<string>;
    issued: pulumi.Input<Record<string, { certPem: string }>>;
    /** Secret: leaf private keys by certificate id. */
    keys: pulumi.Input<Record<string, string>>;
}

export interface TlsSecretsArgs {
    config: ClusterConfig;
    /** secretBundles(cluster, memberNames, specs): one per member, one with holder `worker`. */
    bundles: SecretBundle[];
    /** Each member's own service account email, by member name (the bundle's holder). */
    memberServiceAccounts: Record<string, pulumi.Input<string>>;
    /** The worker group's service account email (every worker holds the same identities). */
    workerServiceAccount: pulumi.Input<string>;
}

/** A bundle's payload from the PKI's outputs; refuses a certificate the PKI did not issue, and a payload over Secret Manager's limit. */
export function bundlePayload(bundle: SecretBundle, trustBundle: string, issued: Record<string, { certPem: string }>, keys: Record<string, string>): string {
    const certificates = bundle.certificateIds.map((id) => {
        const certPem = issued?.[id]?.certPem;
        const keyPem = keys?.[id];
        if (typeof certPem !== "string" || typeof keyPem !== "string") {
            throw new Error(`TLS secret ${bundle.secretId}: the cluster PKI has no certificate and key "${id}" (it must issue every certificate of planCertificates)`);
        }
        return { id, certPem, keyPem };
    });
    const payload = encodeBundle(trustBundle, certificates);
    const size = Buffer.byteLength(payload, "utf8");
    if (size > SECRET_PAYLOAD_LIMIT_BYTES) throw new Error(`TLS secret ${bundle.secretId}: ${size} bytes, over Secret Manager's ${SECRET_PAYLOAD_LIMIT_BYTES}-byte limit`);
    return payload;
}

/** Why TlsSecrets cannot be built from these args (checked before anything is registered), or undefined. */
export function tlsSecretsArgsProblem(args: Pick<TlsSecretsArgs, "bundles" | "memberServiceAccounts">): string | undefined {
    const holders = new Set<string>();
    for (const bundle of args.bundles) {
        if (holders.has(bundle.holder)) return `TLS secrets: two bundles for ${bundle.holder}`;
        holders.add(bundle.holder);
        if (bundle.holder !== "worker" && !Object.prototype.hasOwnProperty.call(args.memberServiceAccounts, bundle.holder)) {
            return `TLS secret ${bundle.secretId}: no service account for member ${bundle.holder}`;
        }
    }
    return undefined;
}

export class TlsSecrets extends pulumi.ComponentResource {
    /** By bundle holder (member name, or `worker`). */
    public readonly secrets: Record<string, gcp.secretmanager.Secret>;
    public readonly accessors: Record<string, gcp.secretmanager.SecretIamBinding>;
    /** Secret ids by holder: what each machine's fetch unit names. */
    public readonly secretIds: Record<string, string>;

    constructor(name: string, args: TlsSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        const problem = tlsSecretsArgsProblem(args);
        if (problem) throw new Error(problem);
        super("coreos-cluster:index:TlsSecrets", name, {}, opts);
        const { config, bundles } = args;
        const project = config.gcp.project;
        this.secrets = {};
        this.accessors = {};
        this.secretIds = {};

        for (const bundle of bundles) {
            const isWorker = bundle.holder === "worker";
            const email = isWorker ? args.workerServiceAccount : args.memberServiceAccounts[bundle.holder];

            const secret = new gcp.secretmanager.Secret(
                bundle.secretId,
                {
                    secretId: bundle.secretId,
                    project,
                    replication: { auto: {} },
                    labels: resourceLabels(config, isWorker ? "worker" : "etcd"),
                },
                { parent: this },
            );
            // Authoritative for the role on this secret: a grant added by hand is removed by the next up.
            const accessor = new gcp.secretmanager.SecretIamBinding(
                `${bundle.secretId}-accessor`,
                {
                    project,
                    secretId: secret.secretId,
                    role: SECRET_ACCESSOR_ROLE,
                    members: [pulumi.interpolate`serviceAccount:${email}`],
                },
                { parent: this },
            );
            this.secrets[bundle.holder] = secret;
            this.accessors[bundle.holder] = accessor;
            this.secretIds[bundle.holder] = bundle.secretId;
        }

        this.registerOutputs({ secretIds: this.secretIds });
    }
}
