// Refuses a change of the deployed etcd member count that quorum cannot survive.
// Stack config alone cannot know what is deployed; the engine can: it hands this
// resource's `check` the inputs recorded at the last deployment. `check` runs while
// the engine generates steps, in registration order, and the guard is registered
// before the cluster, so a refused change stops the update before any member changes.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";

export const MEMBER_COUNT_GUARD_VERSION = "1";

export interface MemberCountGuardState {
    memberCount: number;
    isDev: boolean;
    providerVersion: string;
}

// Bundled (components/services/bundled-provider.ts): what the engine stores is the bundle's text.
export const memberCountGuardProvider = bundledProvider(require.resolve("./member-count-guard-provider"));

export interface MemberCountGuardArgs {
    memberCount: pulumi.Input<number>;
    isDev: pulumi.Input<boolean>;
}

export class MemberCountGuard extends BundledResource {
    declare readonly memberCount: pulumi.Output<number>;

    constructor(name: string, args: MemberCountGuardArgs, opts?: pulumi.CustomResourceOptions) {
        super(memberCountGuardProvider, name, { ...args, providerVersion: MEMBER_COUNT_GUARD_VERSION }, opts, "coreos-cluster:MemberCountGuard");
    }
}
