// Certificates on GCE (issue 21), under the SDK's mocks: the stack's GcpCluster given a cluster PKI
// (fixtures/gcp-cluster-with-pki.ts) stores one Secret Manager secret per member and one for the
// workers, each readable by exactly its holder's service account, the keys only ever as secrets; no
// instance's or template's metadata holds a key; the firewall is the matrix, unchanged.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { firewallMatrix } from "../../../model/firewall";
import { decodeBundle, OFF_MACHINE_IDENTITIES, SecretBundle } from "../../../model/pki-delivery";
import { ClusterConfig, ClusterPlan } from "../../../model/types";
import { renderMachines } from "../../../cloud-config";
import { planBundles, tlsFetchPartsFor } from "../../../cloud-config/tls-fetch";
import { bundlePayload, SECRET_ACCESSOR_ROLE, SECRET_PAYLOAD_LIMIT_BYTES, TlsSecrets, tlsSecretsArgsProblem } from "../../../components/gcp/tls-secrets";
import { VM_ROLES } from "../../../components/gcp/labels";
import { GCE, GceMocks, ProgramRun, REPO_ROOT, SECRET_SIG, SECRET_SIG_KEY, byType, one, runProgram, urnOf } from "../../support/mocks";
import { planCertificates } from "../../../model/pki-plan";
import { ROLLOUT_SLOTS } from "../../../model/tls-rollout";
import { FAKE_KEY_MARK, fakeKeyPem, keyNeedles } from "./fixtures/fake-pki";
import { withUnpackedBundles } from "../../../components/services/bundled-provider";

const SM = {
    secret: "gcp:secretmanager/secret:Secret",
    version: "gcp:secretmanager/secretVersion:SecretVersion",
    binding: "gcp:secretmanager/secretIamBinding:SecretIamBinding",
    member: "gcp:secretmanager/secretIamMember:SecretIamMember",
} as const;

const FIXTURE = path.join(__dirname, "fixtures", "gcp-cluster-with-pki.ts");
const KEY_TEXT = /-----BEGIN|PRIVATE KEY/;

/** Serialized values with every secret wrapper dropped: what the engine would see in plain text. */
function plain(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plain);
    if (value !== null && typeof value === "object") {
        if ((value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG) return "[secret]";
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
}

for (const stack of ["dev", "prod"]) {
    describe(`TLS secrets on GCE under mocks: ${stack} stack`, function () {
        let run: ProgramRun;
        let config: ClusterConfig;
        let plan: ClusterPlan;
        let bundles: SecretBundle[];
        const of = (type: string) => byType(run.resources, type);

        before(async function () {
            this.timeout(300_000);
            const raw = readStackFile(stack, REPO_ROOT);
            config = loadConfig(raw, stack);
            plan = planCluster(config);
            bundles = planBundles(config.name, plan.members);
            run = await runProgram({ stack, config: raw, fresh: stack === "dev" ? "all" : "program", programPath: FIXTURE });
        });

        const accountOf = (holder: string): string =>
            holder === "worker"
                ? one(of(GCE.template)).inputs.serviceAccount.email
                : one(of(GCE.instance).filter((i) => i.inputs.name === holder)).inputs.serviceAccount.email;

        it("creates one secret per member and one for the workers, named as each machine's fetch unit names it", () => {
            const secrets = of(SM.secret);
            expect(secrets.map((s) => s.inputs.secretId).sort()).to.deep.equal(
                [...plan.members.map((m) => `${config.name}-tls-${m.name}`), `${config.name}-tls-worker`].sort(),
            );
            expect(secrets.map((s) => s.inputs.secretId).sort()).to.deep.equal(bundles.map((b) => tlsFetchPartsFor(b, config.gcp.project).unit.content!.match(/TLS_SECRET_ID=([^"]+)"/)![1]).sort());
            for (const s of secrets) {
                expect(s.inputs.project).to.equal(config.gcp.project);
                expect(s.inputs.replication).to.deep.equal({ auto: {} });
                const role = s.inputs.secretId.endsWith("-tls-worker") ? "worker" : "etcd";
                expect(s.inputs.labels).to.deep.equal({ cluster: config.name, environment: config.environment, role });
            }
            expect(run.outputs.secretIds).to.deep.equal(Object.fromEntries(bundles.map((b) => [b.holder, b.secretId])));
            expect(one(of("coreos-cluster:index:TlsSecrets")).name).to.equal(`${config.name}-tls`);
        });

        it("grants each secret to exactly its holder's service account: each member its own, the worker bundle the workers' account", () => {
            const secrets = of(SM.secret);
            const bindings = of(SM.binding);
            expect(of(SM.member), "no additive grants beside the authoritative bindings").to.deep.equal([]);
            expect(bindings).to.have.length(secrets.length);
            for (const bundle of bundles) {
                const binding = one(bindings.filter((b) => b.inputs.secretId === bundle.secretId));
                expect(binding.inputs.role).to.equal(SECRET_ACCESSOR_ROLE);
                expect(binding.inputs.project).to.equal(config.gcp.project);
                expect(binding.inputs.members).to.deep.equal([`serviceAccount:${accountOf(bundle.holder)}`]);
            }
            // Every member's account differs from every other's and from the workers'.
            const readers = bundles.map((b) => accountOf(b.holder));
            expect(new Set(readers).size).to.equal(bundles.length);
            // Nothing project-wide: the project grants stay the log and metric writers.
            for (const grant of of(GCE.iamMember)) expect(VM_ROLES, grant.name).to.include(grant.inputs.role);
            expect(run.resources.filter((r) => /secretmanager/.test(r.type) && /iam/i.test(r.type) && r.type !== SM.binding)).to.deep.equal([]);
        });

        it("holds in each secret exactly its holder's bundle: a member's own keys, the workers' identities, never the deployer's or consumers'", () => {
            const versions = of(SM.version);
            // One version per rollout slot (components/gcp/tls-rollout.ts); the last keeps the secret id as its name.
            expect(versions).to.have.length(bundles.length * ROLLOUT_SLOTS);
            for (const bundle of bundles) {
                const secret = one(of(SM.secret).filter((s) => s.inputs.secretId === bundle.secretId));
                const version = one(versions.filter((v) => v.name === bundle.secretId));
                expect(version.inputs.secret, "the version of its own secret").to.include(`/${secret.name}`);
                const files = decodeBundle(version.inputs.secretData);
                expect(Object.keys(files).sort()).to.deep.equal(["ca.pem", ...bundle.certificateIds.flatMap((id) => [`${id}.pem`, `${id}-key.pem`])].sort());
                for (const id of bundle.certificateIds) expect(files[`${id}-key.pem`]).to.include("PRIVATE KEY");
                for (const other of plan.members.filter((m) => m.name !== bundle.holder)) {
                    expect(Object.keys(files).some((f) => f.startsWith(`${other.name}-`)), `${bundle.holder} holds ${other.name}'s files`).to.equal(false);
                }
                for (const id of OFF_MACHINE_IDENTITIES) expect(files, `${bundle.holder} holds ${id}`).to.not.have.property(`${id}-key.pem`);
            }
        });

        it("sends each secret version's data to the engine only as a secret, and no key in plain text anywhere", () => {
            const specs = planCertificates(plan.members.map((m) => ({ name: m.name, ip: m.privateIp })));
            const needles = keyNeedles(specs);
            const versions = run.wire.filter((w) => w.type === SM.version);
            expect(versions).to.have.length(bundles.length * ROLLOUT_SLOTS);
            for (const v of versions) {
                const data = v.object.secretData as Record<string, unknown>;
                expect(data[SECRET_SIG_KEY], `${v.name} secretData`).to.equal(SECRET_SIG);
                expect(Object.values(decodeBundle(String(data.value))).join("")).to.include(FAKE_KEY_MARK);
            }
            const leaks = run.wire.flatMap((w) => {
                // A dynamic provider's code (__provider) may name PEM markers in its parsers: only data is held to "no PEM at all".
                const { __provider: code, ...data } = w.object;
                const text = JSON.stringify(plain(data));
                const codeText = withUnpackedBundles(JSON.stringify(code ?? ""));
                return [...needles.filter((n) => text.includes(n) || codeText.includes(n)), ...(KEY_TEXT.test(text) ? ["PEM"] : [])].map((n) => `${w.type} ${w.name}: ${n.slice(0, 30)}`);
            });
            expect(leaks).to.deep.equal([]);
        });

        it("puts no private key or certificate in any instance's or template's metadata (user-data included), with the keys in the program", () => {
            const needles = keyNeedles(planCertificates(plan.members.map((m) => ({ name: m.name, ip: m.privateIp }))));
            const vms = [...of(GCE.instance), ...of(GCE.template)];
            expect(vms).to.have.length(config.etcd.count + 1);
            for (const vm of vms) {
                const text = JSON.stringify(vm.inputs.metadata ?? {});
                expect(text, vm.name).to.not.match(KEY_TEXT);
                for (const n of needles) expect(text.includes(n), `${vm.name} holds ${n.slice(0, 30)}`).to.equal(false);
            }
            // Control: the keys were there to leak (each member's secret version holds its server key).
            for (const m of plan.members) {
                const version = one(of(SM.version).filter((v) => v.name === `${config.name}-tls-${m.name}`));
                expect(decodeBundle(version.inputs.secretData)[`${m.name}-server-key.pem`]).to.equal(fakeKeyPem(`${m.name}-server`));
            }
        });

        it("keeps the user-data free of keys once it carries the fetch unit: only secret ids, project and file names", () => {
            const machines = renderMachines(config, plan);
            for (const bundle of bundles) {
                const parts = tlsFetchPartsFor(bundle, config.gcp.project);
                const userData = bundle.holder === "worker" ? one(machines.filter((m) => m.fileName === "worker.yaml")).userData : one(machines.filter((m) => m.name === bundle.holder)).userData;
                for (const text of [userData, parts.unit.content!, parts.script.content]) expect(text).to.not.match(KEY_TEXT);
            }
        });

        it("keeps the firewall exactly the matrix (Secret Manager is reached through egress and Private Google Access)", () => {
            const rules = of(GCE.firewall).map((r) => r.inputs);
            const matrix = firewallMatrix(config, plan);
            expect(rules.map((r) => r.name).sort()).to.deep.equal(matrix.map((m) => m.name).sort());
            for (const spec of matrix) {
                const rule = one(rules.filter((r) => r.name === spec.name));
                expect(rule.direction).to.equal("INGRESS");
                expect(rule.sourceRanges ?? []).to.deep.equal(spec.sourceRanges ?? []);
                expect(rule.sourceTags ?? []).to.deep.equal(spec.sourceTags ?? []);
                expect(rule.targetTags).to.deep.equal(spec.targetTags);
                expect(rule.allows).to.deep.equal(spec.allow.map((a) => ({ protocol: a.protocol, ports: a.ports })));
            }
            if (!config.gcp.existingNetwork) expect(one(of(GCE.subnetwork)).inputs.privateIpGoogleAccess).to.equal(true);
        });

        it("has the health gate wait for the secrets and their grants (members start etcd only with certificates)", async function () {
            const gate = run.wire.filter((w) => w.type === "command:remote:Command");
            if (gate.length === 0) this.skip(); // no sshTunnel, no gate
            const bindingUrns = await Promise.all(run.options.filter((o) => o.type === SM.binding).map((o) => urnOf(o.resource)));
            expect(bindingUrns).to.have.length(bundles.length);
            expect(one(gate).dependencies).to.include.members(bindingUrns);
        });
    });
}

describe("TlsSecrets: what it refuses", () => {
    const bundle: SecretBundle = { secretId: "demo-tls-demo-etcd-0", holder: "demo-etcd-0", certificateIds: ["demo-etcd-0-server", "fleet"] };

    it("builds a bundle's payload from the PKI's outputs, and refuses a certificate the PKI did not issue", () => {
        const issued = { "demo-etcd-0-server": { certPem: "C1" }, fleet: { certPem: "C2" } };
        const keys = { "demo-etcd-0-server": "K1", fleet: "K2" };
        expect(decodeBundle(bundlePayload(bundle, "CA", issued, keys))).to.deep.equal({
            "ca.pem": "CA",
            "demo-etcd-0-server.pem": "C1",
            "demo-etcd-0-server-key.pem": "K1",
            "fleet.pem": "C2",
            "fleet-key.pem": "K2",
        });
        expect(() => bundlePayload(bundle, "CA", { fleet: { certPem: "C2" } }, keys)).to.throw(/no certificate and key "demo-etcd-0-server"/);
        expect(() => bundlePayload(bundle, "CA", issued, { fleet: "K2" })).to.throw(/no certificate and key "demo-etcd-0-server"/);
        expect(() => bundlePayload(bundle, "CA", undefined as never, undefined as never)).to.throw(/no certificate and key/);
        const huge = { ...keys, fleet: "k".repeat(SECRET_PAYLOAD_LIMIT_BYTES) };
        expect(() => bundlePayload(bundle, "CA", issued, huge)).to.throw(/over Secret Manager's 65536-byte limit/);
    });

    it("refuses a member bundle without that member's service account, and two bundles for one holder, before registering anything", async () => {
        const mocks = new GceMocks();
        await pulumi.runtime.setMocks(mocks, "coreos-cluster", "dev", false);
        const config = { name: "demo", environment: "dev", gcp: { project: "demo-project" } } as ClusterConfig;
        expect(tlsSecretsArgsProblem({ bundles: [bundle], memberServiceAccounts: { "demo-etcd-0": "m@x" } })).to.equal(undefined);
        expect(() => new TlsSecrets("a", { config, bundles: [bundle], memberServiceAccounts: {}, workerServiceAccount: "w@x" })).to.throw(/no service account for member demo-etcd-0/);
        expect(() => new TlsSecrets("b", { config, bundles: [bundle, bundle], memberServiceAccounts: { "demo-etcd-0": "m@x" }, workerServiceAccount: "w@x" })).to.throw(/two bundles for demo-etcd-0/);
        for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(mocks.resources).to.deep.equal([]);
    });
});
