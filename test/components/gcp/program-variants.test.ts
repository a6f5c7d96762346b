// The program under mocks beyond the two GCE stacks: an existing network and subnet on GCE,
// and the local platform (which must register no GCE resource at all).
import { expect } from "chai";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { GCE, ProgramRun, REPO_ROOT, byType, one, runProgram } from "../../support/mocks";

describe("program under mocks: local stack", function () {
    let run: ProgramRun;
    before(async function () {
        // Loading and running the whole program under mocks takes a while on a busy machine.
        this.timeout(300_000);
        run = await runProgram({ stack: "local", config: readStackFile("local", REPO_ROOT), fresh: "all" });
    });

    it("registers no GCE resource (the GCP provider plugin is not needed) and a LocalCluster instead", () => {
        expect(run.resources.filter((r) => r.type.startsWith("gcp:")).map((r) => r.type)).to.deep.equal([]);
        expect(run.resources.filter((r) => r.type === "command:remote:Command")).to.deep.equal([]);
        expect(run.resources.filter((r) => r.type === "coreos-cluster:index:LocalCluster")).to.have.length(1);
    });

    const config = loadConfig(readStackFile("local", REPO_ROOT), "local");

    it("exports the same output names, with null for what only GCE has", () => {
        const plan = planCluster(config);
        expect(run.outputs.platform).to.equal("local");
        expect(run.outputs.etcdMemberNames).to.deep.equal(plan.members.map((m) => m.name));
        expect(run.outputs.etcdClientUrls).to.deep.equal(plan.clientUrls);
        for (const key of ["workerInstanceGroup", "networkSelfLink", "subnetSelfLink"]) {
            expect(run.outputs, key).to.have.property(key, null);
        }
        // The local load balancer's frontend: .2 of the VPC's subnet, where the probers stand too.
        const balancer = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic:Resource" && r.inputs.name === `${config.name}-ingress`);
        expect(balancer, "the local load balancer").to.not.equal(undefined);
        expect(run.outputs.loadBalancerIp).to.equal(balancer!.inputs.address);
        expect(run.outputs.loadBalancerIp).to.equal(config.local.firstAddress.replace(/\d+$/, "2"));
        expect(Object.keys(run.outputs.userDataHashes.worker)).to.have.length(config.local.workers);
    });

    it("tunnels to the VPC's member only through the VPC's bridge: the providers' and the consumers' tunnels carry localVpc", () => {
        const subnet = config.local.firstAddress.replace(/\d+$/, "0/24");
        const set = run.resources.find((r) => r.inputs.connection?.sshTunnel !== undefined);
        expect(set, "a provider that tunnels").to.not.equal(undefined);
        expect(set!.inputs.connection.sshTunnel).to.include({ host: "10.213.10.10", localVpc: subnet });
        expect(run.outputs.sshTunnel).to.deep.equal({ host: "10.213.10.10", port: 22, username: "root", localVpc: subnet });
    });
});

describe("program on GCE under mocks: an existing network and subnet", function () {
    const subnetLink = "projects/shared-host/regions/us-central1/subnetworks/shared-subnet";
    let run: ProgramRun;
    before(async function () {
        // Loading and running the whole program under mocks takes a while on a busy machine.
        this.timeout(300_000);
        const raw = { ...readStackFile("dev", REPO_ROOT), existingNetwork: "shared-vpc", existingSubnetwork: subnetLink, externalIps: false };
        run = await runProgram({ stack: "dev", config: raw, fresh: "program" });
    });

    it("creates no network or subnet, looks the network up by name and uses the subnet link as given", () => {
        expect(byType(run.resources, GCE.network)).to.deep.equal([]);
        expect(byType(run.resources, GCE.subnetwork)).to.deep.equal([]);
        const lookups = run.calls.filter((c) => c.token === "gcp:compute/getNetwork:getNetwork");
        expect(lookups.map((c) => c.inputs.name)).to.deep.equal(["shared-vpc"]);
        expect(run.outputs.networkSelfLink).to.match(/\/global\/networks\/shared-vpc$/);
        for (const rule of byType(run.resources, GCE.firewall)) expect(rule.inputs.network).to.equal(run.outputs.networkSelfLink);
        for (const instance of byType(run.resources, GCE.instance)) expect(instance.inputs.networkInterfaces[0].subnetwork).to.equal(subnetLink);
        for (const address of byType(run.resources, GCE.address).filter((a) => a.inputs.addressType === "INTERNAL")) {
            expect(address.inputs.subnetwork).to.equal(subnetLink);
        }
    });

    it("still gives private VMs NAT, for the cluster's subnet only", () => {
        const nat = one(byType(run.resources, GCE.nat)).inputs;
        expect(nat.sourceSubnetworkIpRangesToNat).to.equal("LIST_OF_SUBNETWORKS");
        expect(nat.subnetworks.map((s: { name: string }) => s.name)).to.deep.equal([subnetLink]);
        expect(one(byType(run.resources, GCE.router)).inputs.network).to.equal(run.outputs.networkSelfLink);
    });
});
