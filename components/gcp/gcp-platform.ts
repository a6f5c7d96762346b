// The GCE platform: the cluster is GcpCluster (VPC, firewall, members, workers, load balancer) and
// fleet units go to fleetd's API, through the SSH tunnel when the stack declares one.
import * as pulumi from "@pulumi/pulumi";
import type { Platform } from "../platform";
import { GcpCluster } from "./gcp-cluster";
import { FleetUnit } from "../fleet/fleet-unit";

export const gcpPlatform: Platform = {
    name: "gcp",
    buildCluster: (name, args, opts) => new GcpCluster(name, args, opts),
    fleetUnit(name, unit, config, opts) {
        // Through a tunnel the endpoint names a host inside the VPC: kept secret with the key.
        const tunnel = config.access.sshTunnel;
        const endpoint = config.fleet.endpoint ?? "unix:///var/run/fleet.sock";
        return new FleetUnit(
            name,
            { ...unit, endpoint: tunnel ? pulumi.secret(endpoint) : endpoint, sshTunnel: tunnel && pulumi.secret(tunnel), clusterWaitSeconds: config.access.clusterWaitSeconds },
            opts,
        );
    },
};
