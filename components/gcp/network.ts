// The cluster's network: a custom-mode VPC with one subnet (or an existing network and
// subnet named in config), and Cloud NAT when the VMs have no external IP of their own.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig } from "../../model/types";
import { resourceName } from "./labels";

export interface NetworkArgs {
    config: ClusterConfig;
}

/** A self link (`projects/...`, `https://...`) is used as given; a bare name is looked up. */
export function isSelfLink(value: string): boolean {
    return value.includes("/");
}

export class Network extends pulumi.ComponentResource {
    public readonly networkSelfLink: pulumi.Output<string>;
    public readonly subnetSelfLink: pulumi.Output<string>;
    /** Present exactly when the VMs have no external IPs. */
    public readonly router?: gcp.compute.Router;
    public readonly nat?: gcp.compute.RouterNat;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:Network", name, {}, opts);
        const { config } = args;
        const { project, region } = config.gcp;
        const clusterName = config.name;

        this.networkSelfLink = config.gcp.existingNetwork
            ? this.existingNetwork(config.gcp.existingNetwork, project)
            : new gcp.compute.Network(
                  resourceName(clusterName, "network"),
                  {
                      name: resourceName(clusterName, "network"),
                      project,
                      description: `coreos-cluster ${clusterName} (${config.environment})`,
                      // Custom mode: no auto-created subnets (and no default firewall rules),
                      // so the Firewall component's rules are all that is open.
                      autoCreateSubnetworks: false,
                      routingMode: "REGIONAL",
                  },
                  { parent: this },
              ).selfLink;

        this.subnetSelfLink = config.gcp.existingSubnetwork
            ? this.existingSubnetwork(config.gcp.existingSubnetwork, project, region)
            : new gcp.compute.Subnetwork(
                  resourceName(clusterName, "subnet"),
                  {
                      name: resourceName(clusterName, "subnet"),
                      project,
                      region,
                      network: this.networkSelfLink,
                      ipCidrRange: config.gcp.subnetCidr,
                      // Without external IPs the VMs still reach Google APIs (logging, monitoring).
                      privateIpGoogleAccess: true,
                  },
                  { parent: this },
              ).selfLink;

        if (!config.externalIps) {
            this.router = new gcp.compute.Router(
                resourceName(clusterName, "router"),
                {
                    name: resourceName(clusterName, "router"),
                    project,
                    region,
                    network: this.networkSelfLink,
                },
                { parent: this },
            );
            this.nat = new gcp.compute.RouterNat(
                resourceName(clusterName, "nat"),
                {
                    name: resourceName(clusterName, "nat"),
                    project,
                    region,
                    router: this.router.name,
                    natIpAllocateOption: "AUTO_ONLY",
                    // Only the cluster's subnet: an existing network may hold subnets that
                    // are not ours to give egress to.
                    sourceSubnetworkIpRangesToNat: "LIST_OF_SUBNETWORKS",
                    subnetworks: [{ name: this.subnetSelfLink, sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
                    logConfig: { enable: true, filter: "ERRORS_ONLY" },
                },
                { parent: this },
            );
        }

        this.registerOutputs({
            networkSelfLink: this.networkSelfLink,
            subnetSelfLink: this.subnetSelfLink,
            natName: this.nat?.name,
        });
    }

    private existingNetwork(nameOrLink: string, project: string): pulumi.Output<string> {
        if (isSelfLink(nameOrLink)) return pulumi.output(nameOrLink);
        // Looked up so that a typo fails at preview, before anything is created in it.
        return gcp.compute.getNetworkOutput({ name: nameOrLink, project }, { parent: this }).selfLink;
    }

    private existingSubnetwork(nameOrLink: string, project: string, region: string): pulumi.Output<string> {
        const found = isSelfLink(nameOrLink)
            ? gcp.compute.getSubnetworkOutput({ selfLink: nameOrLink }, { parent: this })
            : gcp.compute.getSubnetworkOutput({ name: nameOrLink, project, region }, { parent: this });
        return found.selfLink;
    }
}
