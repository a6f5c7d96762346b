// EtcdAccess: least privilege in the running etcd (issue 21, item 4). Converges users, roles and
// grants to model/etcd-auth.ts's plan and turns auth on, as etcd's root (a client certificate with
// CN root that never leaves the stack's state), on every `up` whose inputs changed. The table of
// who may do what is docs/security.md.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import type { EtcdConnectionArgs } from "./etcd-client";
import { ETCD_ACCESS_PROVIDER_VERSION } from "../provider-versions";

export const etcdAccessProvider = bundledProvider(require.resolve("./etcd-access-provider"));

export interface EtcdAccessArgs {
    /** The root identity's connection. */
    connection: pulumi.Input<EtcdConnectionArgs>;
    servicesPrefix: pulumi.Input<string>;
    /** The members' names (each a user: model/etcd-auth.ts). */
    memberNames?: pulumi.Input<string[]>;
    /** Private keys of users that also authenticate by password (the router's), by user. */
    passwordKeys: pulumi.Input<Record<string, pulumi.Input<string>>>;
    clusterWaitSeconds?: pulumi.Input<number>;
}

export class EtcdAccess extends BundledResource {
    declare readonly changes: pulumi.Output<string[]>;
    declare readonly unmanaged: pulumi.Output<string[]>;

    constructor(name: string, args: EtcdAccessArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            etcdAccessProvider,
            name,
            {
                connection: pulumi.secret(args.connection),
                servicesPrefix: args.servicesPrefix,
                memberNames: args.memberNames ?? [],
                passwordKeys: pulumi.secret(args.passwordKeys),
                ...(args.clusterWaitSeconds !== undefined ? { clusterWaitSeconds: args.clusterWaitSeconds } : {}),
                providerVersion: ETCD_ACCESS_PROVIDER_VERSION,
                changes: undefined,
                unmanaged: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection", "passwordKeys"] },
            "coreos-cluster",
            "EtcdAccess",
        );
    }
}
