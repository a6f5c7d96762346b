// LocalCluster under the SDK's mocks: one LocalMachine per rendered machine on its planned
// address (members first, workers depending on them), a readiness step over every member
// and proxy, and the contract's outputs. The machines themselves are tested on real etcd
// in local-machine.test.ts; this checks the wiring only.
import { expect } from "chai";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { renderMachines } from "../../../cloud-config";
import { planCluster } from "../../../model/plan";
import { loadConfig } from "../../../model/validate";
import { localAddresses, LocalCluster } from "../../../components/local/local-cluster";

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
    const config = loadConfig(
        { platform: "local", clusterName: "wire", localFirstAddress: "127.0.8.200", localWorkers: 2, osFlavor: "flatcar", localDataDir: "tmp-local-wire" },
        "local",
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
                    if (args.inputs.address) Object.assign(state, { clientUrl: `http://${args.inputs.address}:2379`, pid: 4242, running: true, ignored: [`ignored on ${args.name}`] });
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
        });
        expect(boots.map((b) => b.inputs.address)).to.deep.equal([...plan.members.map((m) => m.privateIp), ...plan.workers.map((w) => w.privateIp)]);
    });

    it("creates members without dependencies and makes workers depend on every member", () => {
        for (const m of plan.members) expect(dependsOn[m.name]).to.deep.equal([]);
        for (const w of plan.workers) expect(dependsOn[w.name]).to.deep.equal(plan.members.map((m) => m.name));
        expect(dependsOn["wire-readiness"]).to.deep.equal(machines.map((m) => m.name));
    });

    it("waits for readiness over every member client URL and every proxy", () => {
        const readiness = registered.find((r) => r.name === "wire-readiness")!;
        expect(readiness.inputs.memberClientUrls).to.deep.equal(plan.clientUrls);
        expect(readiness.inputs.proxyUrls).to.deep.equal(plan.workers.map((w) => `http://${w.privateIp}:2379`));
        expect(readiness.inputs.pids).to.deep.equal(machines.map(() => 4242));
    });

    it("exposes the contract outputs", async () => {
        expect(await outputValue(cluster.memberNames)).to.deep.equal(plan.members.map((m) => m.name));
        expect(await outputValue(cluster.memberIps)).to.deep.equal(plan.members.map((m) => m.privateIp));
        expect(await outputValue(cluster.clientUrls)).to.deep.equal(plan.clientUrls);
        expect(await outputValue(cluster.peerUrls)).to.deep.equal(plan.members.map((m) => m.peerUrl));
        expect(await outputValue(cluster.workerProxyUrls)).to.deep.equal(plan.workers.map((w) => `http://${w.privateIp}:2379`));
        expect(await outputValue(cluster.ready)).to.equal(true);
        const notApplied = await outputValue(cluster.notAppliedLocally);
        expect(notApplied[machines[0].name]).to.deep.equal([`ignored on ${machines[0].name}`]);
    });

    it("refuses a rendered machine the plan has no address for, naming it", () => {
        expect(() => localAddresses(plan, [...machines, { name: "stray", role: "worker", fileName: "worker-9.yaml", userData: "#cloud-config\n" }])).to.throw(
            "local machine stray (worker-9.yaml) has no planned loopback address",
        );
    });
});
