// Secrets (issue 7): a real `pulumi up` of cases/seed-program registering services in an etcd with
// auth enabled (127.0.13.60), reached through a real OpenSSH daemon (127.0.13.61) with a private
// key; the etcd password and the key are set with `pulumi config set --secret`. Afterwards neither
// the password nor any line of the private key appears in `pulumi stack export`, in any file under
// the backend folder (state, history, backups, PULUMI_HOME) or in the engine's output; a control
// export with --show-secrets proves the values did flow through the state. Then forced failures
// (wrong password, unreachable tunnel host, a key the daemon refuses) must not print them either.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { startEtcdCluster, EtcdTestCluster } from "../support/etcd-cluster";
import { startSshd, TestSshd } from "../support/sshd";
import { engineTestsDisabled, findEngine, PulumiStack, REPO_ROOT, RunResult } from "../support/engine";
import { serviceRegistrationProvider as provider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../components/services/service-registration";

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

function leaksIn(text: string, secrets: string[]): string[] {
    return secrets.flatMap(fragments).filter((f) => text.includes(f));
}

describe("reliability: secrets never appear in plaintext in state, files, output or errors (127.0.13.60-62) @engine", function () {
    this.timeout(15 * 60 * 1000);
    const password = `Pw-${crypto.randomBytes(12).toString("hex")}`;
    const wrongPassword = `Wrong-${crypto.randomBytes(12).toString("hex")}`;
    let cluster: EtcdTestCluster;
    let sshd: TestSshd;
    let scratch: string;
    let stack: PulumiStack;
    const outputs: RunResult[] = [];

    function etcdctl(...args: string[]): string {
        const r = spawnSync("etcdctl", [`--endpoints=${cluster.endpoints[0]}`, ...args], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
        if (r.status !== 0) throw new Error(`etcdctl ${args.join(" ")} failed: ${r.stderr}`);
        return r.stdout;
    }

    const secrets = () => [password, wrongPassword, sshd.privateKey, sshd.unauthorizedPrivateKey];

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
        cluster = await startEtcdCluster({ size: 1, firstAddress: "127.0.13.60" });
        etcdctl("user", "add", "root", `--new-user-password=${password}`);
        etcdctl("auth", "enable");
        sshd = await startSshd({ host: "127.0.13.61" });

        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-secrets-"));
        const dir = path.join(scratch, "project");
        fs.mkdirSync(dir);
        fs.copyFileSync(path.join(PROGRAM, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        fs.symlinkSync(path.join(PROGRAM, "index.ts"), path.join(dir, "index.ts"));
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
        const plain = {
            "reliability-seed:count": 3,
            "reliability-seed:prefix": "/secret",
            "reliability-seed:endpoints": cluster.endpoints,
            "reliability-seed:timeoutMs": 3000,
            "reliability-seed:retries": 0,
            "reliability-seed:etcdUsername": "root",
            "reliability-seed:sshTunnel": { host: sshd.host, port: sshd.port, username: sshd.username },
        };
        fs.writeFileSync(path.join(dir, "Pulumi.seed.yaml"), YAML.stringify({ config: plain }));
        stack = new PulumiStack({ engine: findEngine(), backendDir: path.join(scratch, "backend"), projectDir: dir, stack: "seed", transpileOnly: true });
        await stack.ensure();
        await setSecret("etcdPassword", password);
        await setSecret("sshTunnel.privateKey", sshd.privateKey);
    });

    after(async function () {
        if (stack) await stack.destroy([], { allowFailure: true }).catch(() => undefined);
        await sshd?.stop();
        await cluster?.stop();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("the stack file holds the password and key encrypted only", () => {
        const text = fs.readFileSync(path.join(stack.projectDir, "Pulumi.seed.yaml"), "utf8");
        expect(text).to.contain("secure:");
        expect(leaksIn(text, secrets())).to.deep.equal([]);
    });

    it("after pulumi up through the tunnel with etcd auth: no secret in the export, the backend files or the engine's output", async () => {
        const up = await stack.up();
        outputs.push(up);
        expect(etcdctl("--user", `root:${password}`, "get", "--prefix", "/secret/", "--keys-only").split("\n").filter(Boolean)).to.have.length(7); // svc-0 and svc-2 http (2 keys), svc-1 tcp (3)

        const exported = await stack.run(["stack", "export", "--stack", "seed", "--non-interactive"]);
        expect(leaksIn(exported.stdout, secrets()), "pulumi stack export").to.deep.equal([]);
        // Control: the values are in the state, encrypted; decrypted on request they are there.
        const shown = await stack.run(["stack", "export", "--stack", "seed", "--show-secrets", "--non-interactive"]);
        expect(shown.stdout).to.contain(password);
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
        await setSecret("etcdPassword", wrongPassword);
        await configure({ hostsVariant: 1 });
        const rejected = await stack.up([], { allowFailure: true });
        outputs.push(rejected);
        expect(rejected.code, rejected.stdout.slice(-2000)).to.not.equal(0);
        expect(rejected.stdout + rejected.stderr).to.match(/rejected the credentials of user "root"/);
        expect(leaksIn(rejected.stdout + rejected.stderr, secrets()), "output of the wrong-password run").to.deep.equal([]);

        await setSecret("etcdPassword", password);
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

    it("provider errors with a refused key or a wrong password carry no key material and no password", async () => {
        const base = { resourceName: "leak-check", service: "leak", scheme: "http", hosts: ["10.0.0.1:80"], prefix: "/secret2", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION };
        const tunnel = { host: sshd.host, port: sshd.port, username: sshd.username };
        const attempts = [
            { endpoints: cluster.endpoints, username: "root", password, timeoutMs: 3000, retries: 0, sshTunnel: { ...tunnel, privateKey: sshd.unauthorizedPrivateKey } },
            { endpoints: cluster.endpoints, username: "root", password: wrongPassword, timeoutMs: 3000, retries: 0, sshTunnel: { ...tunnel, privateKey: sshd.privateKey } },
            { endpoints: cluster.endpoints, username: "root", password, timeoutMs: 3000, retries: 0, sshTunnel: { ...tunnel, privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-but-secret-text-0123456789\n-----END OPENSSH PRIVATE KEY-----" } },
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
