// ServiceRegistrationSet: many services registered in etcd as one dynamic resource, under the same
// key schema, ownership markers and rules as ServiceRegistration (one service each). One create
// reads every service once and writes them in transactions of at most 128 operations (a service
// never split), instead of one engine step, one read and one commit per service: this is how the
// program registers the services of its config, and what "seeding 1,000 services" costs.
//
// Each service in the set is owned separately (its marker names `<root>@set:<owner key>`), so the
// set owns only what it wrote, refuses another owner's service unless `adopt`, and can take over
// the services of named resources of the same stack (`takeOverFrom`) when a stack moves to a set.
//
// The provider (service-registration-set-provider.ts) reaches state as one bundle of its modules
// (bundled-provider.ts): no captured client or npm module.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "./bundled-provider";
import { BundledResource } from "./bundled-resource";
import { DEFAULT_SERVICE_PREFIX, ServiceScheme } from "../../model/service-keys";
import { EtcdConnectionInput } from "./service-registration-common";
import { stackOwnerKey } from "./stack-owner-key";
import { SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../provider-versions";
import type { RegisteredService } from "./service-registration-set-provider";

export { SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../provider-versions";
export type { RegisteredService, ServiceRegistrationSetState } from "./service-registration-set-provider";

/** The provider as the engine runs it: the bundle of service-registration-set-provider.ts. */
export const serviceRegistrationSetProvider = bundledProvider(require.resolve("./service-registration-set-provider"));

export interface ServiceRegistrationSetArgs {
    connection: EtcdConnectionInput;
    services: pulumi.Input<pulumi.Input<{ service: pulumi.Input<string>; scheme: pulumi.Input<ServiceScheme>; hosts: pulumi.Input<pulumi.Input<string>[]>; hostPort?: pulumi.Input<number> }>[]>;
    prefix?: pulumi.Input<string>;
    mirrorToV2?: pulumi.Input<boolean>;
    adopt?: pulumi.Input<boolean>;
    /**
     * Names of ServiceRegistration resources of this same stack whose services this set takes over
     * instead of refusing them (a stack moving from one resource per service to a set); their later
     * delete then leaves the services alone. Nobody else's services are taken.
     */
    takeOverFrom?: string[];
    /**
     * Seconds to wait for a booting cluster before the first write: probes with exponential backoff
     * (1 s doubling to 30 s) until etcd answers with a leader, then fails naming the endpoints and
     * the bound. Default 0: no wait beyond the connection's own retries (the program passes its
     * `clusterWaitSeconds`, default 600).
     */
    clusterWaitSeconds?: pulumi.Input<number>;
    providerVersion?: pulumi.Input<string>;
}

/** Registers a set of services in etcd as one resource; see docs/service-registration.md. */
export class ServiceRegistrationSet extends BundledResource {
    declare readonly services: pulumi.Output<RegisteredService[]>;
    declare readonly prefix: pulumi.Output<string>;
    declare readonly mirrorToV2: pulumi.Output<boolean>;
    declare readonly ownedKeys: pulumi.Output<Record<string, string[]>>;
    declare readonly mirroredKeys: pulumi.Output<Record<string, string[]>>;
    declare readonly v2InSync: pulumi.Output<boolean>;

    constructor(name: string, args: ServiceRegistrationSetArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            serviceRegistrationSetProvider,
            name,
            {
                resourceName: name,
                ownerKey: stackOwnerKey(name),
                // Credentials live in the connection: the whole value is a secret in inputs and outputs.
                connection: pulumi.secret(args.connection),
                services: args.services,
                prefix: args.prefix ?? DEFAULT_SERVICE_PREFIX,
                mirrorToV2: args.mirrorToV2 ?? false,
                adopt: args.adopt ?? false,
                ...(args.clusterWaitSeconds !== undefined ? { clusterWaitSeconds: args.clusterWaitSeconds } : {}),
                takeOverFrom: (args.takeOverFrom ?? []).map(stackOwnerKey),
                providerVersion: args.providerVersion ?? SERVICE_REGISTRATION_SET_PROVIDER_VERSION,
                ownedKeys: undefined,
                mirroredKeys: undefined,
                v2InSync: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
            "coreos-cluster",
            "ServiceRegistrationSet",
        );
    }
}
