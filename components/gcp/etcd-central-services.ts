// The etcd central-services machines: a static internal address per member, reserved
// before the instance, and one instance per member in the zone the plan gave it.
//
// Quorum safety: a member must never be replaced by a config change. A new VM boots with
// `initial_cluster_state: new` and an empty data dir, cannot rejoin the running cluster,
// and replacing several at once loses quorum. So the rendered cloud-config, the OS image
// and the disk size are ignored after creation (what Typhoon does for its controllers),
// and in prod the members are `protect`ed and carry GCE deletion protection.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig, ClusterPlan } from "../../model/types";
import { RenderedMachine } from "../../cloud-config";
import { roleTag } from "../../model/plan";
import { createMemberServiceAccount, createRoleServiceAccount, resourceLabels, VM_SCOPES } from "./labels";

export interface EtcdCentralServicesArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    /** Rendered user-data; one etcd machine per plan member, matched by name. */
    machines: RenderedMachine[];
    subnetwork: pulumi.Input<string>;
}

/**
 * Instance properties a member ignores after creation. Changing any of them in place is
 * impossible on GCE (image, disk size) or would re-run bootstrap config on a live member
 * (user-data), so each would otherwise mean replacing the member. The service account and
 * its scopes change only on a stopped VM, and members are never stopped by an update: a
 * member that predates its own account is moved to it by hand, one member at a time
 * (docs/gce.md, "Certificates on GCE").
 */
export const MEMBER_IGNORED_CHANGES: readonly string[] = [
    'metadata["user-data"]',
    "bootDisk.initializeParams.image",
    "bootDisk.initializeParams.size",
    "serviceAccount",
];

/** etcd fsyncs every write; SSD latency keeps leader elections quiet. */
const MEMBER_DISK_TYPE = "pd-ssd";

export class EtcdCentralServices extends pulumi.ComponentResource {
    public readonly addresses: gcp.compute.Address[];
    public readonly instances: gcp.compute.Instance[];
    /** One per member, in plan order: each member reads only its own TLS secret. */
    public readonly serviceAccounts: gcp.serviceaccount.Account[];
    /** The members' shared account of earlier releases, kept for members created with it. */
    public readonly sharedServiceAccount: gcp.serviceaccount.Account;
    public readonly memberNames: pulumi.Output<string[]>;
    public readonly memberIps: pulumi.Output<string[]>;
    public readonly clientUrls: pulumi.Output<string[]>;
    public readonly peerUrls: pulumi.Output<string[]>;

    constructor(name: string, args: EtcdCentralServicesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:EtcdCentralServices", name, {}, opts);
        const { config, plan } = args;
        const labels = resourceLabels(config, "etcd");
        const protect = config.etcd.protect;

        this.serviceAccounts = plan.members.map((member) => createMemberServiceAccount(config, member, this));
        // The account members shared before each had its own. Members created then still run with it
        // (their serviceAccount is ignored after creation), so it stays until they are moved by hand
        // (docs/gce.md, "Certificates on GCE"); deleting it would strip live members of their identity.
        this.sharedServiceAccount = createRoleServiceAccount(config, "etcd", this);

        this.addresses = plan.members.map(
            (member) =>
                new gcp.compute.Address(
                    member.name,
                    {
                        name: member.name,
                        project: config.gcp.project,
                        region: config.gcp.region,
                        addressType: "INTERNAL",
                        purpose: "GCE_ENDPOINT",
                        subnetwork: args.subnetwork,
                        address: member.privateIp,
                        description: `etcd member ${member.name}: peer and client URLs point here`,
                        labels,
                    },
                    // The peer URLs in every member's config name this address: losing it
                    // strands the member just as losing the VM would.
                    { parent: this, protect },
                ),
        );

        this.instances = plan.members.map((member, i) => {
            const machine = args.machines.find((m) => m.role === "etcd" && m.name === member.name);
            if (!machine) {
                throw new Error(`no rendered etcd cloud-config for member ${member.name}`);
            }
            return new gcp.compute.Instance(
                member.name,
                {
                    name: member.name,
                    project: config.gcp.project,
                    zone: member.zone,
                    machineType: config.etcd.machineType,
                    description: `etcd member ${member.index} of cluster ${config.name}`,
                    tags: [roleTag(config.name, "etcd")],
                    labels,
                    bootDisk: {
                        autoDelete: true,
                        initializeParams: {
                            image: config.os.image,
                            size: config.etcd.diskSizeGb,
                            type: MEMBER_DISK_TYPE,
                            labels,
                        },
                    },
                    networkInterfaces: [
                        {
                            subnetwork: args.subnetwork,
                            networkIp: this.addresses[i].address,
                            accessConfigs: config.externalIps ? [{}] : [],
                        },
                    ],
                    metadata: { "user-data": machine.userData },
                    serviceAccount: { email: this.serviceAccounts[i].email, scopes: [...VM_SCOPES] },
                    deletionProtection: protect,
                    // Left false on purpose: a machine-type change then fails instead of
                    // stopping every member at once; resize members one at a time by hand.
                    allowStoppingForUpdate: false,
                    scheduling: { automaticRestart: true, onHostMaintenance: "MIGRATE" },
                },
                {
                    parent: this,
                    protect,
                    ignoreChanges: [...MEMBER_IGNORED_CHANGES],
                    dependsOn: [this.addresses[i]],
                },
            );
        });

        this.memberNames = pulumi.all(this.instances.map((inst) => inst.name));
        // The IPs as GCE reports them on the instances, so consumers wait for the members.
        this.memberIps = pulumi.all(this.instances.map((inst) => inst.networkInterfaces.apply((n) => n[0].networkIp)));
        const created = pulumi.all(this.instances.map((inst) => inst.id));
        this.clientUrls = created.apply(() => plan.members.map((m) => m.clientUrl));
        this.peerUrls = created.apply(() => plan.members.map((m) => m.peerUrl));

        this.registerOutputs({
            memberNames: this.memberNames,
            memberIps: this.memberIps,
            clientUrls: this.clientUrls,
            peerUrls: this.peerUrls,
            serviceAccountEmails: this.serviceAccounts.map((a) => a.email),
        });
    }
}
