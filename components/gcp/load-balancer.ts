// The ingress: one static external IP in front of the workers through a regional external
// passthrough network load balancer (a regional backend service on the worker group plus one
// forwarding rule per group of up to 5 ports). Target pools, the legacy form, are not used.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig } from "../../model/types";
import { loadBalancedPorts } from "../../model/firewall";
import { gceHealthCheckArgs, loadBalancerHealthCheck } from "../../model/health-checks";
import { resourceLabels, resourceName } from "./labels";

export interface IngressPort {
    /** Named-port name on the worker group (RFC 1035 label). */
    name: string;
    port: number;
}

/**
 * Every port the load balancer forwards to the workers, named for the group's named ports.
 * The set comes from the firewall matrix's `loadBalancedPorts`, so the balancer and the
 * firewall can never disagree; names: `http`/`https` for 80/443, `http-<port>` for other
 * HTTP ports, the service's name for a tcp service's host_port, else `tcp-<port>`.
 */
export function ingressPorts(config: ClusterConfig): IngressPort[] {
    const used = new Set<string>();
    return loadBalancedPorts(config).map((port) => {
        const service = config.services.find((s) => s.scheme === "tcp" && s.hostPort === port);
        let name: string;
        if (port === 80 && config.loadBalancer.httpPorts.includes(80)) name = "http";
        else if (port === 443 && config.loadBalancer.httpPorts.includes(443)) name = "https";
        else if (config.loadBalancer.httpPorts.includes(port)) name = `http-${port}`;
        else if (service) name = service.name.slice(0, 63).replace(/-+$/, "");
        else name = `tcp-${port}`;
        if (used.has(name)) name = `tcp-${port}`;
        used.add(name);
        return { name, port };
    });
}

/**
 * A backend-service forwarding rule lists at most 5 `ports` (contiguous or not; `ports`,
 * `portRange` and `allPorts` are mutually exclusive), and rules on one address must not share a
 * port: so the ports, in order, in groups of 5.
 */
export const MAX_PORTS_PER_FORWARDING_RULE = 5;
export function forwardingRulePortGroups(ports: IngressPort[]): IngressPort[][] {
    const groups: IngressPort[][] = [];
    for (let i = 0; i < ports.length; i += MAX_PORTS_PER_FORWARDING_RULE) groups.push(ports.slice(i, i + MAX_PORTS_PER_FORWARDING_RULE));
    return groups;
}

export interface LoadBalancerArgs {
    config: ClusterConfig;
    /** Instance group URL of the workers (WorkerPool.instanceGroup). */
    instanceGroup: pulumi.Input<string>;
}

export class LoadBalancer extends pulumi.ComponentResource {
    public readonly address: gcp.compute.Address;
    public readonly healthCheck: gcp.compute.RegionHealthCheck;
    public readonly backendService: gcp.compute.RegionBackendService;
    public readonly forwardingRules: gcp.compute.ForwardingRule[];
    public readonly ip: pulumi.Output<string>;

    constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:LoadBalancer", name, {}, opts);
        const { config } = args;
        const { project, region } = config.gcp;
        const labels = resourceLabels(config, "ingress");
        const ingressName = resourceName(config.name, "ingress");

        this.address = new gcp.compute.Address(
            ingressName,
            {
                name: ingressName,
                project,
                region,
                addressType: "EXTERNAL",
                networkTier: "PREMIUM",
                description: `ingress of cluster ${config.name}`,
                labels,
            },
            { parent: this },
        );

        this.healthCheck = new gcp.compute.RegionHealthCheck(
            resourceName(config.name, "ingress", "health"),
            {
                name: resourceName(config.name, "ingress", "health"),
                project,
                region,
                // The local load balancer probes by the same plan (components/local/local-load-balancer.ts).
                ...gceHealthCheckArgs(loadBalancerHealthCheck(config)),
            },
            { parent: this },
        );

        this.backendService = new gcp.compute.RegionBackendService(
            ingressName,
            {
                name: ingressName,
                project,
                region,
                loadBalancingScheme: "EXTERNAL",
                protocol: "TCP",
                healthChecks: this.healthCheck.id,
                sessionAffinity: "NONE",
                connectionDrainingTimeoutSec: 30,
                // Passthrough balancers balance connections; CONNECTION is the only mode.
                backends: [{ group: args.instanceGroup, balancingMode: "CONNECTION" }],
            },
            { parent: this },
        );

        // Named by the group's position: `<cluster>-ingress-0` holds the first 5 ports, and so on.
        this.forwardingRules = forwardingRulePortGroups(ingressPorts(config)).map(
            (group, i) =>
                new gcp.compute.ForwardingRule(
                    resourceName(config.name, "ingress", i),
                    {
                        name: resourceName(config.name, "ingress", i),
                        project,
                        region,
                        description: `${group.map((p) => `${p.name} (tcp/${p.port})`).join(", ")} to the workers`,
                        loadBalancingScheme: "EXTERNAL",
                        networkTier: "PREMIUM",
                        ipProtocol: "TCP",
                        ipAddress: this.address.address,
                        ports: group.map((p) => String(p.port)),
                        backendService: this.backendService.id,
                        labels,
                    },
                    { parent: this },
                ),
        );

        this.ip = this.address.address;
        this.registerOutputs({ ip: this.ip, backendService: this.backendService.selfLink });
    }
}
