// coreos-cluster: stack config -> validate -> plan -> render -> platform -> providers -> outputs.
// Everything before the platform is pure; nothing is registered until the whole config is valid.
import * as pulumi from "@pulumi/pulumi";
import { readPulumiConfig } from "./model/stack-config";
import { loadConfig } from "./model/validate";
import { planCluster } from "./model/plan";
import { userDataHash } from "./cloud-config/rendered-machine";
import { cachedRenderMachines } from "./components/render-cache";
import { ClusterConfig, MachineRole } from "./model/types";
import { notAppliedLocally as notAppliedOn, platformFor } from "./components/platform";
import { ServiceRegistrationSet } from "./components/services/service-registration-set";
import { EtcdConnectionArgs } from "./components/etcd/etcd-client";
import { MemberCountGuard } from "./components/guards/member-count-guard";
import { previewKeyEnvironment, withUnknownTunnelKey } from "./model/preview-key";
import { planCertificates } from "./model/pki-plan";
import { ClusterPki } from "./components/pki/cluster-pki";
import { EtcdAccess } from "./components/etcd/etcd-access";
import { tunnelOutput } from "./model/tunnel-output";
import { installSdkStackShortcuts } from "./components/sdk-debug-stacks";
import { afterPendingRegistrations } from "./components/registration-turn";

// Before any resource: the SDK's debug traces and source positions made cheap (components/sdk-debug-stacks.ts).
installSdkStackShortcuts();

// The environment: a stack may take its SSH tunnel key from a variable (sshTunnel.privateKeyEnv, CI).
// A preview may run without it (CI's previews and drift checks hold no SSH key): the key is then
// unknown to the preview (model/preview-key.ts); `pulumi up` still refuses a missing key.
const rawConfig = readPulumiConfig();
const previewKey = previewKeyEnvironment(rawConfig, process.env, pulumi.runtime.isDryRun());
const validConfig = loadConfig(rawConfig, pulumi.getStack(), { env: previewKey.env });
const config = previewKey.standIn ? withUnknownTunnelKey(validConfig, previewKey.standIn, pulumi.unknown) : validConfig;
const plan = planCluster(config);
// Rendered and proven (cloud-config/); a later run with the same rendering code and config is served
// the proven texts from disk (components/render-cache.ts says what its key holds and when it stands aside).
const machines = cachedRenderMachines(config, plan);

// Registered first: refuses a deployed member-count change quorum cannot survive.
const memberCountGuard = new MemberCountGuard(`${config.name}-etcd-member-count`, { memberCount: config.etcd.count, isDev: config.isDev });
// The trust boundary (docs/security.md): the stack's own CA and every member, worker and client
// certificate; the platform delivers each machine's bundle (Secret Manager on GCE, a root-only
// store locally), private keys only as secrets.
// Renewal and CA rotation are config changes (tlsLeafGeneration, tlsCaGeneration) or the renewal
// window; the platform rolls what changed onto the running machines in phases (model/tls-rollout.ts).
const pki = new ClusterPki(`${config.name}-pki`, {
    clusterName: config.name,
    certificates: planCertificates(plan.members.map((m) => ({ name: m.name, ip: m.privateIp }))),
    ...config.tls,
});
// Every input was refused or accepted above, before any registration. What follows runs one turn
// of the event loop later, once the guard's and the PKI's registrations have left: the engine checks
// them while the program builds the platform's resources (docs/performance.md, no-op `up`). The
// stack's outputs are what it returns.
export = afterPendingRegistrations(() => {
    // GCE or this machine: the platform builds the cluster and pushes its fleet units; its module
    // (and with it @pulumi/gcp) loads only when chosen.
    const clusterPlatform = platformFor(config);
    const cluster = clusterPlatform.buildCluster(config.name, { config, plan, machines, pki }, { dependsOn: [memberCountGuard] });

    // The deployer's way in (the stack's sshTunnel, as the platform dials it).
    const tunnel = clusterPlatform.deployerTunnel(config, plan);

    /** A client identity of the PKI as a connection's TLS: the CA, its certificate, its key (secret). */
    function identityTls(id: string) {
        // (Under the SDK's mocks a ClusterPki has no outputs: no credential then.)
        return pulumi.secret(pulumi.all([pki.trustBundle, pki.issued, pki.keys]).apply(([ca, issued, keys]) => (issued?.[id] && keys?.[id] ? { ca, cert: issued[id].certPem, key: keys[id] } : undefined)));
    }

    /** How the deployer's providers reach etcd: mutual TLS as `identity` (deployer; root for the auth step). */
    function etcdConnection(c: ClusterConfig, identity = "deployer"): pulumi.Output<EtcdConnectionArgs> {
        const endpoints = c.access.etcdEndpoints?.length ? c.access.etcdEndpoints : plan.clientUrls;
        // Secret parts make the whole connection secret.
        return pulumi.output({
            endpoints,
            username: c.access.etcdUsername,
            password: c.access.etcdPassword === undefined ? undefined : pulumi.secret(c.access.etcdPassword),
            tls: identityTls(identity),
            sshTunnel: tunnel === undefined ? undefined : pulumi.secret(tunnel),
        });
    }

    // Least privilege in etcd: users and roles converged, auth on, before any provider writes.
    const etcdAccess = new EtcdAccess(
        `${config.name}-etcd-access`,
        {
            connection: etcdConnection(config, "root"),
            servicesPrefix: config.servicesPrefix,
            memberNames: plan.members.map((m) => m.name),
            passwordKeys: pki.keys.apply((keys): Record<string, string> => (keys?.router ? { router: keys.router } : {})),
            clusterWaitSeconds: config.access.clusterWaitSeconds,
        },
        { dependsOn: [cluster] },
    );
    // The providers wait for the cluster (and its health gate) to be up, and for the users they write as.
    const afterCluster: pulumi.CustomResourceOptions = { dependsOn: [cluster, etcdAccess] };

    // All the config's services as one resource: one read and <= 128-op transactions for the lot.
    if (config.services.length > 0) {
        new ServiceRegistrationSet(
            `${config.name}-services`,
            {
                connection: etcdConnection(config),
                services: config.services.map((s) => ({ service: s.name, scheme: s.scheme, hosts: s.hosts, hostPort: s.hostPort })),
                prefix: config.servicesPrefix,
                mirrorToV2: config.access.mirrorToV2,
                // A fresh cluster is still booting when Pulumi gets here: wait for it, bounded.
                clusterWaitSeconds: config.access.clusterWaitSeconds,
                // Stacks deployed before the set registered each service as `<cluster>-service-<name>`.
                takeOverFrom: config.services.map((s) => `${config.name}-service-${s.name}`),
            },
            afterCluster,
        );
    }

    for (const unit of config.fleetUnits) {
        const { name, content, options, desiredState, instances } = unit;
        clusterPlatform.fleetUnit(`${config.name}-unit-${unit.name}`, { name, content, options, desiredState, instances }, config, afterCluster);
    }

    // Templated services with presence sidekicks, rolled by fleet; their sidekicks write to the
    // members' client URLs as the machines see them (not etcdEndpoints, which is the deployer's view).
    const fleetServices = Object.fromEntries(
        config.fleetServices.map((s) => [s.name, clusterPlatform.fleetService(`${config.name}-fleet-service-${s.name}`, s, config, plan.clientUrls.join(","), afterCluster)]),
    );

    function hashesByRole(role: MachineRole): Record<string, string> {
        return Object.fromEntries(machines.filter((m) => m.role === role).map((m) => [m.fileName, userDataHash(m.userData)]));
    }

    // The stack's outputs.
    return {
        platform: config.platform,
        etcdMemberNames: cluster.memberNames,
        etcdMemberIps: cluster.memberIps,
        etcdClientUrls: cluster.clientUrls,
        etcdPeerUrls: cluster.peerUrls,
        servicesPrefix: config.servicesPrefix,
        // When each certificate expires (plain: a date is no secret); the next `up` renews inside the window.
        certificateExpiries: pki.expiries,
        // For other stacks that register services: the consumer identity (its etcd user may write the
        // services prefix and the ownership markers, nothing else), never the CA key. Secret.
        consumerCredentials: identityTls("consumer"),
        // How the deployer reaches the members (docs/delivery.md, docs/local-platform.md): other stacks
        // tunnel the same way with their own key. Never the key itself.
        // On GCE a loopback host is the local end of an IAP tunnel: the output says so and how to open it (model/tunnel-output.ts).
        sshTunnel: tunnelOutput(tunnel, config, plan),
        userDataHashes: { etcd: hashesByRole("etcd"), worker: hashesByRole("worker") },
        // GCE only, null on the local platform (no instance group or GCE network there); loadBalancerIp is
        // the local load balancer's frontend on the local platform.
        workerInstanceGroup: cluster.workerInstanceGroup,
        loadBalancerIp: cluster.loadBalancerIp,
        networkSelfLink: cluster.networkSelfLink,
        subnetSelfLink: cluster.subnetSelfLink,
        // Local only (null on GCE): per machine what of its cloud-config did not run, per fleet service what fleet would have done.
        notAppliedLocally: notAppliedOn(cluster, fleetServices),
        // Local only (null on GCE): machines, addresses, folders and services for `npm run local`'s summary, status and logs.
        localCluster: cluster.localView,
        // Local only (null on GCE): the local Prometheus's UI and API, scraping every member's etcd and every worker's HAProxy (docs/metrics.md).
        prometheusUrl: cluster.prometheusUrl,
    };
});
