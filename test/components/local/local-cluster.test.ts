// LocalCluster under the SDK's mocks: the VPC (LocalNetwork) first, one LocalMachine per rendered
// machine on its planned address in its own namespace (members first, workers depending on them),
// the deployer's sshd on the tunnel's member, a readiness step over every member and proxy, and
// the contract's outputs. The machines, the VPC and sshd are tested for real in their own files
// (local-machine.test.ts, vpc/*.test.ts, local-sshd.test.ts); this checks the wiring only.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { renderMachines } from "../../../cloud-config";
import { planCluster } from "../../../model/plan";
import { loadConfig } from "../../../model/validate";
import { publicKeyOf } from "../../../components/local/deployer-key";
import { localAddresses, LocalCluster } from "../../../components/local/local-cluster";
import { namespaceName } from "../../../components/local/vpc/addressing";
import { loadBalancedPorts } from "../../../model/firewall";
import { autohealingHealthCheck, loadBalancerHealthCheck } from "../../../model/health-checks";

/** A throwaway deployer key (ssh-keygen, as scripts/local.sh makes it). */
function deployerKey(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-wire-key-"));
    try {
        childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
        return fs.readFileSync(path.join(dir, "k"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
}

const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => resolve(v)));
}

describe("local platform: LocalCluster wiring (mocks)", function () {
    this.timeout(60000);
    // Mocks only: these addresses are never used for traffic.
    const privateKey = deployerKey();
    const config = loadConfig(
        {
            platform: "local",
            clusterName: "wire",
            localFirstAddress: "10.213.8.200",
            localWorkers: 2,
            osFlavor: "flatcar",
            localDataDir: "tmp-local-wire",
            sshTunnel: { host: "10.213.8.201", username: "root", privateKeyEnv: "WIRE_TEST_KEY" },
            sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@example.com"],
        },
        "local",
        { env: { WIRE_TEST_KEY: privateKey } },
    );
    const plan = planCluster(config);
    const machines = renderMachines(config, plan);

    let registered: Registered[];
    let dependsOn: Record<string, string[]>;
    let cluster: LocalCluster;

    before(async () => {
        registered = [];
        dependsOn = {};
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    registered.push({ type: args.type, name: args.name, inputs: args.inputs });
                    const state: Record<string, unknown> = { ...args.inputs };
                    if (args.inputs.address) Object.assign(state, { clientUrl: `https://${args.inputs.address}:2379`, pid: 4242, running: true, ignored: [`ignored on ${args.name}`] });
                    if (args.inputs.memberClientUrls) Object.assign(state, { ready: true, unhealthy: [] });
                    return { id: `${args.name}-id`, state };
                },
                call: () => ({}),
            },
            "coreos-cluster",
            "local",
            false,
        );
        const names = new Map<pulumi.Resource, string>();
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((t) => {
                names.set(t.resource, t.name);
                const deps = (t.opts.dependsOn ?? []) as pulumi.Resource[];
                dependsOn[t.name] = (Array.isArray(deps) ? deps : [deps]).map((d) => names.get(d) ?? "?");
                return undefined;
            });
            cluster = new LocalCluster("wire", { config, plan, machines });
            await outputValue(cluster.ready);
            return {};
        });
    });

    it("balances the load-balanced ports to every worker from the probe namespace, by the GCE components' health-check plans", () => {
        const lb = registered.find((r) => r.name === "wire-ingress")!;
        expect(lb, "LocalLoadBalancer").to.not.equal(undefined);
        const vpc = registered.find((r) => r.name === "wire-vpc")!.inputs.vpc;
        expect(lb.inputs.namespace).to.equal(vpc.probeNamespace);
        expect(lb.inputs.address).to.equal(vpc.probeAddress);
        expect(lb.inputs.ports).to.deep.equal(loadBalancedPorts(config));
        expect(lb.inputs.backends.map((b: { name: string; address: string }) => [b.name, b.address])).to.deep.equal(plan.workers.map((w) => [w.name, w.privateIp]));
        expect(lb.inputs.health).to.deep.equal(loadBalancerHealthCheck(config));
        expect(lb.inputs.autohealing).to.deep.equal(autohealingHealthCheck(config));
        expect(lb.inputs.scriptSha256).to.match(/^[0-9a-f]{64}$/);
    });

    it("boots every rendered machine on its planned address under the data dir", () => {
        const boots = registered.filter((r) => r.type === DYNAMIC && r.inputs.userData !== undefined);
        expect(boots.map((b) => b.name)).to.deep.equal(machines.map((m) => m.name));
        const root = path.resolve("tmp-local-wire");
        boots.forEach((b, i) => {
            const m = machines[i];
            expect(b.inputs.role).to.equal(m.role);
            expect(b.inputs.userData).to.equal(m.userData);
            expect(b.inputs.root).to.equal(path.join(root, m.name));
            expect(b.inputs.flavor).to.equal("flatcar");
            expect(b.inputs.providerVersion).to.be.a("string");
            expect(b.inputs.namespace, `${m.name} boots in its own namespace`).to.equal(namespaceName(m.name));
        });
        expect(boots.map((b) => b.inputs.address)).to.deep.equal([...plan.members.map((m) => m.privateIp), ...plan.workers.map((w) => w.privateIp)]);
    });

    it("builds the VPC first: a namespace per machine, the load balancer's and Prometheus's, each with its firewall rules", () => {
        const vpc = registered.find((r) => r.name === "wire-vpc")!;
        expect(vpc, "LocalNetwork").to.not.equal(undefined);
        expect(vpc.inputs.vpc.subnet).to.equal("10.213.8.0/24");
        expect(vpc.inputs.vpc.machines.map((m: { name: string; address: string }) => [m.name, m.address])).to.deep.equal(
            [...plan.members, ...plan.workers].map((m) => [m.name, m.privateIp]),
        );
        expect(Object.keys(vpc.inputs.rulesets).sort()).to.deep.equal([...machines.map((m) => namespaceName(m.name)), vpc.inputs.vpc.probeNamespace, vpc.inputs.vpc.prometheusNamespace].sort());
        // Prometheus's namespace lets in its UI from the deployer only; the members admit 2381 from Prometheus's address only.
        expect(vpc.inputs.rulesets[vpc.inputs.vpc.prometheusNamespace]).to.contain(`ip saddr { ${vpc.inputs.vpc.deployerAddress} } tcp dport { 9090 } accept`);
        expect(vpc.inputs.rulesets[namespaceName(plan.members[0].name)]).to.contain(`ip saddr { ${vpc.inputs.vpc.prometheusAddress}/32, ${vpc.inputs.vpc.prometheusAddress} } tcp dport { 2381 } accept`);
        // The matrix decides: a member admits peers on 2380, a worker does not.
        expect(vpc.inputs.rulesets[namespaceName(plan.members[0].name)]).to.contain("tcp dport { 2380 }");
        expect(vpc.inputs.rulesets[namespaceName(plan.workers[0].name)]).to.not.contain("2380");
        expect(vpc.inputs.dataDir).to.equal(path.resolve("tmp-local-wire"));
    });

    it("creates members after the VPC, workers after every member, the load balancer after the workers, Prometheus after the VPC, readiness after all", () => {
        for (const m of plan.members) expect(dependsOn[m.name]).to.deep.equal(["wire-vpc"]);
        for (const w of plan.workers) expect(dependsOn[w.name]).to.deep.equal(plan.members.map((m) => m.name));
        expect(dependsOn["wire-sshd"]).to.deep.equal(["wire-vpc"]);
        expect(dependsOn["wire-ingress"]).to.deep.equal(["wire-vpc", ...plan.workers.map((w) => w.name)]);
        expect(dependsOn["wire-prometheus"]).to.deep.equal(["wire-vpc"]);
        expect(dependsOn["wire-readiness"]).to.deep.equal([...machines.map((m) => m.name), "wire-ingress", "wire-sshd", "wire-prometheus"]);
    });

    it("runs the deployer's sshd on the tunnel's member, with the tunnel's public key and sshAuthorizedKeys only", () => {
        const sshd = registered.find((r) => r.name === "wire-sshd")!;
        const bastion = plan.members[1];
        expect(sshd.inputs).to.include({ namespace: namespaceName(bastion.name), address: bastion.privateIp, port: 22 });
        expect(sshd.inputs.authorizedKeys).to.deep.equal([publicKeyOf(privateKey), config.ssh.authorizedKeys[0]]);
        // Nothing registered carries the private key in plaintext.
        const body = privateKey.split("\n").slice(1, -2).join("");
        for (const r of registered) expect(JSON.stringify(r.inputs), r.name).to.not.contain(body.slice(0, 40));
    });

    it("waits for readiness over every member client URL and every proxy", () => {
        const readiness = registered.find((r) => r.name === "wire-readiness")!;
        expect(readiness.inputs.memberClientUrls).to.deep.equal(plan.clientUrls);
        expect(readiness.inputs.proxyUrls).to.deep.equal(plan.workers.map((w) => `https://${w.privateIp}:2379`)); // the mocks' clientUrl
        expect(readiness.inputs.pids).to.deep.equal(machines.map(() => 4242));
        // Each probes itself from inside its own namespace: the deployer cannot reach 2379.
        expect(readiness.inputs.memberNamespaces).to.deep.equal(plan.members.map((m) => namespaceName(m.name)));
        expect(readiness.inputs.proxyNamespaces).to.deep.equal(plan.workers.map((w) => namespaceName(w.name)));
    });

    it("exposes the contract outputs", async () => {
        expect(await outputValue(cluster.memberNames)).to.deep.equal(plan.members.map((m) => m.name));
        expect(await outputValue(cluster.memberIps)).to.deep.equal(plan.members.map((m) => m.privateIp));
        expect(await outputValue(cluster.clientUrls)).to.deep.equal(plan.clientUrls);
        expect(await outputValue(cluster.peerUrls)).to.deep.equal(plan.members.map((m) => m.peerUrl));
        expect(await outputValue(cluster.workerProxyUrls)).to.deep.equal(plan.workers.map((w) => `https://${w.privateIp}:2379`));
        expect(await outputValue(cluster.ready)).to.equal(true);
        const notApplied = await outputValue(cluster.notAppliedLocally);
        expect(notApplied[machines[0].name]).to.deep.equal([`ignored on ${machines[0].name}`]);
    });

    it("refuses a rendered machine the plan has no address for, naming it", () => {
        expect(() => localAddresses(plan, [...machines, { name: "stray", role: "worker", fileName: "worker-9.yaml", userData: "#cloud-config\n" }])).to.throw(
            "local machine stray (worker-9.yaml) has no planned address",
        );
    });
});
