// FleetService: a templated fleet service (`<name>@.service`) with presence sidekicks
// (`<name>_presence@.service`) that announce each instance in etcd for the router, rolled on every
// change: new instances numbered after the highest start, fleet must report them and their
// sidekicks running (bounded wait), and only then the old sidekicks and instances go. A failure
// before that removes what it started, so the old generation keeps serving. docs/fleet-units.md.
//
// The provider (fleet-service-provider.ts) reaches state as one bundle of its modules
// (components/services/bundled-provider.ts): no captured client or npm module.
import * as pulumi from "@pulumi/pulumi";
import type { SshTunnelSpec } from "../../model/types";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { FLEET_SERVICE_PROVIDER_VERSION } from "../provider-versions";

export { FLEET_SERVICE_PROVIDER_VERSION } from "../provider-versions";
export type { FleetServiceState } from "./fleet-service-provider";

export const fleetServiceProvider = bundledProvider(require.resolve("./fleet-service-provider"));

export interface FleetServiceArgs {
    /** fleet's API: `unix:///var/run/fleet.sock` or `http://host:port` (as the bastion sees it when tunnelled). */
    endpoint: pulumi.Input<string>;
    sshTunnel?: pulumi.Input<SshTunnelSpec>;
    /** The service name: a DNS label; units are `<service>@N.service`, keys `<prefix>/<service>/...`. */
    service: pulumi.Input<string>;
    /** A docker image, run with `containerPort` published on an ephemeral host port... */
    image?: pulumi.Input<string>;
    containerPort?: pulumi.Input<number>;
    /** ...or the template's own unit file text (`%i` is the instance), listening on `instancePort`. */
    content?: pulumi.Input<string>;
    instancePort?: pulumi.Input<number>;
    /** Number of instances. */
    count: pulumi.Input<number>;
    /** etcd v3 client URLs of the members, as the machines see them (a worker's local etcd is a v2 proxy). */
    etcdEndpoints: pulumi.Input<string>;
    prefix?: pulumi.Input<string>;
    scheme?: pulumi.Input<"http" | "tcp">;
    hostPort?: pulumi.Input<number>;
    /** Lease TTL of the announced keys (default 30 s, refreshed every TTL/3). */
    ttlSeconds?: pulumi.Input<number>;
    /** Service names this program declares with ServiceRegistration(Set): this service must not be one. */
    declaredServices?: pulumi.Input<string[]>;
    /** Bound on each wait for fleet (default 300 s). */
    waitTimeoutSeconds?: pulumi.Input<number>;
    /** On create, how long to wait for a booting cluster's fleet API first (coreos-cluster:clusterWaitSeconds). */
    clusterWaitSeconds?: pulumi.Input<number>;
    pollIntervalMs?: pulumi.Input<number>;
    requestTimeoutMs?: pulumi.Input<number>;
    retries?: pulumi.Input<number>;
    retryDelayMs?: pulumi.Input<number>;
}

export class FleetService extends BundledResource {
    /** The instances fleet holds for this service after the last operation (what runs). */
    declare readonly instances: pulumi.Output<string[]>;
    declare readonly healthyInstances: pulumi.Output<string[]>;
    declare readonly unitNames: pulumi.Output<string[]>;
    declare readonly templateHash: pulumi.Output<string>;
    declare readonly providerVersion: pulumi.Output<string>;

    constructor(name: string, args: FleetServiceArgs, opts: pulumi.CustomResourceOptions = {}) {
        const tunnelled = args.sshTunnel !== undefined;
        super(fleetServiceProvider, name, {
            ...args,
            // fleet has no authentication: a tunnelled endpoint and its key control the cluster
            endpoint: tunnelled ? pulumi.secret(args.endpoint) : args.endpoint,
            sshTunnel: tunnelled ? pulumi.secret(args.sshTunnel) : undefined,
            providerVersion: FLEET_SERVICE_PROVIDER_VERSION,
            instances: undefined, healthyInstances: undefined, unitNames: undefined, templateHash: undefined, sidekickHash: undefined,
        }, { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "sshTunnel", ...(tunnelled ? ["endpoint"] : [])] }, "coreos-cluster", "FleetService");
    }
}
