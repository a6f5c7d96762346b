// How the program reaches a GCE cluster it created: the health gate over SSH, then the
// service keys and fleet units, in that order, with the SSH key, the etcd password and the
// tunnelled fleet endpoint sent to the engine only as secrets.
import { dialErrorLimit, PER_DIAL_TIMEOUT_S } from "../../../components/gcp/cluster-health-gate";
import { expect } from "chai";
import * as crypto from "crypto";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { ClusterPlan } from "../../../model/types";
import { GCE, ProgramRun, REPO_ROOT, SECRET_SIG, SECRET_SIG_KEY, WireRegistration, one, runProgram, urnOf } from "../../support/mocks";
import { newOpenSshPrivateKey } from "../../../model/ssh-key";

/** Paths where `needle` appears in a serialized value outside a secret wrapper. */
function plaintextPaths(value: unknown, needle: string, path = ""): string[] {
    if (typeof value === "string") return value.includes(needle) ? [path || "(root)"] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => plaintextPaths(v, needle, `${path}[${i}]`));
    if (value !== null && typeof value === "object") {
        if ((value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG) return [];
        return Object.entries(value).flatMap(([k, v]) => plaintextPaths(v, needle, `${path}.${k}`));
    }
    return [];
}

/** Whether `needle` was sent at all (inside a secret wrapper or not). */
function sentAnywhere(value: unknown, needle: string): boolean {
    return JSON.stringify(value).includes(JSON.stringify(needle).slice(1, -1));
}

describe("program on GCE under mocks: health gate, providers and secrets", function () {
    const privateKey = newOpenSshPrivateKey();
    const password = `pw-${crypto.randomBytes(12).toString("hex")}`;
    const tunnel = { host: "203.0.113.7", port: 2222, username: "core", privateKey };
    const fleetEndpoint = "http://10.10.0.2:49153";
    let run: ProgramRun;
    let plan: ClusterPlan;
    let clusterName: string;

    before(async function () {
        // Loading and running the whole program under mocks takes a while on a busy machine.
        this.timeout(300_000);
        const raw = {
            // Plain entries: the stack reader's plaintext-secret mark (for its env-keyed tunnel) is not carried over.
            ...Object.fromEntries(Object.entries(readStackFile("dev", REPO_ROOT))),
            sshTunnel: tunnel,
            etcdUsername: "root",
            etcdPassword: password,
            fleetEndpoint,
            fleetRelease: { sha256: "7e57".repeat(16) },
            fleetUnits: [
                { name: "web@.service", content: "[Service]\nExecStart=/usr/bin/sleep infinity\n", instances: [1, 2] },
                { name: "sidekick.service", content: "[Service]\nExecStart=/usr/bin/sleep infinity\n" },
            ],
        };
        const config = loadConfig(raw, "dev");
        plan = planCluster(config);
        clusterName = config.name;
        run = await runProgram({ stack: "dev", config: raw });
    });

    const wireOf = (type: string): WireRegistration[] => run.wire.filter((w) => w.type === type);

    it("waits for etcd health over SSH on every member, with a bounded loop", () => {
        expect(wireOf("coreos-cluster:index:ClusterHealthGate")).to.have.length(1);
        const gate = one(run.resources.filter((r) => r.type === "command:remote:Command"));
        const script: string = gate.inputs.create;
        for (const url of plan.clientUrls) expect(script).to.contain(url);
        expect(script).to.contain("etcdctl").and.contain("endpoint health");
        expect(script).to.match(/while \[ "\$i" -le \d+ \]/);
        expect(gate.inputs.connection).to.include({ host: tunnel.host, port: tunnel.port, user: tunnel.username });
        // The dial rides out a booting member for clusterWaitSeconds (default 600), not pulumi-command's ~16 s.
        expect(gate.inputs.connection).to.include({ dialErrorLimit: dialErrorLimit(600), perDialTimeout: PER_DIAL_TIMEOUT_S });
        expect(dialErrorLimit(600)).to.be.greaterThan(10);
        const wire = one(wireOf("command:remote:Command"));
        expect(wire.object.connection, "connection sent").to.not.equal(undefined);
        expect(plaintextPaths(wire.object, privateKey)).to.deep.equal([]);
        expect(sentAnywhere(wire.object, privateKey), "the key is sent, as a secret").to.equal(true);
    });

    it("registers the config's services as one set after the cluster, connecting to the planned client URLs", () => {
        const registration = one(run.options.filter((o) => o.name === `${clusterName}-services`));
        const cluster = one(run.options.filter((o) => o.type === "coreos-cluster:index:GcpCluster")).resource;
        expect(registration.dependsOn).to.include(cluster);
        const inputs = one(run.resources.filter((r) => r.name === registration.name)).inputs;
        expect(inputs.services.map((s: { service: string }) => s.service).sort()).to.deep.equal(["redis", "web"]);
        expect(inputs.connection.endpoints).to.deep.equal(plan.clientUrls);
        expect(inputs.connection.username).to.equal("root");
        expect(inputs.connection.password).to.equal(password);
        expect(inputs.prefix).to.equal("/services");
        expect(inputs.takeOverFrom, "hands over the per-service resources of earlier versions of this stack").to.have.length(2);
    });

    it("makes the engine wait for the health gate and every member before any provider runs", async () => {
        const gateUrn = await urnOf(one(run.options.filter((o) => o.type === "command:remote:Command")).resource);
        const memberUrns = await Promise.all(run.options.filter((o) => o.type === GCE.instance).map((o) => urnOf(o.resource)));
        expect(memberUrns).to.have.length(plan.members.length);
        const providers = run.wire.filter((w) => w.name === `${clusterName}-services` || w.name.startsWith(`${clusterName}-unit-`));
        expect(providers).to.have.length(3);
        for (const provider of providers) {
            expect(provider.dependencies, provider.name).to.include(gateUrn);
            expect(provider.dependencies, provider.name).to.include.members(memberUrns);
        }
        const gate = one(run.wire.filter((w) => w.type === "command:remote:Command"));
        expect(gate.dependencies).to.include.members(memberUrns);
    });

    it("pushes each fleet unit after the cluster, through the tunnel", () => {
        const units = run.options.filter((o) => o.name.startsWith(`${clusterName}-unit-`));
        expect(units.map((o) => o.name).sort()).to.deep.equal([`${clusterName}-unit-sidekick.service`, `${clusterName}-unit-web@.service`]);
        const cluster = one(run.options.filter((o) => o.type === "coreos-cluster:index:GcpCluster")).resource;
        for (const unit of units) {
            expect(unit.dependsOn).to.include(cluster);
            const inputs = one(run.resources.filter((r) => r.name === unit.name)).inputs;
            expect(inputs.endpoint).to.equal(fleetEndpoint);
            expect(inputs.sshTunnel.host).to.equal(tunnel.host);
        }
    });

    it("gives the providers the stack's bounded wait for a booting cluster (clusterWaitSeconds, default 600)", () => {
        const set = one(run.resources.filter((r) => r.name === `${clusterName}-services`)).inputs;
        expect(set.clusterWaitSeconds).to.equal(600);
        const units = run.resources.filter((r) => r.name.startsWith(`${clusterName}-unit-`));
        expect(units).to.have.length(2);
        for (const unit of units) expect(unit.inputs.clusterWaitSeconds, unit.name).to.equal(600);
    });

    it("never sends the SSH key, the etcd password or the tunnelled fleet endpoint in plaintext", () => {
        for (const secret of [privateKey, password, fleetEndpoint]) {
            const leaks = run.wire.flatMap((w) => plaintextPaths(w.object, secret).map((p) => `${w.type} ${w.name}${p}`));
            expect(leaks, `plaintext ${secret === privateKey ? "private key" : secret}`).to.deep.equal([]);
            expect(run.wire.some((w) => sentAnywhere(w.object, secret)), "control: it is sent, wrapped").to.equal(true);
        }
        const outputs = JSON.stringify(run.outputs);
        expect(outputs).to.not.contain(password);
        expect(outputs).to.not.contain(privateKey.split("\n")[1]);
    });
});

describe("program on GCE under mocks: the shipped dev stack reaches its members through the IAP tunnel's local end", function () {
    let run: ProgramRun;
    const key = newOpenSshPrivateKey();
    let saved: string | undefined;

    before(async function () {
        this.timeout(300_000);
        saved = process.env.COREOS_CLUSTER_SSH_KEY;
        process.env.COREOS_CLUSTER_SSH_KEY = key;
        run = await runProgram({ stack: "dev", config: readStackFile("dev", REPO_ROOT) });
    });
    after(() => {
        if (saved === undefined) delete process.env.COREOS_CLUSTER_SSH_KEY;
        else process.env.COREOS_CLUSTER_SSH_KEY = saved;
    });

    it("gates on etcd health over localhost:2222 through the deploy job's ssh-agent: the key from COREOS_CLUSTER_SSH_KEY is sent nowhere", () => {
        const gate = one(run.resources.filter((r) => r.type === "command:remote:Command"));
        expect(gate.inputs.connection).to.include({ host: "localhost", port: 2222, user: "core" });
        expect(gate.inputs.connection).to.not.have.property("privateKey");
        // Not in any input, secret or not: a preview that decrypts state finds no key (issue 22).
        for (const w of run.wire) expect(sentAnywhere(w.object, key), `${w.type} ${w.name}`).to.equal(false);
    });

    it("registers the services through the same tunnel, naming the variable the providers read the key from", () => {
        const set = one(run.resources.filter((r) => r.name === "coreos-dev-services")).inputs;
        expect(set.connection.sshTunnel).to.deep.equal({ host: "localhost", port: 2222, username: "core", privateKeyEnv: "COREOS_CLUSTER_SSH_KEY" });
    });
});
