// The whole cluster on GCE: network, firewall, etcd members, workers and ingress, the TLS secrets
// the machines fetch their certificates from, plus the health gate the providers wait on when the
// cluster is reachable over SSH.
import * as pulumi from "@pulumi/pulumi";
import { ClusterConfig, ClusterPlan } from "../../model/types";
import { RenderedMachine } from "../../cloud-config";
import { firewallMatrix } from "../../model/firewall";
import { Network } from "./network";
import { Firewall } from "./firewall";
import { EtcdCentralServices } from "./etcd-central-services";
import { WorkerPool } from "./worker-pool";
import { LoadBalancer } from "./load-balancer";
import { ClusterHealthGate } from "./cluster-health-gate";
import { TlsSecrets, TlsSecretsPki } from "./tls-secrets";
import { GceTlsRollout } from "./tls-rollout";
import { tunnelForResources } from "../../model/validate-fields";
import { planBundles } from "../../cloud-config/tls-fetch";
import { createsImageMirror, ImageMirror } from "./image-mirror";

export interface GcpClusterArgs {
    config: ClusterConfig;
    plan: ClusterPlan;
    machines: RenderedMachine[];
    /**
     * The cluster's PKI (a ClusterPki): with it, one Secret Manager secret per member and one for the
     * workers, each readable only by its holder's service account. Without it no secret exists and
     * a machine whose user-data fetches its certificates waits for one.
     */
    pki?: TlsSecretsPki;
}

export class GcpCluster extends pulumi.ComponentResource {
    public readonly network: Network;
    public readonly firewall: Firewall;
    public readonly etcd: EtcdCentralServices;
    public readonly workers: WorkerPool;
    public readonly loadBalancer: LoadBalancer;
    /** Only when args.pki is given. */
    public readonly tlsSecrets?: TlsSecrets;
    public readonly tlsRollout?: GceTlsRollout;
    /** The stack's own Docker Hub mirror, unless imageMirror names one (image-mirror.ts). */
    public readonly imageMirror?: ImageMirror;
    /** Only when config.access.sshTunnel gives a way into the VPC. */
    public readonly healthGate?: ClusterHealthGate;

    public readonly memberNames: pulumi.Output<string[]>;
    public readonly memberIps: pulumi.Output<string[]>;
    public readonly clientUrls: pulumi.Output<string[]>;
    public readonly peerUrls: pulumi.Output<string[]>;
    public readonly workerInstanceGroup: pulumi.Output<string>;
    public readonly loadBalancerIp: pulumi.Output<string>;
    public readonly networkSelfLink: pulumi.Output<string>;
    public readonly subnetSelfLink: pulumi.Output<string>;
    /** Everything applies on GCE. */
    public readonly notAppliedLocally = null;
    public readonly localView = null;
    /** The operator's own Prometheus scrapes GCE from monitoringRanges: no Prometheus here. */
    public readonly prometheusUrl = null;
    /**
     * True when the members exist and, with an SSH tunnel configured, answered healthy.
     * Without a tunnel nothing here can reach the private members to check.
     */
    public readonly ready: pulumi.Output<boolean>;

    constructor(name: string, args: GcpClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:GcpCluster", name, {}, opts);
        const { config, plan, machines } = args;
        const child = { parent: this };

        const workerMachine = machines.find((m) => m.role === "worker");
        if (!workerMachine) throw new Error("no rendered worker cloud-config (worker.yaml) for the worker template");

        this.network = new Network(`${name}-network`, { config }, child);
        this.firewall = new Firewall(
            `${name}-firewall`,
            { project: config.gcp.project, network: this.network.networkSelfLink, rules: firewallMatrix(config, plan) },
            child,
        );
        this.etcd = new EtcdCentralServices(
            `${name}-etcd`,
            { config, plan, machines, subnetwork: this.network.subnetSelfLink },
            child,
        );
        this.workers = new WorkerPool(
            `${name}-workers`,
            { config, plan, machine: workerMachine, subnetwork: this.network.subnetSelfLink },
            // Workers proxy to etcd from their first boot.
            { parent: this, dependsOn: [this.etcd] },
        );
        if (createsImageMirror(config)) {
            this.imageMirror = new ImageMirror(`${name}-images`, { config, readerEmail: this.workers.serviceAccount.email }, child);
        }
        if (args.pki) {
            const bundles = planBundles(config.name, plan.members);
            this.tlsSecrets = new TlsSecrets(
                `${name}-tls`,
                {
                    config,
                    bundles,
                    memberServiceAccounts: Object.fromEntries(plan.members.map((m, i) => [m.name, this.etcd.serviceAccounts[i].email])),
                    workerServiceAccount: this.workers.serviceAccount.email,
                },
                child,
            );
            // The bundles' versions, phase by phase: renewals and CA rotations reach running VMs in place.
            this.tlsRollout = new GceTlsRollout(
                `${name}-tls-rollout`,
                {
                    bundles,
                    pki: args.pki,
                    secrets: this.tlsSecrets.secrets,
                    // The tunnel as the providers get it: a key named by privateKeyEnv never reaches state.
                    ...(config.access.sshTunnel ? { deployerAccess: { endpoints: config.access.etcdEndpoints ?? plan.clientUrls, sshTunnel: tunnelForResources(config.access.sshTunnel) } } : {}),
                },
                { parent: this, dependsOn: [this.tlsSecrets] },
            );
        }
        this.loadBalancer = new LoadBalancer(
            `${name}-ingress`,
            { config, instanceGroup: this.workers.instanceGroup },
            child,
        );

        if (config.access.sshTunnel) {
            this.healthGate = new ClusterHealthGate(
                `${name}-etcd-health`,
                {
                    clientUrls: this.etcd.clientUrls,
                    sshTunnel: config.access.sshTunnel,
                    dialWaitSeconds: config.access.clusterWaitSeconds,
                    // Members start etcd once they have fetched their certificates.
                    dependsOn: [this.etcd, this.firewall, ...(this.tlsSecrets ? [this.tlsSecrets] : []), ...(this.tlsRollout ? [this.tlsRollout] : [])],
                },
                child,
            );
        }

        this.memberNames = this.etcd.memberNames;
        this.memberIps = this.etcd.memberIps;
        this.clientUrls = this.etcd.clientUrls;
        this.peerUrls = this.etcd.peerUrls;
        this.workerInstanceGroup = this.workers.instanceGroup;
        this.loadBalancerIp = this.loadBalancer.ip;
        this.networkSelfLink = this.network.networkSelfLink;
        this.subnetSelfLink = this.network.subnetSelfLink;
        this.ready = this.healthGate ? this.healthGate.ready : this.etcd.memberIps.apply(() => true);

        this.registerOutputs({
            memberNames: this.memberNames,
            memberIps: this.memberIps,
            clientUrls: this.clientUrls,
            peerUrls: this.peerUrls,
            workerInstanceGroup: this.workerInstanceGroup,
            loadBalancerIp: this.loadBalancerIp,
            networkSelfLink: this.networkSelfLink,
            subnetSelfLink: this.subnetSelfLink,
            ready: this.ready,
        });
    }
}
