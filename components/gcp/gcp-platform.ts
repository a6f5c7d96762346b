// The GCE platform: the cluster is GcpCluster (VPC, firewall, members, workers, load balancer) and
// fleet units and services go to fleetd's API, through the SSH tunnel when the stack declares one.
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, SshTunnelSpec } from "../../model/types";
import type { Platform } from "../platform";
import { GcpCluster } from "./gcp-cluster";
import { FleetUnit } from "../fleet/fleet-unit";
import { FleetService } from "../fleet/fleet-service";
import { tunnelForResources } from "../../model/validate-fields";

/** How the fleet providers reach fleetd. Through a tunnel the endpoint names a host inside the VPC: kept secret with the key. */
function fleetAccess(config: ClusterConfig): { endpoint: pulumi.Input<string>; sshTunnel?: pulumi.Input<SshTunnelSpec> } {
    const tunnel = config.access.sshTunnel;
    const endpoint = config.fleet.endpoint ?? "unix:///var/run/fleet.sock";
    return { endpoint: tunnel ? pulumi.secret(endpoint) : endpoint, sshTunnel: tunnel && pulumi.secret(tunnelForResources(tunnel)) };
}

export const gcpPlatform: Platform = {
    name: "gcp",
    deployerTunnel: (config) => config.access.sshTunnel && tunnelForResources(config.access.sshTunnel),
    buildCluster: (name, args, opts) => new GcpCluster(name, args, opts),
    fleetUnit(name, unit, config, opts) {
        return new FleetUnit(name, { ...unit, ...fleetAccess(config), clusterWaitSeconds: config.access.clusterWaitSeconds }, opts);
    },
    fleetService(name, s, config, etcdEndpoints, opts) {
        const resource = new FleetService(
            name,
            {
                ...fleetAccess(config),
                service: s.name,
                image: s.image,
                containerPort: s.containerPort,
                content: s.content,
                instancePort: s.instancePort,
                count: s.count,
                scheme: s.scheme,
                hostPort: s.hostPort,
                ttlSeconds: s.ttlSeconds,
                waitTimeoutSeconds: s.waitTimeoutSeconds,
                clusterWaitSeconds: config.access.clusterWaitSeconds,
                etcdEndpoints,
                prefix: config.servicesPrefix,
                // The ownership rule, checked again by the provider: these hosts come from ServiceRegistrationSet.
                declaredServices: config.services.map((d) => d.name),
            },
            opts,
        );
        return { resource, notAppliedLocally: null };
    },
};
