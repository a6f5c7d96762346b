// The local platform: the cluster is LocalCluster (the rendered machines as processes on this
// machine) and, since fleet does not run here, fleet units are written to the stack's data dir.
import * as path from "path";
import type { Platform } from "../platform";
import { LocalCluster } from "./local-cluster";
import { LocalFleetUnit } from "./local-fleet-unit";

export const localPlatform: Platform = {
    name: "local",
    buildCluster: (name, args, opts) => new LocalCluster(name, args, opts),
    fleetUnit: (name, unit, config, opts) => new LocalFleetUnit(name, { ...unit, directory: path.join(config.local.dataDir, "fleet-units") }, opts),
};
