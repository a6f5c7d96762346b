// FleetUnit: a dynamic resource that pushes one fleet unit (or a template and its instances)
// through fleet's HTTP API v1 and waits until fleet reports the desired state.
//
// The provider (fleet-unit-provider.ts) reaches state as one bundle of its modules
// (components/services/bundled-provider.ts): no captured client or npm module, and no closure
// serialization (whose inspector session cost every program with fleet units ~250 ms).
// States written before the bundle hold a shim that loads this module from disk at run time and
// calls the functions re-exported below: they keep working.
import * as pulumi from "@pulumi/pulumi";
import type { FleetDesiredState, FleetUnitOption, SshTunnelSpec } from "../../model/types";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { FLEET_UNIT_PROVIDER_VERSION } from "../provider-versions";

export { FLEET_UNIT_PROVIDER_VERSION } from "../provider-versions";
export { FleetUnitError, checkFleetUnit, diffFleetUnit, createFleetUnit, readFleetUnit, updateFleetUnit, deleteFleetUnit, managedUnitNames } from "./fleet-unit-provider";
export type { FleetUnitState } from "./fleet-unit-provider";

export const fleetUnitProvider = bundledProvider(require.resolve("./fleet-unit-provider"));

export interface FleetUnitArgs {
    /** `unix:///var/run/fleet.sock` or `http://host:port` (as seen from the bastion when tunnelled). */
    endpoint: pulumi.Input<string>;
    sshTunnel?: pulumi.Input<SshTunnelSpec>;
    name: pulumi.Input<string>;
    /** Unit file text; give exactly one of content and options. */
    content?: pulumi.Input<string>;
    options?: pulumi.Input<pulumi.Input<FleetUnitOption>[]>;
    /** Default launched; for a template it is the state of its instances (the template stays inactive). */
    desiredState?: pulumi.Input<FleetDesiredState>;
    instances?: pulumi.Input<pulumi.Input<string | number>[]>;
    /** How long to wait for fleet to report the desired state (default 120). */
    waitTimeoutSeconds?: pulumi.Input<number>;
    pollIntervalMs?: pulumi.Input<number>;
    requestTimeoutMs?: pulumi.Input<number>;
    retries?: pulumi.Input<number>;
    retryDelayMs?: pulumi.Input<number>;
    /**
     * Seconds to wait for a booting cluster's fleet API before the first write: probes with
     * exponential backoff (1 s doubling to 30 s) until fleet answers, then fails naming the
     * endpoint (or the tunnel, never a tunnelled endpoint) and the bound. Default 0: no wait.
     */
    clusterWaitSeconds?: pulumi.Input<number>;
}

export class FleetUnit extends BundledResource {
    declare readonly name: pulumi.Output<string>;
    declare readonly options: pulumi.Output<FleetUnitOption[]>;
    declare readonly desiredState: pulumi.Output<FleetDesiredState>;
    declare readonly instances: pulumi.Output<string[]>;
    /** The fleet units this resource manages (the template first, then its instances). */
    declare readonly unitNames: pulumi.Output<string[]>;
    declare readonly providerVersion: pulumi.Output<string>;

    constructor(name: string, args: FleetUnitArgs, opts: pulumi.CustomResourceOptions = {}) {
        const tunnelled = args.sshTunnel !== undefined;
        super(fleetUnitProvider, name, {
            ...args,
            // fleet has no authentication: whoever knows a tunnelled endpoint and the key controls the cluster
            endpoint: tunnelled ? pulumi.secret(args.endpoint) : args.endpoint,
            sshTunnel: tunnelled ? pulumi.secret(args.sshTunnel) : undefined,
            providerVersion: FLEET_UNIT_PROVIDER_VERSION,
            unitNames: undefined,
        }, { ...opts, additionalSecretOutputs: [...(opts.additionalSecretOutputs ?? []), "sshTunnel", ...(tunnelled ? ["endpoint"] : [])] }, "coreos-cluster", "FleetUnit");
    }
}
