// Issue 22 item 5, the program side: CI's pull-request previews and drift checks hold no SSH key
// (test/workflows/least-privilege.test.ts), so the program must preview a GCE stack whose tunnel key
// comes from an environment variable without that variable, with the key unknown to the preview and
// no stand-in reaching a resource, while `pulumi up` still refuses a missing key.
import { expect } from "chai";
import * as path from "path";
import { readStackFile } from "../../model/stack-config";
import { loadConfig, validateConfig } from "../../model/validate";
import { previewKeyEnvironment, withUnknownTunnelKey } from "../../model/preview-key";
import { ConfigValidationError } from "../../model/types";
import * as pulumi from "@pulumi/pulumi";
import { ProgramRun, REPO_ROOT, TUNNEL_KEY_ENV, runFailingProgram, runProgram, urnOf } from "../support/mocks";
import { Json, excludeGlobs, loadWorkflows } from "./workflow-policy";

const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** The wire form of a secret: `{ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270", value }`. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const WITHOUT_KEY = path.join(__dirname, "fixtures", "program-without-tunnel-key.ts");

describe("model/preview-key: a preview needs no SSH key", () => {
    const raw = readStackFile("prod", REPO_ROOT);
    const variable = (raw.sshTunnel as Record<string, string>).privateKeyEnv;

    it("stands in a throwaway key only in a preview of a GCE stack whose key variable is unset", () => {
        const preview = previewKeyEnvironment(raw, {}, true);
        expect(preview.standIn?.variable).to.equal(variable);
        expect(preview.env[variable]).to.equal(preview.standIn!.key).and.match(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
        // Validation passes with it, and the program swaps it for the unknown value it is given.
        const config = loadConfig(raw, "prod", { env: preview.env });
        const unknown = { unknown: true };
        const swapped = withUnknownTunnelKey(config, preview.standIn!, unknown);
        expect(swapped.access.sshTunnel!.privateKey).to.equal(unknown);
        expect(swapped.access.sshTunnel).to.include({ host: "localhost", port: 2222, username: "core" });
        expect(JSON.stringify(swapped)).to.not.contain(preview.standIn!.key.split("\n")[1]);
    });

    it("leaves the environment alone otherwise (control: an update, a key present, the local platform)", () => {
        // An update: nothing stands in, and validation still refuses the missing key.
        expect(previewKeyEnvironment(raw, {}, false).standIn).to.equal(undefined);
        expect(() => loadConfig(raw, "prod", { env: previewKeyEnvironment(raw, {}, false).env })).to.throw(ConfigValidationError, /is not set/);
        // A preview whose job holds the key previews with it (an exact diff).
        const held = { [variable]: previewKeyEnvironment(raw, {}, true).standIn!.key };
        expect(previewKeyEnvironment(raw, held, true)).to.deep.equal({ env: held });
        expect(previewKeyEnvironment(raw, { [variable]: "  " }, true).standIn, "a blank variable is no key").to.not.equal(undefined);
        // The local stack's key is always made on the machine that runs it.
        const local = readStackFile("local", REPO_ROOT);
        expect(previewKeyEnvironment(local, {}, true).standIn).to.equal(undefined);
        // A stack without a tunnel, or with its key in the (encrypted) stack config, is not touched.
        expect(previewKeyEnvironment({ ...raw, sshTunnel: {} }, {}, true).standIn).to.equal(undefined);
        expect(previewKeyEnvironment({ ...raw, sshTunnel: { host: "localhost", username: "core", privateKey: { secure: "v1:abc" } } }, {}, true).standIn).to.equal(undefined);
    });

    it("refuses to swap a key that is not the stand-in", () => {
        const preview = previewKeyEnvironment(raw, {}, true);
        const other = previewKeyEnvironment(raw, {}, true).standIn!.key;
        const config = validateConfig(raw, "prod", { env: { [variable]: other } }).config!;
        expect(() => withUnknownTunnelKey(config, preview.standIn!, {})).to.throw(/does not carry the stand-in/);
    });
});

describe("program under mocks: previewing the shipped prod stack without the SSH key", function () {
    let run: ProgramRun;
    let saved: string | undefined;

    before(async function () {
        this.timeout(300_000);
        saved = process.env[TUNNEL_KEY_ENV];
        run = await runProgram({ stack: "prod", config: readStackFile("prod", REPO_ROOT), preview: true, programPath: WITHOUT_KEY });
    });
    after(() => {
        if (saved === undefined) delete process.env[TUNNEL_KEY_ENV];
        else process.env[TUNNEL_KEY_ENV] = saved;
    });

    it("registers the whole stack; the tunnelled resources carry the variable's name, never a key", () => {
        expect(process.env[TUNNEL_KEY_ENV], "the wrapper ran the program without the variable").to.equal(undefined);
        const gate = run.wire.find((w) => w.type === "command:remote:Command");
        expect(gate, "the etcd health gate is still there").to.not.equal(undefined);
        // The gate authenticates through the deploy job's ssh-agent: its connection holds no key at all.
        // @pulumi/command sends its connection as a secret: the value inside the secret's wrapper.
        const sent = gate!.object.connection as Record<string, unknown>;
        const connection = (SECRET_SIG in sent ? sent.value : sent) as Record<string, unknown>;
        expect(connection).to.include({ host: "localhost", port: 2222, user: "core" });
        expect(connection).to.not.have.property("privateKey");
        const services = run.wire.find((w) => w.name === "coreos-prod-services");
        expect(services, "the service keys are still previewed").to.not.equal(undefined);
        expect(JSON.stringify(services!.object)).to.contain(`"privateKeyEnv":"${TUNNEL_KEY_ENV}"`);
        // The loopback end says what it is and how to open it (issue 23 item 8), never with a key.
        const { iap, ...where } = run.outputs.sshTunnel as { iap: Record<string, unknown> };
        expect(where).to.deep.equal({ host: "localhost", port: 2222, username: "core" });
        expect(iap).to.deep.include({ instance: "coreos-prod-etcd-0", remotePort: 22, requiredRole: "roles/iap.tunnelResourceAccessor" });
        expect(JSON.stringify(iap)).to.not.match(/PRIVATE KEY|privateKey/);
        // No key (and no stand-in) was sent anywhere, nor anything unknown for it: a preview shows no change of connection.
        // (The cluster PKI's keys under the mocks are PEM-shaped stand-ins, test/components/gcp/fixtures/fake-pki.ts: not the tunnel's.)
        const wire = JSON.stringify(run.wire).replace(/-----BEGIN PRIVATE KEY-----\\nfake-private-key-of [a-z0-9.-]+\\n-----END PRIVATE KEY-----/g, "");
        expect(wire).to.not.match(/PRIVATE KEY/);
        // (The providers' own code, in __provider, names the sentinel: only the inputs are judged.)
        const inputs = run.wire.map((w) => ({ ...(w.object as Record<string, unknown>), __provider: undefined }));
        expect(JSON.stringify(inputs)).to.not.contain(UNKNOWN_SENTINEL);
    });

    it("is what the drift check leaves out: exactly the resources that dial through the tunnel", async () => {
        // drift.yml runs without the key: what can only be read through the tunnel cannot be compared there.
        const drift = loadWorkflows(path.join(REPO_ROOT, ".github", "workflows"))["drift.yml"].doc.jobs.drift;
        const step = (drift.steps as Json[]).find((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command)!;
        const globs = excludeGlobs(step.with.exclude);
        const custom = run.options.filter((o) => o.resource instanceof pulumi.CustomResource);
        const urns = await Promise.all(custom.map((o) => urnOf(o.resource)));
        const excluded = custom.filter((_, i) => globs.some((g) => g.test(urns[i]))).map((o) => o.name).sort();
        const tunnelled = run.wire
            .filter((w) => JSON.stringify(w.object).includes(`"privateKeyEnv":"${TUNNEL_KEY_ENV}"`) || w.type === "command:remote:Command")
            .map((w) => w.name)
            .sort();
        expect(tunnelled).to.deep.equal(["coreos-prod-etcd-access", "coreos-prod-etcd-health", "coreos-prod-services", "coreos-prod-tls-rollout-phase-1", "coreos-prod-tls-rollout-phase-2", "coreos-prod-tls-rollout-phase-3"]);
        expect(excluded).to.deep.equal(tunnelled);
    });

    it("control: an update without the key is still refused before any resource exists", async function () {
        this.timeout(300_000);
        const failed = await runFailingProgram({ stack: "prod", config: readStackFile("prod", REPO_ROOT), preview: false, programPath: WITHOUT_KEY });
        expect(String(failed.error)).to.match(new RegExp(`${TUNNEL_KEY_ENV} is not set`));
        expect(failed.registered.filter((r) => r.type !== "pulumi:pulumi:Stack")).to.deep.equal([]);
    });
});
