// The workers: a regional instance template and a regional managed instance group over the
// configured zones. Workers are cattle: a new template rolls through the group by surge
// (new VMs first, then the old ones go), so capacity never drops during an update.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig, ClusterPlan } from "../../model/types";
import { autohealingHealthCheck, gceHealthCheckArgs, GCE_AUTOHEALING_INITIAL_DELAY_SEC } from "../../model/health-checks";
import { RenderedMachine } from "../../cloud-config";
import { roleTag } from "../../model/plan";
import { createRoleServiceAccount, resourceLabels, resourceName, VM_SCOPES } from "./labels";
import { IngressPort, ingressPorts } from "./load-balancer";

export interface WorkerPoolArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    /** The rendered worker template (`worker.yaml`): GCE workers share one user-data. */
    machine: RenderedMachine;
    subnetwork: pulumi.Input<string>;
}

/** Seconds a new worker gets to boot before autohealing judges it (Typhoon's value). */
export const AUTOHEALING_INITIAL_DELAY_SEC = GCE_AUTOHEALING_INITIAL_DELAY_SEC;

/**
 * The group's update policy. Regional groups need a surge of 0 or at least the number of
 * zones; with no unavailability, an update only ever adds VMs before removing old ones.
 */
export function workerUpdatePolicy(zoneCount: number) {
    return {
        type: "PROACTIVE",
        minimalAction: "REPLACE",
        maxSurgeFixed: Math.max(zoneCount, 1),
        maxUnavailableFixed: 0,
        instanceRedistributionType: "PROACTIVE",
    };
}

/** Named ports of the group: one per load-balanced port (`http`, `https`, tcp services). */
export function workerNamedPorts(ports: IngressPort[]): { name: string; port: number }[] {
    return ports.map((p) => ({ name: p.name, port: p.port }));
}

export class WorkerPool extends pulumi.ComponentResource {
    public readonly template: gcp.compute.RegionInstanceTemplate;
    public readonly groupManager: gcp.compute.RegionInstanceGroupManager;
    public readonly autoscaler?: gcp.compute.RegionAutoscaler;
    public readonly healthCheck: gcp.compute.RegionHealthCheck;
    public readonly serviceAccount: gcp.serviceaccount.Account;
    /** The instance group URL load balancer backends point at. */
    public readonly instanceGroup: pulumi.Output<string>;

    constructor(name: string, args: WorkerPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:WorkerPool", name, {}, opts);
        const { config, plan } = args;
        const autohealing = autohealingHealthCheck(config);
        const { project, region } = config.gcp;
        const labels = resourceLabels(config, "worker");
        const groupName = resourceName(config.name, "worker");
        const zones = plan.workerZones.length > 0 ? plan.workerZones : config.gcp.zones;

        this.serviceAccount = createRoleServiceAccount(config, "worker", this);

        this.template = new gcp.compute.RegionInstanceTemplate(
            groupName,
            {
                // Templates are immutable: every change is a new template under a fresh name,
                // created before the old one is deleted (the group still points at it).
                namePrefix: `${groupName}-`,
                project,
                region,
                machineType: config.workers.machineType,
                tags: [roleTag(config.name, "worker")],
                labels,
                metadata: { "user-data": args.machine.userData },
                disks: [
                    {
                        boot: true,
                        autoDelete: true,
                        sourceImage: config.os.image,
                        diskSizeGb: config.workers.diskSizeGb,
                        diskType: "pd-balanced",
                        labels,
                    },
                ],
                networkInterfaces: [
                    { subnetwork: args.subnetwork, accessConfigs: config.externalIps ? [{}] : [] },
                ],
                serviceAccount: { email: this.serviceAccount.email, scopes: [...VM_SCOPES] },
                scheduling: { automaticRestart: true, onHostMaintenance: "MIGRATE" },
            },
            { parent: this, deleteBeforeReplace: false },
        );

        // Separate from the load balancer's check and more patient: the balancer should stop
        // sending traffic quickly, autohealing should recreate a VM only when it stays sick.
        this.healthCheck = new gcp.compute.RegionHealthCheck(
            resourceName(config.name, "worker", "autohealing"),
            {
                name: resourceName(config.name, "worker", "autohealing"),
                project,
                region,
                // The local autohealer judges by the same plan (components/local/balancer).
                ...gceHealthCheckArgs(autohealing),
            },
            { parent: this },
        );

        const fixedSize = config.workers.min === config.workers.max;
        this.groupManager = new gcp.compute.RegionInstanceGroupManager(
            groupName,
            {
                name: groupName,
                project,
                region,
                baseInstanceName: groupName,
                distributionPolicyZones: zones,
                versions: [{ name: "default", instanceTemplate: this.template.selfLink }],
                // With an autoscaler the size is the autoscaler's to manage.
                targetSize: fixedSize ? config.workers.min : undefined,
                namedPorts: workerNamedPorts(ingressPorts(config)),
                autoHealingPolicies: {
                    healthCheck: this.healthCheck.id,
                    initialDelaySec: autohealing.initialDelaySec,
                },
                updatePolicy: workerUpdatePolicy(zones.length),
            },
            { parent: this },
        );

        if (!fixedSize) {
            this.autoscaler = new gcp.compute.RegionAutoscaler(
                groupName,
                {
                    name: groupName,
                    project,
                    region,
                    target: this.groupManager.id,
                    autoscalingPolicy: {
                        minReplicas: config.workers.min,
                        maxReplicas: config.workers.max,
                        cooldownPeriod: AUTOHEALING_INITIAL_DELAY_SEC,
                        cpuUtilization: { target: 0.6 },
                    },
                },
                { parent: this },
            );
        }

        this.instanceGroup = this.groupManager.instanceGroup;
        this.registerOutputs({
            instanceGroup: this.instanceGroup,
            templateSelfLink: this.template.selfLink,
            serviceAccountEmail: this.serviceAccount.email,
        });
    }
}
