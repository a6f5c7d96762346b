// The one place that differs between GCE and this machine: a Platform turns the rendered machines
// into a running cluster and pushes fleet units to it. index.ts asks for the config's platform and
// never branches on it; each platform's module (and with it @pulumi/gcp) loads only when chosen.
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, ClusterPlan, FleetUnitOption, FleetDesiredState } from "../model/types";
import type { RenderedMachine } from "../cloud-config";

export interface ClusterArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    machines: RenderedMachine[];
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
}

/** A fleet unit as the stack config declares it, whatever pushes it. */
export interface FleetUnitDeclaration {
    name: string;
    content?: string;
    options?: FleetUnitOption[];
    desiredState?: FleetDesiredState;
    instances?: Array<string | number>;
}

export interface Platform {
    readonly name: ClusterConfig["platform"];
    buildCluster(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions): PlatformCluster;
    /** The resource that puts one declared unit on this platform's cluster. */
    fleetUnit(name: string, unit: FleetUnitDeclaration, config: ClusterConfig, opts?: pulumi.CustomResourceOptions): pulumi.Resource;
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
