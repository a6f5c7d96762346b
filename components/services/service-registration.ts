// ServiceRegistration: a dynamic resource that registers one service in etcd under the schema
// confd/haproxy read (see service-keys.ts), through etcd v3 (etcd3) and optionally mirrored into
// the v2 keyspace. It owns only what it wrote, recorded in an owner marker outside that schema.
// The etcd reads and writes themselves are in service-store.ts (shared with ServiceRegistrationSet
// and bulk seeding); concurrent creates are merged by service-write-coalescer.ts.
//
// The provider (service-registration-provider.ts) reaches state as one bundle of its modules
// (bundled-provider.ts): it captures no client and no npm module (they are required inside functions).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "./bundled-provider";
import { BundledResource } from "./bundled-resource";
import { DEFAULT_SERVICE_PREFIX, ServiceScheme } from "../../model/service-keys";
import { EtcdConnectionInput } from "./service-registration-common";
import { SERVICE_REGISTRATION_PROVIDER_VERSION } from "../provider-versions";
import { stackOwnerKey } from "./stack-owner-key";

export { readSnapshots, registerServices, seedServices, unregisterServices } from "./service-store";
export { coalescedWriteStats, registerServiceCoalesced, setCoalescing } from "./service-write-coalescer";
export { SERVICE_REGISTRATION_PROVIDER_VERSION } from "../provider-versions";
export type { ServiceRegistrationState } from "./service-registration-provider";
export type { SeedService, ServiceRemoval } from "./service-store";
export type { EtcdConnectionInput } from "./service-registration-common";

/** The provider as the engine runs it: the bundle of service-registration-provider.ts. */
export const serviceRegistrationProvider = bundledProvider(require.resolve("./service-registration-provider"));

export interface ServiceRegistrationArgs {
    connection: EtcdConnectionInput;
    service: pulumi.Input<string>;
    scheme: pulumi.Input<ServiceScheme>;
    hosts: pulumi.Input<pulumi.Input<string>[]>;
    hostPort?: pulumi.Input<number>;
    prefix?: pulumi.Input<string>;
    mirrorToV2?: pulumi.Input<boolean>;
    adopt?: pulumi.Input<boolean>;
    /**
     * Seconds to wait for a booting cluster before the first write: probes with exponential backoff
     * (1 s doubling to 30 s) until etcd answers with a leader, then fails naming the endpoints and
     * the bound. Default 0: no wait beyond the connection's own retries (the program passes its
     * `clusterWaitSeconds`, default 600).
     */
    clusterWaitSeconds?: pulumi.Input<number>;
    providerVersion?: pulumi.Input<string>;
}

/** Registers one service's keys in etcd; see docs/service-registration.md. */
export class ServiceRegistration extends BundledResource {
    declare readonly service: pulumi.Output<string>;
    declare readonly scheme: pulumi.Output<ServiceScheme>;
    declare readonly hosts: pulumi.Output<string[]>;
    declare readonly hostPort: pulumi.Output<number | undefined>;
    declare readonly prefix: pulumi.Output<string>;
    declare readonly mirrorToV2: pulumi.Output<boolean>;
    declare readonly ownedKeys: pulumi.Output<string[]>;
    declare readonly mirroredKeys: pulumi.Output<string[]>;
    declare readonly v2InSync: pulumi.Output<boolean>;

    constructor(name: string, args: ServiceRegistrationArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            serviceRegistrationProvider,
            name,
            {
                resourceName: name,
                ownerKey: stackOwnerKey(name),
                // Credentials live in the connection: the whole value is a secret in inputs and outputs.
                connection: pulumi.secret(args.connection),
                service: args.service,
                scheme: args.scheme,
                hosts: args.hosts,
                hostPort: args.hostPort,
                prefix: args.prefix ?? DEFAULT_SERVICE_PREFIX,
                mirrorToV2: args.mirrorToV2 ?? false,
                adopt: args.adopt ?? false,
                ...(args.clusterWaitSeconds !== undefined ? { clusterWaitSeconds: args.clusterWaitSeconds } : {}),
                providerVersion: args.providerVersion ?? SERVICE_REGISTRATION_PROVIDER_VERSION,
                ownedKeys: undefined,
                mirroredKeys: undefined,
                v2InSync: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] },
            "coreos-cluster",
            "ServiceRegistration",
        );
    }
}
