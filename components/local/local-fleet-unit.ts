// LocalFleetUnit: the local platform's stand-in for FleetUnit. There is no fleetd here, so
// a unit is validated with the same fleet rules (model/fleet-rules.ts) and written as unit
// file(s) into a folder: the template itself and one file per listed instance. Nothing
// schedules or runs them; the `note` output says so.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import type { FleetDesiredState, FleetUnitOption } from "../../model/types";
import { LOCAL_FLEET_UNIT_PROVIDER_VERSION } from "../provider-versions";

export { LOCAL_FLEET_UNIT_PROVIDER_VERSION } from "../provider-versions";
export type { LocalFleetUnitInputs, LocalFleetUnitState } from "./local-fleet-unit-provider";

/** The provider as the engine runs it: the bundle of local-fleet-unit-provider.ts and its modules. */
export const localFleetUnitProvider = bundledProvider(require.resolve("./local-fleet-unit-provider"));
export interface LocalFleetUnitArgs {
    /** Folder for the unit files (relative paths are resolved against the program's directory). */
    directory: pulumi.Input<string>;
    name: pulumi.Input<string>;
    content?: pulumi.Input<string>;
    options?: pulumi.Input<FleetUnitOption[]>;
    desiredState?: pulumi.Input<FleetDesiredState>;
    instances?: pulumi.Input<Array<string | number>>;
    /** Accepted for parity with FleetUnit; nothing is waited for locally. */
    waitTimeoutSeconds?: pulumi.Input<number>;
}

export class LocalFleetUnit extends BundledResource {
    declare public readonly paths: pulumi.Output<string[]>;
    declare public readonly effectiveState: pulumi.Output<FleetDesiredState>;
    declare public readonly note: pulumi.Output<string>;

    constructor(name: string, args: LocalFleetUnitArgs, opts?: pulumi.CustomResourceOptions) {
        const path: typeof import("path") = require("path");
        super(
            localFleetUnitProvider,
            name,
            {
                ...args,
                directory: pulumi.output(args.directory).apply((d) => path.resolve(d)),
                providerVersion: LOCAL_FLEET_UNIT_PROVIDER_VERSION,
                paths: undefined,
                effectiveState: undefined,
                note: undefined,
            },
            opts,
        );
    }
}
