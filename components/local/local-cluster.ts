// LocalCluster: the local platform as a miniature VPC. LocalNetwork builds the bridge, one network
// namespace per machine and the firewall matrix in nftables; each rendered machine becomes a
// LocalMachine that boots its own user-data inside its namespace (members first, workers after
// them); LocalSshd is the deployer's way in (a member's port 22); a readiness step resolves `ready`
// once every member is healthy and every proxy answers, each probed from inside its own namespace;
// LocalLoadBalancer stands for the GCE load balancer and the worker group's autohealing;
// LocalPrometheus stands for the operator's monitoring, scraping from the monitoring range's stand-in.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig, ClusterPlan, MachineRole } from "../../model/types";
import { firewallMatrix, loadBalancedPorts } from "../../model/firewall";
import { autohealingHealthCheck, loadBalancerHealthCheck } from "../../model/health-checks";
import { balancerDigest, balancerEntry } from "./balancer/bundle";
import { LocalClusterReadiness } from "./cluster-readiness";
import { demoBackendsFor } from "./demo-backends";
import { LocalMachine } from "./local-machine";
import { LocalLoadBalancer } from "./local-load-balancer";
import { LocalNetwork } from "./local-network";
import { LocalSshd } from "./local-sshd";
import { LocalPrometheus, localPrometheusView } from "./local-prometheus";
import { scrapeTargets } from "../../model/monitoring";
import { publicKeyOf } from "./deployer-key";
import { localVpcPlan, VpcPlan } from "./vpc/addressing";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "./vpc/firewall-rules";
import { encodeBundle } from "../../model/pki-delivery";
import { planBundles } from "../../cloud-config/tls-fetch";
import { LocalTlsStore } from "./local-tls-store";
import { LocalTlsRollout } from "./local-tls-rollout";
import { storeDir } from "./tls-store";
import type { ClusterPkiOutputs } from "../platform";
import type { LocalView } from "../../model/local-view";

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
    /** The cluster's certificates: each machine's bundle goes to the local secret store, which its boot fetches from. */
    pki?: ClusterPkiOutputs;
}

/** Planned loopback address per machine name; throws naming a rendered machine the plan has no address for. */
export function localAddresses(plan: ClusterPlan, machines: LocalRenderedMachine[]): Record<string, string> {
    const planned: Record<string, string | undefined> = {};
    for (const m of plan.members) planned[m.name] = m.privateIp;
    for (const w of plan.workers) planned[w.name] = w.privateIp;
    const addresses: Record<string, string> = {};
    for (const machine of machines) {
        const address = planned[machine.name];
        if (!address) throw new Error(`local machine ${machine.name} (${machine.fileName}) has no planned address`);
        addresses[machine.name] = address;
    }
    return addresses;
}

/** The plain inputs of each machine's LocalMachine: its planned address, its user-data, its folder under `dataRoot`. */
export function localMachineSpecs(config: ClusterConfig, plan: ClusterPlan, machines: LocalRenderedMachine[], dataRoot: string, vpc?: VpcPlan) {
    const addresses = localAddresses(plan, machines);
    const namespaces = Object.fromEntries((vpc?.machines ?? []).map((m) => [m.name, m.namespace]));
    return machines.map((m) => ({
        name: m.name,
        role: m.role,
        address: addresses[m.name],
        userData: m.userData,
        root: path.join(dataRoot, m.name),
        flavor: config.os.flavor,
        // No fleetd runs the services' units here: a worker stands in for the hosts on its address.
        ...(m.role === "worker" ? { demoBackends: demoBackendsFor(config.services, addresses[m.name]) } : {}),
        ...(namespaces[m.name] ? { namespace: namespaces[m.name] } : {}),
    }));
}

/** The member whose sshd is the deployer's bastion: the one sshTunnel.host names, else the first. */
export function bastionOf(config: ClusterConfig, plan: ClusterPlan): string {
    const host = config.access.sshTunnel?.host;
    const named = plan.members.find((m) => m.privateIp === host);
    if (host !== undefined && !named) {
        throw new Error(`coreos-cluster:sshTunnel.host: ${host} is no member's address (${plan.members.map((m) => m.privateIp).join(", ")}); on the local platform the tunnel goes to a member's sshd`);
    }
    return (named ?? plan.members[0]).name;
}

/** The stack's `localCluster` output: plain data about the machines, never a secret. */
export function localViewOf(
    config: ClusterConfig,
    vpc: VpcPlan,
    specs: Map<string, { name: string; role: MachineRole; address: string; root: string }>,
    dataDir: string,
    sshd: LocalView["sshd"],
    prometheus?: LocalView["prometheus"],
): LocalView {
    const ordered = [...specs.values()].sort((a, b) => (a.role === b.role ? 0 : a.role === "etcd" ? -1 : 1));
    const namespaceOf = (name: string) => vpc.machines.find((m) => m.name === name)?.namespace ?? "";
    return {
        dataDir,
        machines: ordered.map((m) => ({ name: m.name, role: m.role === "etcd" ? "etcd" : "worker", address: m.address, namespace: namespaceOf(m.name), root: m.root })),
        loadBalancer: {
            name: `${config.name}-ingress`,
            address: vpc.probeAddress,
            namespace: vpc.probeNamespace,
            root: path.join(dataDir, `${config.name}-ingress`),
            ports: loadBalancedPorts(config),
            httpPorts: [...config.loadBalancer.httpPorts],
        },
        ...(sshd ? { sshd } : {}),
        ...(prometheus ? { prometheus } : {}),
        services: config.services.map((s) => ({ name: s.name, scheme: s.scheme, hosts: [...s.hosts], ...(s.hostPort !== undefined ? { hostPort: s.hostPort } : {}), ...(s.public ? { public: true } : {}) })),
        healthCheck: { port: config.healthCheck.port, path: config.healthCheck.path },
    };
}

export class LocalCluster extends pulumi.ComponentResource {
    public readonly memberNames: pulumi.Output<string[]>;
    public readonly memberIps: pulumi.Output<string[]>;
    public readonly clientUrls: pulumi.Output<string[]>;
    public readonly peerUrls: pulumi.Output<string[]>;
    public readonly workerProxyUrls: pulumi.Output<string[]>;
    // GCE-only outputs: this platform has no instance group or GCE network.
    public readonly workerInstanceGroup = null;
    /** The local load balancer's frontend, in its own namespace on the VPC's bridge. */
    public readonly loadBalancerIp: pulumi.Output<string>;
    /** The local Prometheus's UI and API (null when no monitoring range admits it to any metrics port). */
    public readonly prometheusUrl: pulumi.Output<string> | null;
    public readonly networkSelfLink = null;
    public readonly subnetSelfLink = null;
    public readonly ready: pulumi.Output<boolean>;
    /** Per machine: the parts of its cloud-config with no local counterpart (fleet, locksmith, ...). */
    public readonly notAppliedLocally: pulumi.Output<Record<string, string[]>>;
    /** What the operator commands read (model/local-view.ts): machines, folders, the balancer, the services. */
    public readonly localView: pulumi.Output<LocalView>;
    public readonly machines: LocalMachine[];

    constructor(name: string, args: LocalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:LocalCluster", name, {}, opts);
        const { config, plan } = args;
        const dataDir = path.resolve(config.local.dataDir);
        // Pure and before any resource: a loopback or clashing address plan stops here.
        const vpc = localVpcPlan(config, plan);
        const network = new LocalNetwork(
            `${name}-vpc`,
            { vpc, rulesets: vpcRulesets(vpc, firewallMatrix(config, plan), config), rootGuard: { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) }, dataDir },
            { parent: this },
        );
        const specs = new Map(localMachineSpecs(config, plan, args.machines, dataDir, vpc).map((spec) => [spec.name, spec]));
        // The local Secret Manager: every bundle in a root-only folder; each machine may read its own only.
        const bundles = planBundles(config.name, plan.members);
        const pki = args.pki;
        const targetBundles = pki
            ? pulumi.all([pki.trustBundle, pki.issued, pki.keys]).apply(([trust, issued, keys]): Record<string, string> =>
                  // (Under the SDK's mocks a ClusterPki has no outputs: nothing to store then.)
                  !issued || !keys ? {} : Object.fromEntries(bundles.map((b) => [b.secretId, encodeBundle(trust, b.certificateIds.map((id) => ({ id, certPem: issued[id].certPem, keyPem: keys[id] })))])),
              )
            : undefined;
        const store = targetBundles ? new LocalTlsStore(`${name}-tls-store`, { dir: storeDir(dataDir), bundles: targetBundles }, { parent: this }) : undefined;
        const secretOf = (machine: LocalRenderedMachine) => bundles.find((b) => b.holder === (machine.role === "worker" ? "worker" : machine.name))?.secretId;

        const boot = (machine: LocalRenderedMachine, extra: pulumi.CustomResourceOptions) => {
            // Secrets rendered into user-data (etcd passwords: etcd_password, ETCD_PASSWORD, FLEET_ETCD_PASSWORD)
            // stay secret in state, with what is derived from it. Not any "password": the image pull
            // script names docker's --password-stdin, which is no secret.
            const secret = /etcd_?password/i.test(machine.userData);
            const spec = specs.get(machine.name)!;
            const secretId = store ? secretOf(machine) : undefined;
            return new LocalMachine(
                machine.name,
                { ...spec, userData: secret ? pulumi.secret(spec.userData) : spec.userData, ...(secretId ? { tlsStore: { dir: storeDir(dataDir), secretId } } : {}) },
                { parent: this, ...(secret ? { additionalSecretOutputs: ["ignored"] } : {}), ...extra, dependsOn: [...((extra.dependsOn as pulumi.Resource[]) ?? []), ...(store ? [store] : [])] },
            );
        };
        // Members are created without waiting for health (a lone member has no quorum); workers proxy to them.
        const members = args.machines.filter((m) => m.role === "etcd").map((m) => boot(m, { dependsOn: [network] }));
        const workers = args.machines.filter((m) => m.role === "worker").map((m) => boot(m, { dependsOn: members }));
        this.machines = [...members, ...workers];
        // What a CoreOS host would have done that this platform does not is said once: the stack's
        // notAppliedLocally output and its count in `npm run local`'s summary (not logged per machine).

        // The deployer's way in: sshd in the bastion member's namespace, with the tunnel's key.
        const authorizedKeys = [...(config.access.sshTunnel ? [publicKeyOf(config.access.sshTunnel.privateKey!)] : []), ...config.ssh.authorizedKeys];
        const bastion = vpc.machines.find((m) => m.name === bastionOf(config, plan))!;
        const sshd =
            authorizedKeys.length === 0
                ? undefined
                : new LocalSshd(
                      `${name}-sshd`,
                      { name: `${bastion.name}-sshd`, namespace: bastion.namespace, address: bastion.address, port: config.access.sshTunnel?.port ?? 22, root: path.join(dataDir, `${bastion.name}-sshd`), authorizedKeys },
                      { parent: this, dependsOn: [network] },
                  );
        // The GCE load balancer and the group's autohealing, by the same health-check plans.
        const workerSpecs = args.machines.filter((m) => m.role === "worker").map((m) => specs.get(m.name)!);
        const loadBalancer = new LocalLoadBalancer(
            `${name}-ingress`,
            {
                name: `${config.name}-ingress`,
                namespace: vpc.probeNamespace,
                address: vpc.probeAddress,
                ports: loadBalancedPorts(config),
                backends: workerSpecs.map((w) => ({ name: w.name, address: w.address, root: w.root })),
                health: loadBalancerHealthCheck(config),
                autohealing: autohealingHealthCheck(config),
                root: path.join(dataDir, `${config.name}-ingress`),
                entry: balancerEntry(),
                scriptSha256: balancerDigest(),
                readyTimeoutSeconds: args.readyTimeoutSeconds ?? 120,
            },
            { parent: this, dependsOn: [network, ...workers] },
        );
        this.loadBalancerIp = loadBalancer.ip;
        const prometheusView = localPrometheusView(config, plan, vpc, dataDir);
        const prometheus = prometheusView
            ? new LocalPrometheus(
                  `${name}-prometheus`,
                  {
                      name: prometheusView.name,
                      namespace: prometheusView.namespace,
                      address: prometheusView.address,
                      port: prometheusView.port,
                      scrape: { jobs: scrapeTargets(config, plan), settings: { cluster: config.name, scrapeIntervalSeconds: 5 } },
                      root: prometheusView.root,
                      readyTimeoutSeconds: args.readyTimeoutSeconds ?? 120,
                  },
                  { parent: this, dependsOn: [network] },
              )
            : undefined;
        this.prometheusUrl = prometheus ? prometheus.url : null;
        const nsOf = (m: LocalRenderedMachine) => vpc.machines.find((v) => v.name === m.name)!.namespace;

        const readiness = new LocalClusterReadiness(
            `${name}-readiness`,
            {
                cluster: name,
                memberClientUrls: members.map((m) => m.clientUrl),
                proxyUrls: workers.map((w) => w.clientUrl),
                memberNamespaces: args.machines.filter((m) => m.role === "etcd").map(nsOf),
                proxyNamespaces: args.machines.filter((m) => m.role === "worker").map(nsOf),
                // Mutual TLS: each probes with its own machine's files (a member's server certificate, a worker's router identity).
                memberProbeTls: pulumi.all(members.map((m) => m.probeTls)),
                proxyProbeTls: pulumi.all(workers.map((w) => w.probeTls)),
                pids: this.machines.map((m) => m.pid),
                timeoutSeconds: args.readyTimeoutSeconds ?? 120,
            },
            { parent: this, dependsOn: [...this.machines, loadBalancer, ...(sshd ? [sshd] : []), ...(prometheus ? [prometheus] : [])] },
        );

        // Renewed certificates and a rotated CA reach the running machines in phases (model/tls-rollout.ts).
        const rollout = targetBundles
            ? new LocalTlsRollout(
                  `${name}-tls-rollout`,
                  {
                      dir: storeDir(dataDir),
                      bundles: targetBundles,
                      machines: args.machines.map((m) => ({ name: m.name, role: m.role, root: specs.get(m.name)!.root, secretId: secretOf(m)! })),
                      healthTimeoutSeconds: args.readyTimeoutSeconds ?? 120,
                  },
                  { parent: this, dependsOn: [readiness] },
              )
            : undefined;

        this.memberNames = pulumi.output(plan.members.map((m) => m.name));
        this.memberIps = pulumi.output(plan.members.map((m) => m.privateIp));
        this.clientUrls = pulumi.output(plan.clientUrls);
        this.peerUrls = pulumi.output(plan.members.map((m) => m.peerUrl));
        this.workerProxyUrls = pulumi.all(workers.map((w) => w.clientUrl));
        this.ready = rollout ? pulumi.all([readiness.ready, rollout.rolled]).apply(([ready]) => ready) : readiness.ready;
        const names = [...args.machines.filter((m) => m.role === "etcd"), ...args.machines.filter((m) => m.role === "worker")].map((m) => m.name);
        this.localView = pulumi.output(localViewOf(config, vpc, specs, dataDir, sshd ? { machine: bastion.name, address: bastion.address, port: config.access.sshTunnel?.port ?? 22, root: path.join(dataDir, `${bastion.name}-sshd`) } : undefined, prometheusView));
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
            loadBalancerIp: this.loadBalancerIp,
            prometheusUrl: this.prometheusUrl,
            notAppliedLocally: this.notAppliedLocally,
            localView: this.localView,
        });
    }
}
