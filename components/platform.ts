// The one place that differs between GCE and this machine: a Platform turns the rendered machines
// into a running cluster and pushes fleet units to it. index.ts asks for the config's platform and
// never branches on it; each platform's module (and with it @pulumi/gcp) loads only when chosen.
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, ClusterPlan, FleetServiceConfig, FleetUnitOption, FleetDesiredState, SshTunnelSpec } from "../model/types";
import type { RenderedMachine } from "../cloud-config";
import type { LocalView } from "../model/local-view";

/** What a platform reads of the cluster's PKI to deliver the machines' bundles: a ClusterPki is one. */
export interface ClusterPkiOutputs {
    trustBundle: pulumi.Input<string>;
    issued: pulumi.Input<Record<string, { certPem: string }>>;
    /** Secret: leaf private keys by certificate id. */
    keys: pulumi.Input<Record<string, string>>;
}

export interface ClusterArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    machines: RenderedMachine[];
    /** The cluster's certificates: GCE stores each bundle in Secret Manager, the local platform in its root-only store. */
    pki?: ClusterPkiOutputs;
}

/** What every platform's cluster exposes; the GCE-only parts are null where a platform has none. */
export interface PlatformCluster extends pulumi.Resource {
    readonly memberNames: pulumi.Output<string[]>;
    readonly memberIps: pulumi.Output<string[]>;
    readonly clientUrls: pulumi.Output<string[]>;
    readonly peerUrls: pulumi.Output<string[]>;
    readonly workerInstanceGroup: pulumi.Output<string> | null;
    readonly loadBalancerIp: pulumi.Output<string> | null;
    readonly networkSelfLink: pulumi.Output<string> | null;
    readonly subnetSelfLink: pulumi.Output<string> | null;
    /** Per machine, what of its cloud-config this platform does not apply; null where all of it applies (GCE). */
    readonly notAppliedLocally: pulumi.Output<Record<string, string[]>> | null;
    /** The local stack's machines, folders and services for its operator commands; null on GCE. */
    readonly localView: pulumi.Output<LocalView> | null;
    /** The local Prometheus's UI and API (docs/metrics.md); null on GCE, where the operator's own Prometheus scrapes. */
    readonly prometheusUrl: pulumi.Output<string> | null;
}

/** A fleet unit as the stack config declares it, whatever pushes it. */
export interface FleetUnitDeclaration {
    name: string;
    content?: string;
    options?: FleetUnitOption[];
    desiredState?: FleetDesiredState;
    instances?: Array<string | number>;
}

/** A declared FleetService as a platform puts it on its cluster. */
export interface PlatformFleetService {
    readonly resource: pulumi.Resource;
    /** What of the service (units, rolling update, sidekicks) does not happen here; null where all of it does. */
    readonly notAppliedLocally: pulumi.Output<string> | null;
}

export interface Platform {
    readonly name: ClusterConfig["platform"];
    /** How the deployer's providers reach the members (the stack's sshTunnel, as this platform dials it). */
    deployerTunnel(config: ClusterConfig, plan: ClusterPlan): SshTunnelSpec | undefined;
    buildCluster(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions): PlatformCluster;
    /** The resource that puts one declared unit on this platform's cluster. */
    fleetUnit(name: string, unit: FleetUnitDeclaration, config: ClusterConfig, opts?: pulumi.CustomResourceOptions): pulumi.Resource;
    /**
     * One declared FleetService. `etcdEndpoints`: the members' v3 client URLs as the machines see
     * them, comma-separated (the sidekicks write there; a worker's local etcd is a v2 proxy).
     */
    fleetService(name: string, service: FleetServiceConfig, config: ClusterConfig, etcdEndpoints: string, opts?: pulumi.CustomResourceOptions): PlatformFleetService;
}

/**
 * The stack's `notAppliedLocally` output: per machine what of its cloud-config did not run, and per
 * fleet service what fleet would have done; null where everything applies (GCE).
 */
export function notAppliedLocally(cluster: PlatformCluster, fleetServices: Record<string, PlatformFleetService>) {
    if (cluster.notAppliedLocally === null) return null;
    const notes = Object.entries(fleetServices).flatMap(([name, s]) => (s.notAppliedLocally === null ? [] : [[name, s.notAppliedLocally] as const]));
    return pulumi.output({ machines: cluster.notAppliedLocally, fleetServices: Object.fromEntries(notes) });
}

export function platformFor(config: ClusterConfig): Platform {
    switch (config.platform) {
        case "gcp":
            return (require("./gcp/gcp-platform") as typeof import("./gcp/gcp-platform")).gcpPlatform;
        case "local":
            return (require("./local/local-platform") as typeof import("./local/local-platform")).localPlatform;
        default:
            throw new Error(`coreos-cluster:platform: no platform named '${String((config as { platform: unknown }).platform)}'`);
    }
}
