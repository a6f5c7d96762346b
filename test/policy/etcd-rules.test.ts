import { expect } from "chai";
import { etcdMemberCountFindings } from "../../policy/rules/etcd-member-count";
import { etcdProtectionViolations } from "../../policy/rules/etcd-protection";
import { StackContext, TYPES } from "../../policy/rules/resource-data";
import { DEV, PROD, etcdMember, localMachine, resource, runResourcePolicy, runStackPolicy, workerTemplate } from "./policy-harness";

const members = (n: number, opts: Parameters<typeof etcdMember>[1] = {}) => Array.from({ length: n }, (_, i) => etcdMember(i, opts));

describe("policy: etcd-member-count-odd (mandatory, stack)", () => {
    for (const n of [3, 5, 7]) {
        it(`accepts ${n} labelled etcd instances`, async () => {
            expect(etcdMemberCountFindings(members(n), DEV)).to.deep.equal([]);
            expect(await runStackPolicy(DEV, "etcd-member-count-odd", [...members(n), workerTemplate()])).to.deep.equal([]);
        });
    }

    for (const n of [1, 2, 4, 6, 9]) {
        it(`rejects ${n} etcd instance(s), naming the cluster and the count`, async () => {
            const found = await runStackPolicy(DEV, "etcd-member-count-odd", members(n));
            expect(found).to.have.length(1);
            expect(found[0].message).to.contain(`cluster "coreos" has ${n} etcd member`);
            expect(found[0].message).to.contain("coreos-cluster:etcdCount");
            expect(found[0].urn).to.equal(members(n)[0].urn);
        });
    }

    it("counts each cluster of the stack separately", () => {
        const stack = [...members(3, { cluster: "blue" }), ...members(4, { cluster: "green" })];
        const found = etcdMemberCountFindings(stack, DEV);
        expect(found.map((f) => f.message)).to.have.length(1);
        expect(found[0].message).to.contain(`cluster "green" has 4`);
    });

    it("does not count workers or templates as members", () => {
        const templateLabelledEtcd = resource(TYPES.instanceTemplate, "odd-template", { labels: { cluster: "coreos", environment: "dev", role: "etcd" } });
        expect(etcdMemberCountFindings([...members(3), workerTemplate(), templateLabelledEtcd], DEV)).to.deep.equal([]);
    });

    it("counts the local platform's machines of role etcd, per cluster name", async () => {
        const local = (n: number) => [
            ...Array.from({ length: n }, (_, i) => localMachine(`coreos-local-etcd-${i}`, "etcd", `10.213.10.${10 + i}`)),
            localMachine("coreos-local-worker-0", "worker", "10.213.10.20"),
        ];
        const ctx = { stack: "local", config: {} };
        expect(await runStackPolicy(ctx, "etcd-member-count-odd", local(3))).to.deep.equal([]);
        const found = await runStackPolicy(ctx, "etcd-member-count-odd", local(2));
        expect(found).to.have.length(1);
        expect(found[0].message).to.contain('cluster "coreos-local" has 2 etcd members');
        const otherDynamic = resource("pulumi-nodejs:dynamic:Resource", "service-web", { service: "web", hosts: [] });
        expect(etcdMemberCountFindings([otherDynamic], ctx)).to.deep.equal([]);
    });

    it("reads the count from a coreos-cluster component's inputs when no instance is labelled (local platform)", () => {
        const component = (count: number) =>
            resource("coreos-cluster:index:LocalCluster", "local", { config: { name: "coreos", etcd: { count } }, plan: { members: [] } });
        expect(etcdMemberCountFindings([component(5)], DEV)).to.deep.equal([]);
        const found = etcdMemberCountFindings([component(4)], DEV);
        expect(found).to.have.length(1);
        expect(found[0].message).to.contain("inputs of local (coreos-cluster:index:LocalCluster)");
    });

    it("falls back to the plan's member list, then to the stack config", () => {
        const planOnly = resource("coreos-cluster:index:GcpCluster", "c", { plan: { members: [{}, {}] } });
        expect(etcdMemberCountFindings([planOnly], DEV)[0].message).to.contain("has 2 etcd members");
        const fromConfig: StackContext = { stack: "local", config: { "coreos-cluster:etcdCount": "6" } };
        const found = etcdMemberCountFindings([], fromConfig);
        expect(found).to.have.length(1);
        expect(found[0].message).to.contain("stack config coreos-cluster:etcdCount");
        expect(etcdMemberCountFindings([], { stack: "local", config: { "coreos-cluster:etcdCount": "3" } })).to.deep.equal([]);
    });

    it("has nothing to check in a stack without etcd (an application stack)", () => {
        expect(etcdMemberCountFindings([workerTemplate()], { stack: "app", config: {} })).to.deep.equal([]);
    });

    it("allows one member only on a dev stack with isDev and allowSingleMember, never in prod", () => {
        const devSingle: StackContext = {
            stack: "dev",
            config: { "coreos-cluster:isDev": "true", "coreos-cluster:allowSingleMember": "true" },
        };
        expect(etcdMemberCountFindings(members(1), devSingle)).to.deep.equal([]);
        expect(etcdMemberCountFindings(members(1), { ...devSingle, config: { "coreos-cluster:isDev": "true" } })).to.have.length(1);
        expect(etcdMemberCountFindings(members(1), { ...devSingle, stack: "prod" })).to.have.length(1);
        expect(etcdMemberCountFindings(members(2), devSingle)).to.have.length(1);
    });
});

describe("policy: prod-etcd-members-protected (mandatory)", () => {
    it("accepts a prod member with protect and deletionProtection", async () => {
        const member = etcdMember(0, { environment: "prod", protect: true, deletionProtection: true });
        expect(etcdProtectionViolations(member, PROD)).to.deep.equal([]);
        expect(await runResourcePolicy(PROD, "prod-etcd-members-protected", member)).to.deep.equal([]);
    });

    it("rejects a prod member without the protect option", async () => {
        const member = etcdMember(1, { environment: "prod", protect: false, deletionProtection: true });
        const messages = await runResourcePolicy(PROD, "prod-etcd-members-protected", member);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("coreos-etcd-1").and.to.contain("protect: true");
    });

    it("rejects a prod member without GCE deletionProtection", async () => {
        const member = etcdMember(2, { environment: "prod", protect: true, deletionProtection: false });
        const messages = await runResourcePolicy(PROD, "prod-etcd-members-protected", member);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("deletionProtection");
    });

    it("detects prod from the environment label even on a stack with another name", () => {
        const member = etcdMember(0, { environment: "production", protect: false, deletionProtection: false });
        expect(etcdProtectionViolations(member, { stack: "eu-main", config: {} })).to.have.length(2);
    });

    it("detects prod from the stack name when the member has no environment label", () => {
        const member = etcdMember(0, { environment: "dev", protect: false, deletionProtection: false });
        member.props.labels = { cluster: "coreos", role: "etcd" };
        expect(etcdProtectionViolations(member, PROD)).to.have.length(2);
        expect(etcdProtectionViolations(member, DEV)).to.deep.equal([]);
    });

    it("leaves dev members and non-etcd VMs alone", async () => {
        expect(await runResourcePolicy(DEV, "prod-etcd-members-protected", etcdMember(0, { environment: "dev", protect: false }))).to.deep.equal([]);
        expect(await runResourcePolicy(PROD, "prod-etcd-members-protected", workerTemplate({}, "prod"))).to.deep.equal([]);
    });
});
