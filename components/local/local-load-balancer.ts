// LocalLoadBalancer: the local counterpart of the GCE LoadBalancer and of the worker group's
// autohealing. One detached process (balancer/main.ts) in the load balancer's namespace listens
// on the load-balanced ports at loadBalancerIp, probes every worker by the same health-check
// plans as GCE (model/health-checks.ts) through the VPC's firewall, forwards to healthy workers
// and recreates a worker that autohealing finds sick. `up` waits until every worker has passed
// the load balancer's check: a worker nothing would send traffic to fails the local stack.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { LOCAL_LOAD_BALANCER_PROVIDER_VERSION } from "../provider-versions";
import type { LocalLoadBalancerInputs } from "./local-load-balancer-provider";

export { LOCAL_LOAD_BALANCER_PROVIDER_VERSION } from "../provider-versions";
export type { LocalLoadBalancerInputs, LocalLoadBalancerState } from "./local-load-balancer-provider";

/** The provider as the engine runs it: the bundle of local-load-balancer-provider.ts and its modules. */
export const localLoadBalancerProvider = bundledProvider(require.resolve("./local-load-balancer-provider"));
export type LocalLoadBalancerArgs = Omit<LocalLoadBalancerInputs, "providerVersion">;

export class LocalLoadBalancer extends BundledResource {
    declare public readonly ip: pulumi.Output<string>;
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;

    constructor(name: string, args: LocalLoadBalancerArgs, opts?: pulumi.CustomResourceOptions) {
        super(localLoadBalancerProvider, name, { ...args, providerVersion: LOCAL_LOAD_BALANCER_PROVIDER_VERSION, pid: undefined, running: undefined, ip: undefined }, opts);
    }
}
