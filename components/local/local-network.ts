// LocalNetwork: the local VPC as one resource: the bridge, a namespace per machine (and one for the
// load balancer), their veths and addresses, and the firewall matrix as nftables rules in each.
// A changed matrix is applied in place (atomically per namespace); a changed subnet or bridge
// replaces the VPC. Refresh notices missing parts; destroy removes everything it recorded.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import type { VpcPlan } from "./vpc/addressing";
import { LOCAL_NETWORK_PROVIDER_VERSION } from "../provider-versions";

export { LOCAL_NETWORK_PROVIDER_VERSION } from "../provider-versions";
export type { LocalNetworkInputs, LocalNetworkState } from "./local-network-provider";

/** The provider as the engine runs it: the bundle of local-network-provider.ts and its modules. */
export const localNetworkProvider = bundledProvider(require.resolve("./local-network-provider"));
export interface LocalNetworkArgs {
    vpc: VpcPlan;
    rulesets: Record<string, string>;
    rootGuard: { table: string; ruleset: string };
    dataDir: string;
}

export class LocalNetwork extends BundledResource {
    declare public readonly missing: pulumi.Output<string[]>;

    constructor(name: string, args: LocalNetworkArgs, opts?: pulumi.CustomResourceOptions) {
        super(localNetworkProvider, name, { ...args, providerVersion: LOCAL_NETWORK_PROVIDER_VERSION, missing: undefined }, opts);
    }
}
