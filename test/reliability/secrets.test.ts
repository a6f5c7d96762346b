// Secrets (issues 7 and 21): a real `pulumi up` of cases/seed-program registering services in an etcd
// secured as in production (127.0.13.60; test/support/secure-etcd.ts: mutual TLS on both ports, v3
// auth on), as the `deployer` identity, reached through a real OpenSSH daemon (127.0.13.61) with a
// private key; the deployer's TLS key and the SSH key are set with `pulumi config set --secret`.
// Afterwards no line of any private key (the SSH keys, and every key of the cluster's PKI: members,
// client identities, the CA) nor any password appears in `pulumi stack export`, in any file under
// the backend folder (state, history, backups, PULUMI_HOME) or in the engine's output; a control
// export with --show-secrets proves the keys did flow through the state. Then forced failures
// (wrong password, unreachable tunnel host, a key the daemon refuses, a client certificate of a CA
// etcd does not trust) must not print them either.
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { startSecureEtcdCluster, SecureEtcdTestCluster, strangerIdentity, TlsIdentity } from "../support/secure-etcd";
import { startSshd, TestSshd } from "../support/sshd";
import { engineTestsDisabled, findEngine, PulumiStack, REPO_ROOT, RunResult } from "../support/engine";
import { serviceRegistrationProvider as provider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../components/services/service-registration";
import { withUnpackedBundles } from "../../components/services/bundled-provider";

const PROGRAM = path.join(__dirname, "cases", "seed-program");

/** Every file below `dir` (symlinks not followed). */
function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        return e.isDirectory() ? filesUnder(full) : e.isFile() ? [full] : [];
    });
}

/** The fragments a leak would show: the whole value, and every long line of a multi-line secret. */
function fragments(secret: string): string[] {
    const lines = secret.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length >= 16 && !l.startsWith("-----"));
    return [secret, ...lines];
}

/** Bundled providers' code is packed in state (components/services/bundled-provider.ts): scanned unpacked too. */
function leaksIn(text: string, secrets: string[]): string[] {
    const scanned = withUnpackedBundles(text);
    return secrets.flatMap(fragments).filter((f) => scanned.includes(f));
}

describe("reliability: secrets never appear in plaintext in state, files, output or errors (127.0.13.60-62) @engine", function () {
    this.timeout(15 * 60 * 1000);
    const wrongPassword = `Wrong-${crypto.randomBytes(12).toString("hex")}`;
    let cluster: SecureEtcdTestCluster;
    let deployer: TlsIdentity;
    let stranger: TlsIdentity;
    let sshd: TestSshd;
    let scratch: string;
    let stack: PulumiStack;
    const outputs: RunResult[] = [];

    // The router's password is derived from its key (model/etcd-auth.ts): a secret of the cluster too.
    const secrets = () => [wrongPassword, cluster.routerPassword, sshd.privateKey, sshd.unauthorizedPrivateKey, ...cluster.privateKeys(), stranger.key];

    async function configure(extra: Record<string, unknown>): Promise<void> {
        for (const [key, value] of Object.entries(extra)) {
            const r = await stack.run(["config", "set", "--stack", "seed", "--path", key, String(value), "--non-interactive"]);
            outputs.push(r);
        }
    }
    async function setSecret(key: string, value: string): Promise<void> {
        // "--" ends the flags: a PEM key starts with dashes.
        outputs.push(await stack.run(["config", "set", "--stack", "seed", "--secret", "--path", "--non-interactive", "--", key, value]));
    }

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        findEngine();
        cluster = await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.13.60" });
        deployer = cluster.identity("deployer");
        stranger = strangerIdentity();
        sshd = await startSshd({ host: "127.0.13.61" });

        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-secrets-"));
        const dir = path.join(scratch, "project");
        fs.mkdirSync(dir);
        fs.copyFileSync(path.join(PROGRAM, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.symlinkSync(path.join(PROGRAM, "index.ts"), path.join(dir, "index.ts"));
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
        const plain = {
            "reliability-seed:count": 3,
            "reliability-seed:prefix": "/services/secret",
            "reliability-seed:endpoints": cluster.endpoints,
            "reliability-seed:timeoutMs": 3000,
            "reliability-seed:retries": 0,
            "reliability-seed:sshTunnel": { host: sshd.host, port: sshd.port, username: sshd.username },
            // The certificates are public; the key is set with --secret below.
            "reliability-seed:etcdTls": { ca: deployer.ca, cert: deployer.cert },
        };
        fs.writeFileSync(path.join(dir, "Pulumi.seed.yaml"), YAML.stringify({ config: plain }));
        stack = new PulumiStack({ engine: findEngine(), backendDir: path.join(scratch, "backend"), projectDir: dir, stack: "seed", transpileOnly: true });
        await stack.ensure();
        await setSecret("etcdTls.key", deployer.key);
        await setSecret("sshTunnel.privateKey", sshd.privateKey);
    });

    after(async function () {
        if (stack) await stack.destroy([], { allowFailure: true }).catch(() => undefined);
        await sshd?.stop();
        await cluster?.stop();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("the stack file holds the TLS and SSH keys encrypted only", () => {
        const text = fs.readFileSync(path.join(stack.projectDir, "Pulumi.seed.yaml"), "utf8");
        expect(text).to.contain("secure:");
        expect(leaksIn(text, secrets())).to.deep.equal([]);
    });

    it("after pulumi up through the tunnel with mutual TLS and etcd auth: no secret in the export, the backend files or the engine's output", async () => {
        const up = await stack.up();
        outputs.push(up);
        expect(await cluster.client("root").getAll().prefix("/services/secret/").keys()).to.have.length(7); // svc-0 and svc-2 http (2 keys), svc-1 tcp (3)

        const exported = await stack.run(["stack", "export", "--stack", "seed", "--non-interactive"]);
        expect(leaksIn(exported.stdout, secrets()), "pulumi stack export").to.deep.equal([]);
        // Control: the values are in the state, encrypted; decrypted on request they are there.
        const shown = await stack.run(["stack", "export", "--stack", "seed", "--show-secrets", "--non-interactive"]);
        expect(shown.stdout).to.contain(fragments(deployer.key)[1]);
        expect(shown.stdout).to.contain(fragments(sshd.privateKey)[1]);
        expect(JSON.parse(exported.stdout).deployment.resources.length).to.be.greaterThan(3);

        const backendFiles = filesUnder(path.join(scratch, "backend"));
        expect(backendFiles.some((f) => /\.pulumi\/stacks\/.*seed\.json$/.test(f)), backendFiles.join("\n")).to.equal(true);
        for (const file of backendFiles) {
            expect(leaksIn(fs.readFileSync(file, "latin1"), secrets()), file).to.deep.equal([]);
        }
        for (const r of outputs) expect(leaksIn(r.stdout + r.stderr, secrets()), `pulumi ${r.args.join(" ")}`).to.deep.equal([]);
    });

    it("forced failures (wrong password, unreachable tunnel host) print no secret, and the state still holds none", async () => {
        // The deployer authenticates by its certificate; the plan's one user with a password is the
        // router (the JSON gateway ignores certificate names), so a wrong password is a wrong one of its.
        await configure({ etcdUsername: "router", hostsVariant: 1 });
        await setSecret("etcdPassword", wrongPassword);
        const rejected = await stack.up([], { allowFailure: true });
        outputs.push(rejected);
        expect(rejected.code, rejected.stdout.slice(-2000)).to.not.equal(0);
        expect(rejected.stdout + rejected.stderr).to.match(/rejected the credentials of user "router"/);
        expect(leaksIn(rejected.stdout + rejected.stderr, secrets()), "output of the wrong-password run").to.deep.equal([]);

        for (const key of ["etcdPassword", "etcdUsername"]) outputs.push(await stack.run(["config", "rm", "--stack", "seed", "--non-interactive", key]));
        await configure({ "sshTunnel.host": "127.0.13.62" });
        const unreachable = await stack.up([], { allowFailure: true });
        outputs.push(unreachable);
        expect(unreachable.code, unreachable.stdout.slice(-2000)).to.not.equal(0);
        expect(unreachable.stdout + unreachable.stderr).to.match(/SSH tunnel|no endpoint is reachable/);
        expect(leaksIn(unreachable.stdout + unreachable.stderr, secrets()), "output of the unreachable-tunnel run").to.deep.equal([]);

        for (const file of filesUnder(path.join(scratch, "backend"))) {
            expect(leaksIn(fs.readFileSync(file, "latin1"), secrets()), file).to.deep.equal([]);
        }
        await configure({ "sshTunnel.host": sshd.host });
    });

    it("provider errors with a refused key, a wrong password or an untrusted client certificate carry no key material and no password", async () => {
        const base = { resourceName: "leak-check", service: "leak", scheme: "http", hosts: ["10.0.0.1:80"], prefix: "/services/secret2", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION };
        const tunnel = { host: sshd.host, port: sshd.port, username: sshd.username };
        const good = { endpoints: cluster.endpoints, tls: deployer, timeoutMs: 3000, retries: 0 };
        const attempts = [
            { ...good, sshTunnel: { ...tunnel, privateKey: sshd.unauthorizedPrivateKey } },
            { ...good, username: "router", password: wrongPassword, sshTunnel: { ...tunnel, privateKey: sshd.privateKey } },
            { ...good, sshTunnel: { ...tunnel, privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-but-secret-text-0123456789\n-----END OPENSSH PRIVATE KEY-----" } },
            // etcd refuses the handshake: the error path holds a TLS private key the cluster does not know.
            { ...good, tls: { ca: deployer.ca, cert: stranger.cert, key: stranger.key }, sshTunnel: { ...tunnel, privateKey: sshd.privateKey } },
        ];
        for (const connection of attempts) {
            const checked = await provider.check!({}, { ...base, connection });
            let err: Error | undefined;
            await provider.create(checked.inputs).catch((e) => (err = e));
            expect(err, JSON.stringify(connection.sshTunnel.host)).to.be.instanceOf(Error);
            expect(err!.message).to.contain('ServiceRegistration "leak-check"');
            expect(leaksIn(err!.message + (err!.stack ?? ""), [...secrets(), connection.sshTunnel.privateKey]), err!.message).to.deep.equal([]);
        }
    });
});
