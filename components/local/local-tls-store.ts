// LocalTlsStore: the local platform's Secret Manager (components/local/tls-store.ts). One resource
// holds every bundle of the cluster (one per member, one for the workers) as files of a root-only
// folder under the stack's data dir; the machines' boot reads its own from there (the simulated
// coreos-tls-fetch.service). Once written, a bundle's content is changed by LocalTlsRollout
// (tls-rollout-provider.ts), which rolls it onto the running machines. The payloads (private keys) are secret inputs: they are in state only
// as secrets, never in a plain output. Destroy removes the bundles and, once empty, the folder.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { LOCAL_TLS_STORE_PROVIDER_VERSION } from "../provider-versions";

export { LOCAL_TLS_STORE_PROVIDER_VERSION } from "../provider-versions";
export type { LocalTlsStoreInputs } from "./local-tls-store-provider";

/** The provider as the engine runs it: the bundle of local-tls-store-provider.ts and its modules. */
export const localTlsStoreProvider = bundledProvider(require.resolve("./local-tls-store-provider"));
export interface LocalTlsStoreArgs {
    dir: pulumi.Input<string>;
    bundles: pulumi.Input<Record<string, string>>;
}

export class LocalTlsStore extends BundledResource {
    constructor(name: string, args: LocalTlsStoreArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            localTlsStoreProvider,
            name,
            { dir: args.dir, bundles: pulumi.secret(args.bundles), providerVersion: LOCAL_TLS_STORE_PROVIDER_VERSION },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "bundles"] },
        );
    }
}
