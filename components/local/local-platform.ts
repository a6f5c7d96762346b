// The local platform: the cluster is LocalCluster (the rendered machines as processes on this
// machine) and, since fleet does not run here, fleet units and fleet services are written to the
// stack's data dir, with notes saying what did not happen.
import * as path from "path";
import type { Platform } from "../platform";
import { LocalCluster } from "./local-cluster";
import { LocalFleetUnit } from "./local-fleet-unit";
import { LocalFleetService } from "./local-fleet-service";
import { localVpcPlan } from "./vpc/addressing";
import { tunnelForResources } from "../../model/validate-fields";

const unitsDir = (dataDir: string) => path.join(dataDir, "fleet-units");

export const localPlatform: Platform = {
    name: "local",
    // The tunnel's host is a member in the local VPC: dialed only through that VPC's bridge.
    deployerTunnel: (config, plan) => config.access.sshTunnel && { ...tunnelForResources(config.access.sshTunnel), localVpc: localVpcPlan(config, plan).subnet },
    buildCluster: (name, args, opts) => new LocalCluster(name, args, opts),
    fleetUnit: (name, unit, config, opts) => new LocalFleetUnit(name, { ...unit, directory: unitsDir(config.local.dataDir) }, opts),
    fleetService(name, service, config, etcdEndpoints, opts) {
        // Absolute, as LocalFleetUnit records it: the note names the folder the files are in.
        const directory = path.resolve(unitsDir(config.local.dataDir));
        const resource = new LocalFleetService(name, { service, prefix: config.servicesPrefix, etcdEndpoints, directory }, opts);
        return { resource, notAppliedLocally: resource.note };
    },
};
