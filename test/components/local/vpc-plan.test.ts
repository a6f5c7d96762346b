// The local VPC's pure planners: names, addresses, and the firewall matrix as nftables rules.
import { expect } from "chai";
import { firewallMatrix, GOOGLE_HEALTH_CHECK_RANGES, loadBalancedPorts } from "../../../model/firewall";
import { planCluster } from "../../../model/plan";
import { localVpcPlan, MAX_INTERFACE_NAME } from "../../../components/local/vpc/addressing";
import { localSources, machineRules, namespaceRuleset, ruleStatements, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { localConfig } from "../../cloud-config/fixtures";

describe("local VPC planners (pure)", () => {
    const config = localConfig({ name: "a-rather-long-cluster-name", local: { firstAddress: "10.213.10.10", workers: 2, dataDir: ".x" } } as never);
    const plan = planCluster(config);
    const vpc = localVpcPlan(config, plan);
    const matrix = firewallMatrix(config, plan);

    it("names every namespace ccl-<machine>, keeps interface names within 15 characters, and puts machines on one /24", () => {
        expect(vpc.subnet).to.equal("10.213.10.0/24");
        expect(vpc.deployerAddress).to.equal("10.213.10.1");
        expect(vpc.probeAddress).to.equal("10.213.10.2");
        expect(vpc.machines.map((m) => m.namespace)).to.deep.equal([0, 1, 2].map((i) => `ccl-a-rather-long-cluster-name-etcd-${i}`).concat([0, 1].map((i) => `ccl-a-rather-long-cluster-name-worker-${i}`)));
        expect(vpc.machines.map((m) => m.address)).to.deep.equal(["10.213.10.10", "10.213.10.11", "10.213.10.12", "10.213.10.13", "10.213.10.14"]);
        const names = [vpc.bridge, vpc.probeHostVeth, ...vpc.machines.map((m) => m.hostVeth)];
        for (const n of names) expect(n.length, n).to.be.at.most(MAX_INTERFACE_NAME);
        for (const n of names) expect(n.startsWith("ccl")).to.equal(true);
        expect(new Set(names).size).to.equal(names.length);
        expect(vpc.machines.find((m) => m.role === "worker")!.tags).to.deep.equal(["a-rather-long-cluster-name-worker"]);
    });

    it("refuses a loopback or public first address, naming localFirstAddress", () => {
        const loopback = localConfig({ local: { firstAddress: "127.0.10.10", workers: 1, dataDir: ".x" } } as never);
        expect(() => localVpcPlan(loopback, planCluster(loopback))).to.throw(/coreos-cluster:localFirstAddress: 127.0.10.10 is not a private/);
        const publicAddress = localConfig({ local: { firstAddress: "8.8.8.10", workers: 1, dataDir: ".x" } } as never);
        expect(() => planCluster(publicAddress)).to.throw(/localFirstAddress 8.8.8.10 is neither a private nor a loopback/);
    });

    it("maps sources: tags to the machines carrying them, 0.0.0.0/0 to any, sshSourceRanges to the deployer, Google's probe ranges to the probe namespace", () => {
        const rule = (suffix: string) => matrix.find((r) => r.name === `${config.name}-${suffix}`)!;
        expect(localSources(rule("etcd-peer"), vpc, config)).to.deep.equal(["10.213.10.10", "10.213.10.11", "10.213.10.12"]);
        expect(localSources(rule("etcd-client"), vpc, config)).to.deep.equal(["10.213.10.10", "10.213.10.11", "10.213.10.12", "10.213.10.13", "10.213.10.14"]);
        expect(localSources(rule("ingress"), vpc, config)).to.equal("any");
        const ssh = localSources(rule("ssh"), vpc, config) as string[];
        expect(ssh).to.include(vpc.deployerAddress).and.include(config.ssh.sourceRanges[0]);
        expect(ssh).not.to.include(vpc.probeAddress);
        const probes = localSources(rule("health-check"), vpc, config) as string[];
        expect(probes).to.include(vpc.probeAddress).and.include.members(GOOGLE_HEALTH_CHECK_RANGES);
        expect(probes).not.to.include(vpc.deployerAddress);
    });

    it("maps the GCE subnet (gcp.subnetCidr, `<cluster>-ingress-internal`'s source) to the VPC's machines, not the deployer or the load balancer", () => {
        const internal = { name: "x-internal", direction: "INGRESS", targetTags: [], sourceRanges: [config.gcp.subnetCidr], allow: [{ protocol: "tcp", ports: ["6379"] }] } as never;
        expect(localSources(internal, vpc, config)).to.deep.equal(vpc.machines.map((m) => m.address));
        expect(localSources(internal, vpc, config)).to.not.include(vpc.deployerAddress).and.not.include(vpc.probeAddress);
        expect(vpc.subnet).to.not.equal(config.gcp.subnetCidr);
    });

    it("gives each machine exactly the rules targeting its tags, default-deny with loopback and replies", () => {
        const member = vpc.machines[0];
        const worker = vpc.machines[3];
        const names = (m: typeof member) => machineRules(m, matrix, vpc, config).map((r) => r.name);
        expect(names(member)).to.deep.equal(matrix.filter((r) => r.targetTags.includes(`${config.name}-etcd`)).map((r) => r.name));
        expect(names(worker)).to.deep.equal(matrix.filter((r) => r.targetTags.includes(`${config.name}-worker`)).map((r) => r.name));
        expect(names(worker)).not.to.include(`${config.name}-etcd-client`);
        const text = vpcRulesets(vpc, matrix, config)[member.namespace];
        expect(text).to.contain("policy drop;");
        expect(text).to.contain('iif "lo" accept');
        expect(text).to.contain("ct state established,related accept");
        // Raft's port admits the members only (no worker dials it: docs/security.md).
        expect(text).to.contain(`ip saddr { 10.213.10.10, 10.213.10.11, 10.213.10.12 } tcp dport { 2380 } accept comment "${config.name}-etcd-peer"`);
        expect(text.match(/dport \{ 2380 \}/g)).to.have.length(1);
        // The load balancer's namespace takes the forwarded ports from anywhere, as a forwarding rule does, and nothing else.
        const lb = vpcRulesets(vpc, matrix, config)[vpc.probeNamespace];
        expect(lb.match(/dport/g)).to.have.length(1);
        expect(lb).to.contain(`tcp dport { ${loadBalancedPorts(config).join(", ")} } accept comment "${config.name}-ingress (forwarding rules)"`);
        expect(lb).to.not.match(/ip saddr/);
    });

    it("writes no statement for a rule without sources, and every port of a protocol when ports are absent", () => {
        expect(ruleStatements({ name: "x", sources: [], allow: [{ protocol: "tcp", ports: ["1"] }] })).to.deep.equal([]);
        expect(ruleStatements({ name: "x", sources: "any", allow: [{ protocol: "udp" }, { protocol: "icmp" }] })).to.deep.equal([
            'meta l4proto udp accept comment "x"',
            'meta l4proto icmp accept comment "x"',
        ]);
        expect(namespaceRuleset([]).split("\n")[1]).to.equal("flush table inet ccl_firewall");
    });
});
