// Rotation in place on GCE (issue 21, item 5), under the SDK's mocks: each secret gets one version
// per rollout slot, chained through the phase waits (a slot's versions exist only after the wait
// before them), the waits read as the deployer through the stack's tunnel with that slot's
// certificate (a secret on the wire), the deployer's own bundle never becomes a secret version, and
// the health gate (and so every provider after it) waits for the last phase.
import { expect } from "chai";
import * as crypto from "crypto";
import * as path from "path";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { decodeBundle, SecretBundle } from "../../../model/pki-delivery";
import { ROLLOUT_SLOTS } from "../../../model/tls-rollout";
import { planBundles } from "../../../cloud-config/tls-fetch";
import { ProgramRun, REPO_ROOT, SECRET_SIG, SECRET_SIG_KEY, byType, runProgram, urnOf } from "../../support/mocks";

const VERSION = "gcp:secretmanager/secretVersion:SecretVersion";
const WAIT = "pulumi-nodejs:dynamic/coreos-cluster:TlsPhaseWait";
const PLAN = "pulumi-nodejs:dynamic/coreos-cluster:TlsRolloutPlan";
const FIXTURE = path.join(__dirname, "fixtures", "gcp-cluster-with-pki.ts");
const sha = (text: string) => crypto.createHash("sha256").update(text).digest("hex");

describe("TLS rollout on GCE under mocks (prod stack)", function () {
    this.timeout(300_000);
    let run: ProgramRun;
    let bundles: SecretBundle[];

    before(async () => {
        const raw = readStackFile("prod", REPO_ROOT);
        const config = loadConfig(raw, "prod");
        bundles = planBundles(config.name, planCluster(config).members);
        run = await runProgram({ stack: "prod", config: raw, fresh: "program", programPath: FIXTURE });
    });

    const urnsOf = (type: string, names: string[]) => Promise.all(run.options.filter((o) => o.type === type && names.includes(o.name)).map((o) => urnOf(o.resource)));

    it("gives each secret one version per slot, the last named as the secret; a slot's versions wait for the phase before", async () => {
        const waits = run.wire.filter((w) => w.type === WAIT).sort((a, b) => a.name.localeCompare(b.name));
        expect(waits.map((w) => w.name.replace(/.*-phase-/, "phase-"))).to.deep.equal(Array.from({ length: ROLLOUT_SLOTS }, (_, k) => `phase-${k + 1}`));
        const waitUrns = await urnsOf(WAIT, waits.map((w) => w.name));
        for (const bundle of bundles) {
            const names = [`${bundle.secretId}-phase-1`, `${bundle.secretId}-phase-2`, bundle.secretId];
            const versions = names.map((n) => run.wire.find((w) => w.type === VERSION && w.name === n)!);
            versions.forEach((v, k) => expect(v, `${names[k]}`).to.not.equal(undefined));
            expect(versions[0].dependencies.filter((d) => d.includes("TlsPhaseWait"))).to.deep.equal([]);
            expect(versions[1].dependencies).to.include(waitUrns.find((u) => u.endsWith("-phase-1"))!);
            expect(versions[2].dependencies).to.include(waitUrns.find((u) => u.endsWith("-phase-2"))!);
            const versionUrns = await urnsOf(VERSION, names);
            for (let k = 0; k < ROLLOUT_SLOTS; k++) expect(waits[k].dependencies, `phase ${k + 1} waits for its versions`).to.include(versionUrns.find((u) => u.endsWith(`::${names[k]}`))!);
        }
    });

    it("waits as the deployer through the tunnel, its connection a secret; expects each machine's payload digest; rolls nothing on create", () => {
        const waits = run.resources.filter((r) => r.type === WAIT);
        for (const w of run.wire.filter((x) => x.type === WAIT)) {
            const conn = w.object.connection as Record<string, unknown>;
            expect(conn[SECRET_SIG_KEY], `${w.name} connection`).to.equal(SECRET_SIG);
        }
        const versions = byType(run.resources, VERSION);
        for (const w of waits) {
            expect(w.inputs.roll, "a new plan rolls nothing").to.equal(false);
            expect(w.inputs.connection.sshTunnel, "through the stack's tunnel").to.be.an("object");
            expect(w.inputs.connection.tls.cert).to.include("certificate of deployer");
            const final = (id: string) => versions.find((v) => v.name === id)!.inputs.secretData as string;
            for (const b of bundles.filter((x) => x.holder !== "worker")) expect(w.inputs.expected.members[b.holder].payload).to.equal(sha(final(b.secretId)));
            expect(w.inputs.expected.workers.payload).to.equal(sha(final(bundles.find((b) => b.holder === "worker")!.secretId)));
        }
    });

    it("plans from a secret set of bundles that includes the deployer's, which never becomes a secret version", () => {
        const plan = run.wire.find((w) => w.type === PLAN)!;
        expect((plan.object.bundles as Record<string, unknown>)[SECRET_SIG_KEY]).to.equal(SECRET_SIG);
        const inputs = byType(run.resources, PLAN)[0].inputs;
        expect(Object.keys(inputs.bundles)).to.include("deployer");
        for (const v of byType(run.resources, VERSION)) expect(Object.keys(decodeBundle(v.inputs.secretData)), v.name).to.not.include("deployer-key.pem");
    });

    it("the health gate (and every provider after it) waits for the last phase", async () => {
        const gate = run.wire.find((w) => w.type === "command:remote:Command")!;
        expect(gate, "prod has a tunnel and a gate").to.not.equal(undefined);
        const waitUrns = await urnsOf(WAIT, run.wire.filter((w) => w.type === WAIT).map((w) => w.name));
        expect(gate.dependencies).to.include.members(waitUrns);
    });
});
