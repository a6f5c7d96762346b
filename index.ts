// coreos-cluster: stack config -> validate -> plan -> render -> platform -> providers -> outputs.
// Everything before the platform is pure; nothing is registered until the whole config is valid.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { readPulumiConfig } from "./model/stack-config";
import { loadConfig } from "./model/validate";
import { planCluster } from "./model/plan";
import { renderMachines, userDataHash } from "./cloud-config";
import { ClusterConfig, MachineRole } from "./model/types";
import type * as gcpPlatform from "./components/gcp/gcp-cluster";
import { LocalCluster } from "./components/local/local-cluster";
import { ServiceRegistrationSet } from "./components/services/service-registration-set";
import { EtcdConnectionArgs } from "./components/etcd/etcd-client";
import { FleetUnit } from "./components/fleet/fleet-unit";
import { LocalFleetUnit } from "./components/local/local-fleet-unit";
import { MemberCountGuard } from "./components/guards/member-count-guard";

const config = loadConfig(readPulumiConfig(), pulumi.getStack());
const plan = planCluster(config);
const machines = renderMachines(config, plan);

// Registered first: refuses a deployed member-count change quorum cannot survive.
const memberCountGuard = new MemberCountGuard(`${config.name}-etcd-member-count`, { memberCount: config.etcd.count, isDev: config.isDev });
// The GCE component, and with it @pulumi/gcp, is loaded only on platform gcp; on other platforms
// GcpCluster is a class no cluster is an instance of.
const GcpCluster: typeof gcpPlatform.GcpCluster =
    config.platform === "gcp"
        ? (require("./components/gcp/gcp-cluster") as typeof gcpPlatform).GcpCluster
        : (class NotOnThisPlatform {} as unknown as typeof gcpPlatform.GcpCluster);
const cluster =
    config.platform === "gcp"
        ? new GcpCluster(config.name, { config, plan, machines }, { dependsOn: [memberCountGuard] })
        : new LocalCluster(config.name, { config, plan, machines }, { dependsOn: [memberCountGuard] });
// The providers wait for the cluster (and its health gate) to be up.
const afterCluster: pulumi.CustomResourceOptions = { dependsOn: [cluster] };

function etcdConnection(c: ClusterConfig): pulumi.Output<EtcdConnectionArgs> {
    const endpoints = c.access.etcdEndpoints?.length ? c.access.etcdEndpoints : plan.clientUrls;
    // Secret parts make the whole connection secret.
    return pulumi.output({
        endpoints,
        username: c.access.etcdUsername,
        password: c.access.etcdPassword === undefined ? undefined : pulumi.secret(c.access.etcdPassword),
        sshTunnel: c.access.sshTunnel === undefined ? undefined : pulumi.secret(c.access.sshTunnel),
    });
}

// All the config's services as one resource: one read and <= 128-op transactions for the lot.
if (config.services.length > 0) {
    new ServiceRegistrationSet(
        `${config.name}-services`,
        {
            connection: etcdConnection(config),
            services: config.services.map((s) => ({ service: s.name, scheme: s.scheme, hosts: s.hosts, hostPort: s.hostPort })),
            prefix: config.servicesPrefix,
            mirrorToV2: config.access.mirrorToV2,
            // Stacks deployed before the set registered each service as `<cluster>-service-<name>`.
            takeOverFrom: config.services.map((s) => `${config.name}-service-${s.name}`),
        },
        afterCluster,
    );
}

for (const unit of config.fleetUnits) {
    const unitArgs = {
        name: unit.name,
        content: unit.content,
        options: unit.options,
        desiredState: unit.desiredState,
        instances: unit.instances,
    };
    if (config.platform === "gcp") {
        // Through a tunnel the endpoint names a host inside the VPC: kept secret with the key.
        const tunnel = config.access.sshTunnel;
        const endpoint = config.fleet.endpoint ?? "unix:///var/run/fleet.sock";
        new FleetUnit(
            `${config.name}-unit-${unit.name}`,
            { ...unitArgs, endpoint: tunnel ? pulumi.secret(endpoint) : endpoint, sshTunnel: tunnel && pulumi.secret(tunnel) },
            afterCluster,
        );
    } else {
        new LocalFleetUnit(
            `${config.name}-unit-${unit.name}`,
            { ...unitArgs, directory: path.join(config.local.dataDir, "fleet-units") },
            afterCluster,
        );
    }
}

function hashesByRole(role: MachineRole): Record<string, string> {
    return Object.fromEntries(machines.filter((m) => m.role === role).map((m) => [m.fileName, userDataHash(m.userData)]));
}

const gcp = cluster instanceof GcpCluster ? cluster : undefined;
export const platform = config.platform;
export const etcdMemberNames = cluster.memberNames;
export const etcdMemberIps = cluster.memberIps;
export const etcdClientUrls = cluster.clientUrls;
export const etcdPeerUrls = cluster.peerUrls;
export const servicesPrefix = config.servicesPrefix;
export const userDataHashes = { etcd: hashesByRole("etcd"), worker: hashesByRole("worker") };
// GCE only; null on the local platform (it has no group, balancer or VPC).
export const workerInstanceGroup = gcp ? gcp.workerInstanceGroup : null;
export const loadBalancerIp = gcp ? gcp.loadBalancerIp : null;
export const networkSelfLink = gcp ? gcp.networkSelfLink : null;
export const subnetSelfLink = gcp ? gcp.subnetSelfLink : null;
