// The whole program (index.ts) for the dev and prod stacks, under the SDK's mocks: what it
// would create on GCE, with the properties that matter checked one by one.
import { expect } from "chai";
import { ROLLOUT_SLOTS } from "../../../model/tls-rollout";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { firewallMatrix } from "../../../model/firewall";
import { etcdEnvironmentOf, userDataHash } from "../../../cloud-config";
import { ClusterConfig, ClusterPlan, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from "../../../model/types";
import { ingressPorts } from "../../../components/gcp/load-balancer";
import { VM_ROLES, VM_SCOPES } from "../../../components/gcp/labels";
import { GCE, ProgramRun, REPO_ROOT, SECRET_SIG, SECRET_SIG_KEY, argsDeclareLabels, byType, inCidr, one, portsOf, runProgram } from "../../support/mocks";

const WORLD = "0.0.0.0/0";

/** The Secret Manager types the TLS secrets add (components/gcp/tls-secrets.ts). */
const SECRET_MANAGER = {
    secret: "gcp:secretmanager/secret:Secret",
    version: "gcp:secretmanager/secretVersion:SecretVersion",
    binding: "gcp:secretmanager/secretIamBinding:SecretIamBinding",
} as const;

/** The stack's Docker Hub mirror (components/gcp/image-mirror.ts). */
const ARTIFACT_REGISTRY = {
    repository: "gcp:artifactregistry/repository:Repository",
    reader: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
} as const;

/** Whether the program builds the cluster's PKI (a ClusterPki dynamic resource): then the TLS secrets exist. */
const buildsPki = (run: ProgramRun) =>
    run.resources.some((r) => r.type.startsWith("pulumi-nodejs:dynamic") && Array.isArray(r.inputs.certificates) && r.inputs.caGeneration !== undefined);

for (const stack of ["dev", "prod"]) {
    describe(`program on GCE under mocks: ${stack} stack`, function () {
        let run: ProgramRun;
        let config: ClusterConfig;
        let plan: ClusterPlan;
        const of = (type: string) => byType(run.resources, type);

        before(async function () {
            // Loading and running the whole program under mocks takes a while on a busy machine.
            this.timeout(300_000);
            const raw = readStackFile(stack, REPO_ROOT);
            config = loadConfig(raw, stack);
            plan = planCluster(config);
            // A fresh project for the first stack; the program module alone for the next.
            run = await runProgram({ stack, config: raw, fresh: stack === "dev" ? "all" : "program" });
        });

        it("is the stack the issue describes", () => {
            expect(config.platform).to.equal("gcp");
            if (stack === "dev") {
                expect(config.etcd.count).to.equal(3);
                expect(new Set(plan.members.map((m) => m.zone)).size).to.equal(1);
                expect(config.workers.min).to.equal(2);
            } else {
                expect(config.etcd.count).to.equal(5);
                expect(new Set(plan.members.map((m) => m.zone)).size).to.equal(3);
                expect(config.workers.min).to.be.at.least(3);
                expect(config.externalIps).to.equal(false);
                expect(config.etcd.protect).to.equal(true);
            }
        });

        it("registers the expected resources, and nothing else", () => {
            const count = (type: string) => of(type).length;
            expect(count(GCE.instance)).to.equal(config.etcd.count);
            expect(of(GCE.address).filter((a) => a.inputs.addressType === "INTERNAL")).to.have.length(config.etcd.count);
            expect(of(GCE.address).filter((a) => a.inputs.addressType === "EXTERNAL")).to.have.length(1);
            expect(count(GCE.network)).to.equal(1);
            expect(count(GCE.subnetwork)).to.equal(1);
            expect(count(GCE.firewall)).to.equal(firewallMatrix(config, plan).length);
            // etcd-peer, etcd-client, ssh, ingress, ingress-internal, service-backends, health-check (no worker reaches 2380).
            expect(count(GCE.firewall)).to.equal(7);
            expect(count(GCE.template)).to.equal(1);
            expect(count(GCE.groupManager)).to.equal(1);
            expect(count(GCE.autoscaler)).to.equal(config.workers.min === config.workers.max ? 0 : 1);
            expect(count(GCE.healthCheck)).to.equal(2);
            expect(count(GCE.backendService)).to.equal(1);
            expect(count(GCE.forwardingRule)).to.equal(Math.ceil(ingressPorts(config).length / 5));
            // One account per member (each reads only its own TLS secret), one for the worker group, and the
            // members' shared account of earlier releases (kept for members created with it).
            expect(count(GCE.serviceAccount)).to.equal(config.etcd.count + 2);
            expect(count(GCE.iamMember)).to.equal((config.etcd.count + 2) * VM_ROLES.length);
            // With the cluster's PKI: one TLS secret (one version, one accessor binding) per member and one for the workers.
            const secrets = buildsPki(run) ? config.etcd.count + 1 : 0;
            // One version per rollout slot (components/gcp/tls-rollout.ts): certificates roll onto running VMs in phases.
            for (const [kind, type] of Object.entries(SECRET_MANAGER)) expect(count(type), type).to.equal(kind === "version" ? secrets * ROLLOUT_SLOTS : secrets);
            // The stack's own Docker Hub mirror (issue 23 item 4): one remote repository, its one reader.
            for (const type of Object.values(ARTIFACT_REGISTRY)) expect(count(type), type).to.equal(1);
            const allowed = new Set<string>([...Object.values(GCE), ...Object.values(SECRET_MANAGER), ...Object.values(ARTIFACT_REGISTRY)]);
            const unexpected = run.resources.filter((r) => r.custom && r.type.startsWith("gcp:") && !allowed.has(r.type));
            expect(unexpected.map((r) => r.type), "unexpected GCE resource types").to.deep.equal([]);
            for (const component of ["GcpCluster", "Network", "Firewall", "EtcdCentralServices", "WorkerPool", "LoadBalancer"]) {
                expect(count(`coreos-cluster:index:${component}`), component).to.equal(1);
            }
        });

        it("creates a remote repository of Docker Hub in the region, readable by the workers' account alone, and the workers pull through it", () => {
            const repo = one(of(ARTIFACT_REGISTRY.repository));
            expect(repo.inputs).to.deep.include({ project: config.gcp.project, location: config.gcp.region, repositoryId: `${config.name}-dockerhub`, format: "DOCKER", mode: "REMOTE_REPOSITORY" });
            expect(repo.inputs.remoteRepositoryConfig.dockerRepository).to.deep.equal({ publicRepository: "DOCKER_HUB" });
            const reader = one(of(ARTIFACT_REGISTRY.reader));
            expect(reader.inputs.role).to.equal("roles/artifactregistry.reader");
            const workerAccount = one(of(GCE.serviceAccount).filter((a) => a.inputs.accountId === `${config.name}-worker`));
            expect(reader.inputs.member).to.equal(`serviceAccount:${workerAccount.inputs.accountId}@${config.gcp.project}.iam.gserviceaccount.com`);
            // No Artifact Registry role on the project: the repository is the only thing the workers may read.
            expect(of(GCE.iamMember).map((m) => m.inputs.role)).to.not.include("roles/artifactregistry.reader");
            const template = one(of(GCE.template));
            const userData: string = template.inputs.metadata["user-data"];
            expect(userData).to.contain(`${config.gcp.region}-docker.pkg.dev/${config.gcp.project}/${config.name}-dockerhub/library/haproxy:`);
            expect(userData).to.not.contain("docker.io/library");
        });

        it("names every GCE resource <cluster>-<role>...", () => {
            for (const r of run.resources.filter((r) => r.custom && r.type.startsWith("gcp:compute/"))) {
                const physical: string = r.inputs.name ?? r.inputs.namePrefix;
                expect(physical, `${r.type} ${r.name}`).to.match(new RegExp(`^${config.name}-(etcd|worker|network|subnet|router|nat|ingress|ssh|health|service-backends)`));
                expect(physical.length).to.be.at.most(63);
            }
        });

        it("creates each firewall rule exactly as the matrix says, on the cluster network", () => {
            const network = one(of(GCE.network)).inputs.name;
            for (const spec of firewallMatrix(config, plan)) {
                const rule = one(of(GCE.firewall).filter((r) => r.inputs.name === spec.name));
                expect(rule.inputs.direction).to.equal("INGRESS");
                expect(rule.inputs.network).to.contain(`/networks/${network}`);
                expect(rule.inputs.sourceRanges ?? []).to.deep.equal(spec.sourceRanges ?? []);
                expect(rule.inputs.sourceTags ?? []).to.deep.equal(spec.sourceTags ?? []);
                expect(rule.inputs.targetTags).to.deep.equal(spec.targetTags);
                expect(rule.inputs.allows).to.deep.equal(spec.allow.map((a) => ({ protocol: a.protocol, ports: a.ports })));
            }
        });

        it("admits workers' routers to the services' hosts on other workers, worker tag to worker tag only", () => {
            const workerTag = `${config.name}-worker`;
            const rule = one(of(GCE.firewall).filter((r) => r.inputs.name === `${config.name}-service-backends`)).inputs;
            expect(rule.sourceRanges ?? []).to.deep.equal([]);
            expect(rule.sourceTags).to.deep.equal([workerTag]);
            expect(rule.targetTags).to.deep.equal([workerTag]);
            // The ports of the stack file's services' hosts (dev: web :8080, redis :6379; prod: web :8080, postgres :5432).
            expect(rule.allows).to.deep.equal([{ protocol: "tcp", ports: stack === "dev" ? ["6379", "8080"] : ["5432", "8080"] }]);
            const workerToWorker = of(GCE.firewall).filter((r) => (r.inputs.sourceTags ?? []).includes(workerTag) && r.inputs.targetTags.includes(workerTag));
            expect(workerToWorker.map((r) => r.inputs.name)).to.deep.equal([`${config.name}-service-backends`]);
        });

        it("opens etcd only between the roles, SSH only from the configured ranges, nothing to the world but load-balanced ports on workers", () => {
            const etcdTag = `${config.name}-etcd`;
            const workerTag = `${config.name}-worker`;
            const rules = of(GCE.firewall).map((r) => r.inputs);
            const peerSources = rules.filter((r) => portsOf(r.allows).includes(ETCD_PEER_PORT)).map((r) => r.sourceTags[0]).sort();
            expect(peerSources, "2380: members from members only (the workers' etcd gateway dials 2379)").to.deep.equal([etcdTag]);
            for (const rule of rules) {
                expect(rule.targetTags, `${rule.name} applies to tagged VMs only`).to.not.be.empty;
                const ports = portsOf(rule.allows);
                const opensAll = (rule.allows as { ports?: string[] }[]).some((a) => !a.ports || a.ports.length === 0);
                expect(opensAll, `${rule.name} opens a whole protocol`).to.equal(false);
                if ((rule.sourceRanges ?? []).includes(WORLD)) {
                    expect(ports, `${rule.name} is open to the world`).to.not.include.members([22]);
                    expect(ports).to.not.include(ETCD_CLIENT_PORT);
                    expect(ports).to.not.include(ETCD_PEER_PORT);
                    expect(rule.targetTags).to.deep.equal([workerTag]);
                    expect(ports.sort((a, b) => a - b)).to.deep.equal(ingressPorts(config).map((p) => p.port).sort((a, b) => a - b));
                }
                if (ports.includes(ETCD_PEER_PORT)) {
                    // Members peer with members; workers' v2 proxies read the member list there.
                    expect(rule.sourceRanges ?? []).to.deep.equal([]);
                    expect([JSON.stringify([etcdTag]), JSON.stringify([workerTag])]).to.include(JSON.stringify(rule.sourceTags));
                    expect(rule.targetTags).to.deep.equal([etcdTag]);
                }
                if (ports.includes(ETCD_CLIENT_PORT)) {
                    expect(rule.sourceRanges ?? []).to.deep.equal([]);
                    expect([...rule.sourceTags].sort()).to.deep.equal([etcdTag, workerTag].sort());
                    expect(rule.targetTags).to.deep.equal([etcdTag]);
                }
                if (ports.includes(22)) {
                    expect(rule.sourceRanges).to.deep.equal(config.ssh.sourceRanges);
                    expect(rule.sourceRanges).to.not.include(WORLD);
                }
                if (ports.includes(config.healthCheck.port)) {
                    expect(rule.sourceRanges).to.include.members(["35.191.0.0/16", "130.211.0.0/22"]);
                    expect(rule.targetTags).to.deep.equal([workerTag]);
                }
            }
            expect(rules.some((r) => portsOf(r.allows).includes(ETCD_PEER_PORT))).to.equal(true);
            expect(rules.some((r) => portsOf(r.allows).includes(ETCD_CLIENT_PORT))).to.equal(true);
        });

        it("builds a custom-mode network and subnet, with Cloud NAT exactly when VMs have no external IPs", () => {
            const network = one(of(GCE.network)).inputs;
            expect(network.autoCreateSubnetworks).to.equal(false);
            const subnet = one(of(GCE.subnetwork)).inputs;
            expect(subnet.ipCidrRange).to.equal(config.gcp.subnetCidr);
            expect(subnet.region).to.equal(config.gcp.region);
            expect(subnet.network).to.contain(`/networks/${network.name}`);
            expect(of(GCE.router)).to.have.length(config.externalIps ? 0 : 1);
            expect(of(GCE.nat)).to.have.length(config.externalIps ? 0 : 1);
            if (!config.externalIps) {
                const nat = one(of(GCE.nat)).inputs;
                expect(nat.sourceSubnetworkIpRangesToNat).to.equal("LIST_OF_SUBNETWORKS");
                expect(nat.subnetworks).to.have.length(1);
                expect(nat.subnetworks[0].name).to.contain(`/subnetworks/${subnet.name}`);
            }
            const vms = [...of(GCE.instance).map((i) => i.inputs.networkInterfaces[0]), ...one(of(GCE.template)).inputs.networkInterfaces];
            for (const nic of vms) {
                expect(nic.subnetwork).to.contain(`/subnetworks/${subnet.name}`);
                expect(nic.accessConfigs ?? []).to.have.length(config.externalIps ? 1 : 0);
            }
        });

        it("reserves a static internal address per member, with the plan's IP, before its instance", () => {
            const internal = of(GCE.address).filter((a) => a.inputs.addressType === "INTERNAL");
            for (const member of plan.members) {
                const address = one(internal.filter((a) => a.inputs.name === member.name)).inputs;
                expect(address.address).to.equal(member.privateIp);
                expect(address.subnetwork).to.contain("/subnetworks/");
                expect(inCidr(member.privateIp, config.gcp.subnetCidr)).to.equal(true);
                const instance = one(of(GCE.instance).filter((i) => i.inputs.name === member.name)).inputs;
                expect(instance.networkInterfaces[0].networkIp).to.equal(member.privateIp);
                const addressIndex = run.resources.findIndex((r) => r.type === GCE.address && r.inputs.name === member.name);
                const instanceIndex = run.resources.findIndex((r) => r.type === GCE.instance && r.inputs.name === member.name);
                expect(addressIndex, "address registered first").to.be.lessThan(instanceIndex);
            }
            expect(new Set(plan.members.map((m) => m.privateIp)).size).to.equal(plan.members.length);
        });

        it("spreads members over the zones round-robin (at most one apart per zone)", () => {
            const zones = of(GCE.instance).map((i) => i.inputs.zone as string);
            for (const zone of zones) expect(config.gcp.zones).to.include(zone);
            const perZone = config.gcp.zones.map((z) => zones.filter((x) => x === z).length);
            expect(Math.max(...perZone) - Math.min(...perZone)).to.be.at.most(1);
            for (const member of plan.members) {
                expect(one(of(GCE.instance).filter((i) => i.inputs.name === member.name)).inputs.zone).to.equal(member.zone);
            }
        });

        it("gives each member its own cloud-config in metadata user-data, naming every member in the initial cluster", () => {
            for (const member of plan.members) {
                const instance = one(of(GCE.instance).filter((i) => i.inputs.name === member.name)).inputs;
                expect(Object.keys(instance.metadata)).to.deep.equal(["user-data"]);
                const userData: string = instance.metadata["user-data"];
                expect(userData.startsWith("#cloud-config\n")).to.equal(true);
                const env = etcdEnvironmentOf(userData);
                expect(env.ETCD_NAME).to.equal(member.name);
                const initial = env.ETCD_INITIAL_CLUSTER.split(",");
                expect(initial).to.have.length(plan.members.length);
                for (const m of plan.members) expect(initial).to.include(`${m.name}=${m.peerUrl}`);
                expect(instance.tags).to.deep.equal([`${config.name}-etcd`]);
                expect(instance.machineType).to.equal(config.etcd.machineType);
                expect(instance.bootDisk.initializeParams.image).to.equal(config.os.image);
                expect(instance.bootDisk.initializeParams.size).to.equal(config.etcd.diskSizeGb);
                expect(instance.deletionProtection).to.equal(config.etcd.protect);
            }
            const template = one(of(GCE.template)).inputs;
            expect(template.metadata["user-data"].startsWith("#cloud-config\n")).to.equal(true);
            expect(template.tags).to.deep.equal([`${config.name}-worker`]);
        });

        it("runs each member as its own service account and the workers as one, with project roles for logs and metrics only", () => {
            const accounts = of(GCE.serviceAccount).map((a) => `${a.inputs.accountId}@${config.gcp.project}.iam.gserviceaccount.com`);
            const memberAccounts = plan.members.map((m) => one(of(GCE.instance).filter((i) => i.inputs.name === m.name)).inputs.serviceAccount);
            const workerAccount = one(of(GCE.template)).inputs.serviceAccount;
            for (const sa of [...memberAccounts, workerAccount]) {
                // cloud-platform is the only scope Secret Manager takes; IAM is what limits the VM.
                expect([...sa.scopes].sort()).to.deep.equal([...VM_SCOPES].sort());
                expect(accounts).to.include(sa.email);
            }
            expect(new Set([...memberAccounts, workerAccount].map((sa) => sa.email)).size).to.equal(config.etcd.count + 1);
            plan.members.forEach((m, i) => expect(memberAccounts[i].email).to.match(new RegExp(`-etcd-${i}@`)));
            expect(workerAccount.email).to.match(/-worker@/);
            for (const member of of(GCE.iamMember)) {
                expect(VM_ROLES).to.include(member.inputs.role);
                expect(member.inputs.member).to.match(/^serviceAccount:.*@.*\.iam\.gserviceaccount\.com$/);
            }
            for (const email of [...memberAccounts, workerAccount].map((sa) => sa.email)) {
                const roles = of(GCE.iamMember).filter((b) => b.inputs.member === `serviceAccount:${email}`).map((b) => b.inputs.role);
                expect(roles.sort(), email).to.deep.equal([...VM_ROLES].sort());
            }
        });

        it("puts no private key or certificate in any VM's metadata (user-data included)", () => {
            const metadata = [...of(GCE.instance), ...of(GCE.template)].map((r) => ({ name: r.name, text: JSON.stringify(r.inputs.metadata ?? {}) }));
            expect(metadata).to.have.length(config.etcd.count + 1);
            for (const { name, text } of metadata) {
                expect(text, name).to.not.match(/-----BEGIN|PRIVATE KEY/);
            }
        });

        it("lets each machine read only its own TLS secret (index.ts builds a ClusterPki)", function () {
            if (!buildsPki(run)) this.skip();
            const bindings = of(SECRET_MANAGER.binding);
            const accountOf = (secretId: string) => {
                const holder = secretId.slice(`${config.name}-tls-`.length);
                return holder === "worker"
                    ? one(of(GCE.template)).inputs.serviceAccount.email
                    : one(of(GCE.instance).filter((i) => i.inputs.name === holder)).inputs.serviceAccount.email;
            };
            for (const secret of of(SECRET_MANAGER.secret)) {
                const binding = one(bindings.filter((b) => b.inputs.secretId === secret.inputs.secretId)).inputs;
                expect(binding.role).to.equal("roles/secretmanager.secretAccessor");
                expect(binding.members).to.deep.equal([`serviceAccount:${accountOf(secret.inputs.secretId)}`]);
            }
            for (const w of run.wire.filter((w) => w.type === SECRET_MANAGER.version)) {
                expect((w.object.secretData as Record<string, unknown>)[SECRET_SIG_KEY], w.name).to.equal(SECRET_SIG);
            }
        });

        it("runs workers in a regional group that keeps capacity while updating and heals on the health check", () => {
            const group = one(of(GCE.groupManager)).inputs;
            const template = one(of(GCE.template));
            expect(template.inputs.namePrefix).to.equal(`${config.name}-worker-`);
            expect(group.region).to.equal(config.gcp.region);
            expect(group.distributionPolicyZones).to.deep.equal(config.gcp.zones);
            expect(group.versions[0].instanceTemplate).to.contain(`/instanceTemplates/${config.name}-worker-`);
            expect(group.updatePolicy.type).to.equal("PROACTIVE");
            expect(group.updatePolicy.minimalAction).to.equal("REPLACE");
            expect(group.updatePolicy.maxUnavailableFixed).to.equal(0);
            expect(group.updatePolicy.maxSurgeFixed).to.be.at.least(config.gcp.zones.length);
            expect(group.autoHealingPolicies.initialDelaySec).to.equal(300);
            const autohealing = one(of(GCE.healthCheck).filter((h) => group.autoHealingPolicies.healthCheck.endsWith(`/${h.inputs.name}`))).inputs;
            expect(autohealing.httpHealthCheck).to.deep.equal({ port: config.healthCheck.port, requestPath: config.healthCheck.path });
            expect(group.namedPorts).to.deep.equal(ingressPorts(config).map((p) => ({ name: p.name, port: p.port })));
            expect(group.namedPorts.map((p: { name: string }) => p.name)).to.include.members(["http"]);
            for (const service of config.services.filter((s) => s.public === true)) {
                expect(group.namedPorts.map((p: { port: number }) => p.port)).to.include(service.hostPort);
            }
            if (config.workers.min === config.workers.max) {
                expect(group.targetSize).to.equal(config.workers.min);
            } else {
                expect(group.targetSize).to.equal(undefined);
                const policy = one(of(GCE.autoscaler)).inputs.autoscalingPolicy;
                expect([policy.minReplicas, policy.maxReplicas]).to.deep.equal([config.workers.min, config.workers.max]);
            }
        });

        it("balances with a regional passthrough NLB: backend service on the group, one forwarding rule per port, no target pool", () => {
            const backend = one(of(GCE.backendService)).inputs;
            expect(backend.loadBalancingScheme).to.equal("EXTERNAL");
            expect(backend.protocol).to.equal("TCP");
            expect(backend.region).to.equal(config.gcp.region);
            expect(backend.backends.map((b: { group: string }) => b.group)).to.deep.equal([run.outputs.workerInstanceGroup]);
            expect(backend.backends[0].balancingMode).to.equal("CONNECTION");
            const lbCheck = one(of(GCE.healthCheck).filter((h) => backend.healthChecks.endsWith(`/${h.inputs.name}`))).inputs;
            expect(lbCheck.httpHealthCheck).to.deep.equal({ port: config.healthCheck.port, requestPath: config.healthCheck.path });
            const ip = one(of(GCE.address).filter((a) => a.inputs.addressType === "EXTERNAL"));
            const rules = of(GCE.forwardingRule).map((r) => r.inputs);
            // Every balanced port on exactly one rule; at most 5 per rule (GCE's limit for `ports`).
            const forwarded = rules.flatMap((r) => (r.ports as string[]).map(Number));
            expect(forwarded.sort((a, b) => a - b)).to.deep.equal(ingressPorts(config).map((p) => p.port).sort((a, b) => a - b));
            for (const rule of rules) {
                expect(rule.ports.length, rule.name).to.be.within(1, 5);
                expect(rule.portRange, rule.name).to.equal(undefined);
            }
            for (const rule of rules) {
                expect(rule.loadBalancingScheme).to.equal("EXTERNAL");
                expect(rule.ipProtocol).to.equal("TCP");
                expect(rule.backendService).to.contain(`/backendServices/${backend.name}`);
                expect(rule.target).to.equal(undefined);
                expect(rule.ipAddress).to.equal(run.outputs.loadBalancerIp);
                expect(rule.region).to.equal(config.gcp.region);
            }
            expect(ip.inputs.region).to.equal(config.gcp.region);
            expect(run.resources.some((r) => /targetPool|TargetPool/.test(r.type))).to.equal(false);
        });

        it("labels everything that takes labels with cluster, environment and role", () => {
            const gcpResources = run.resources.filter((r) => r.custom && r.type.startsWith("gcp:"));
            const labelled = gcpResources.filter((r) => argsDeclareLabels(r.type));
            expect(labelled.length).to.be.at.least(config.etcd.count * 2 + 3);
            for (const r of labelled) {
                expect(r.inputs.labels, `${r.type} ${r.name}`).to.include({ cluster: config.name, environment: config.environment });
                expect(r.inputs.labels.role, `${r.type} ${r.name}`).to.be.oneOf(["etcd", "worker", "ingress"]);
            }
            for (const i of of(GCE.instance)) expect(i.inputs.bootDisk.initializeParams.labels).to.include({ cluster: config.name, role: "etcd" });
            expect(one(of(GCE.template)).inputs.disks[0].labels).to.include({ cluster: config.name, role: "worker" });
        });

        it("exports the documented outputs, resolved", () => {
            const o = run.outputs;
            expect(o.platform).to.equal("gcp");
            expect(o.etcdMemberNames).to.deep.equal(plan.members.map((m) => m.name));
            expect(o.etcdMemberIps).to.deep.equal(plan.members.map((m) => m.privateIp));
            expect(o.etcdClientUrls).to.deep.equal(plan.clientUrls);
            expect(o.etcdPeerUrls).to.deep.equal(plan.members.map((m) => m.peerUrl));
            expect(o.workerInstanceGroup).to.match(new RegExp(`/regions/${config.gcp.region}/instanceGroups/${config.name}-worker$`));
            expect(o.loadBalancerIp).to.match(/^\d+\.\d+\.\d+\.\d+$/);
            expect(o.networkSelfLink).to.match(new RegExp(`/global/networks/${config.name}-network$`));
            expect(o.subnetSelfLink).to.match(new RegExp(`/regions/${config.gcp.region}/subnetworks/${config.name}-subnet$`));
            expect(o.servicesPrefix).to.equal(config.servicesPrefix);
            const etcdHashes = Object.values(o.userDataHashes.etcd) as string[];
            expect(etcdHashes).to.have.length(config.etcd.count);
            for (const instance of of(GCE.instance)) expect(etcdHashes).to.include(userDataHash(instance.inputs.metadata["user-data"]));
            expect(o.userDataHashes.worker).to.deep.equal({ "worker.yaml": userDataHash(one(of(GCE.template)).inputs.metadata["user-data"]) });
        });
    });
}
