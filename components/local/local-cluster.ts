// LocalCluster: the local platform. Each rendered machine becomes a LocalMachine that boots
// its own user-data on its planned loopback address (members first, workers after them),
// and a readiness step resolves `ready` once every member is healthy and every proxy answers.
// Load balancer and firewall have no local counterpart.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, ClusterPlan, MachineRole } from "../../model/types";
import { LocalClusterReadiness } from "./cluster-readiness";
import { demoBackendsFor } from "./demo-backends";
import { LocalMachine } from "./local-machine";

/** The fields of cloud-config's RenderedMachine this platform needs. */
export interface LocalRenderedMachine {
    name: string;
    role: MachineRole;
    fileName: string;
    userData: string;
}

export interface LocalClusterArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    machines: LocalRenderedMachine[];
    /** Bound on the wait for the whole cluster (default 120). */
    readyTimeoutSeconds?: number;
}

/** Planned loopback address per machine name; throws naming a rendered machine the plan has no address for. */
export function localAddresses(plan: ClusterPlan, machines: LocalRenderedMachine[]): Record<string, string> {
    const planned: Record<string, string | undefined> = {};
    for (const m of plan.members) planned[m.name] = m.privateIp;
    for (const w of plan.workers) planned[w.name] = w.privateIp;
    const addresses: Record<string, string> = {};
    for (const machine of machines) {
        const address = planned[machine.name];
        if (!address) throw new Error(`local machine ${machine.name} (${machine.fileName}) has no planned loopback address`);
        addresses[machine.name] = address;
    }
    return addresses;
}

/** The plain inputs of each machine's LocalMachine: its planned address, its user-data, its folder under `dataRoot`. */
export function localMachineSpecs(config: ClusterConfig, plan: ClusterPlan, machines: LocalRenderedMachine[], dataRoot: string) {
    const addresses = localAddresses(plan, machines);
    return machines.map((m) => ({
        name: m.name,
        role: m.role,
        address: addresses[m.name],
        userData: m.userData,
        root: path.join(dataRoot, m.name),
        flavor: config.os.flavor,
        // No fleetd runs the services' units here: a worker stands in for the hosts on its address.
        ...(m.role === "worker" ? { demoBackends: demoBackendsFor(config.services, addresses[m.name]) } : {}),
    }));
}

export class LocalCluster extends pulumi.ComponentResource {
    public readonly memberNames: pulumi.Output<string[]>;
    public readonly memberIps: pulumi.Output<string[]>;
    public readonly clientUrls: pulumi.Output<string[]>;
    public readonly peerUrls: pulumi.Output<string[]>;
    public readonly workerProxyUrls: pulumi.Output<string[]>;
    // GCE-only outputs: this platform has no instance group, load balancer or VPC.
    public readonly workerInstanceGroup = null;
    public readonly loadBalancerIp = null;
    public readonly networkSelfLink = null;
    public readonly subnetSelfLink = null;
    public readonly ready: pulumi.Output<boolean>;
    /** Per machine: the parts of its cloud-config with no local counterpart (fleet, locksmith, ...). */
    public readonly notAppliedLocally: pulumi.Output<Record<string, string[]>>;
    public readonly machines: LocalMachine[];

    constructor(name: string, args: LocalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:LocalCluster", name, {}, opts);
        const { config, plan } = args;
        const specs = new Map(localMachineSpecs(config, plan, args.machines, path.resolve(config.local.dataDir)).map((spec) => [spec.name, spec]));

        const boot = (machine: LocalRenderedMachine, extra: pulumi.CustomResourceOptions) => {
            // Secrets rendered into user-data (etcd passwords) stay secret in state, with what is derived from it.
            const secret = /password/i.test(machine.userData);
            const spec = specs.get(machine.name)!;
            return new LocalMachine(
                machine.name,
                { ...spec, userData: secret ? pulumi.secret(spec.userData) : spec.userData },
                { parent: this, ...(secret ? { additionalSecretOutputs: ["ignored"] } : {}), ...extra },
            );
        };
        // Members are created without waiting for health (a lone member has no quorum); workers proxy to them.
        const members = args.machines.filter((m) => m.role === "etcd").map((m) => boot(m, {}));
        const workers = args.machines.filter((m) => m.role === "worker").map((m) => boot(m, { dependsOn: members }));
        this.machines = [...members, ...workers];
        // Say in the output what a CoreOS host would have done that this platform does not.
        for (const machine of this.machines) {
            machine.ignored.apply((ignored) => {
                if (ignored && ignored.length > 0) pulumi.log.info(`not applied on the local platform: ${ignored.join("; ")}`, machine);
            });
        }

        const readiness = new LocalClusterReadiness(
            `${name}-readiness`,
            {
                cluster: name,
                memberClientUrls: members.map((m) => m.clientUrl),
                proxyUrls: workers.map((w) => w.clientUrl),
                pids: this.machines.map((m) => m.pid),
                timeoutSeconds: args.readyTimeoutSeconds ?? 120,
            },
            { parent: this, dependsOn: this.machines },
        );

        this.memberNames = pulumi.output(plan.members.map((m) => m.name));
        this.memberIps = pulumi.output(plan.members.map((m) => m.privateIp));
        this.clientUrls = pulumi.output(plan.clientUrls);
        this.peerUrls = pulumi.output(plan.members.map((m) => m.peerUrl));
        this.workerProxyUrls = pulumi.all(workers.map((w) => w.clientUrl));
        this.ready = readiness.ready;
        const names = [...args.machines.filter((m) => m.role === "etcd"), ...args.machines.filter((m) => m.role === "worker")].map((m) => m.name);
        this.notAppliedLocally = pulumi
            .all(this.machines.map((m) => m.ignored))
            .apply((lists) => Object.fromEntries(lists.map((ignored, i) => [names[i], ignored ?? []])));
        this.registerOutputs({
            memberNames: this.memberNames,
            memberIps: this.memberIps,
            clientUrls: this.clientUrls,
            peerUrls: this.peerUrls,
            workerProxyUrls: this.workerProxyUrls,
            ready: this.ready,
            notAppliedLocally: this.notAppliedLocally,
        });
    }
}
