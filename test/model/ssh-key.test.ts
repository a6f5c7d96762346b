// The tunnel's private key is read before anything is created (model/ssh-key.ts through
// model/validate-fields.ts): a key with the right armour that ssh2 cannot read (cut short, or
// protected by a passphrase the tunnel does not have) is refused naming the config key, by the
// validator and by the whole program under the SDK's mocks, which then registers nothing. Before,
// the local platform first read it while building the bastion's sshd, after the guard and the PKI
// had been registered.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readPrivateKey } from "../../model/ssh-key";
import { validateConfig } from "../../model/validate";
import { readStackFile } from "../../model/stack-config";
import { LOCAL_TUNNEL_KEY_ENV, REPO_ROOT, runFailingProgram } from "../support/mocks";

describe("model/ssh-key: the tunnel's private key, read before anything is created", function () {
    this.timeout(60000);
    let dir: string;
    let good: string;
    let withPassphrase: string;
    let cutShort: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-ssh-key-"));
        childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "good")]);
        childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", path.join(dir, "locked")]);
        good = fs.readFileSync(path.join(dir, "good"), "utf8");
        withPassphrase = fs.readFileSync(path.join(dir, "locked"), "utf8");
        // The armour intact, the body cut in half.
        const lines = good.trim().split("\n");
        cutShort = [lines[0], ...lines.slice(1, -1).slice(0, Math.ceil((lines.length - 2) / 2)), lines[lines.length - 1]].join("\n") + "\n";
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("reads a key ssh-keygen wrote, and names what is wrong with one it cannot use, never quoting it", () => {
        const read = readPrivateKey(good);
        expect("problem" in read ? read.problem : read.type).to.equal("ssh-ed25519");
        for (const [why, key] of [["cut short", cutShort], ["behind a passphrase", withPassphrase]] as const) {
            const bad = readPrivateKey(key);
            expect("problem" in bad, why).to.equal(true);
            const problem = (bad as { problem: string }).problem;
            expect(problem, why).to.match(/^cannot be parsed as an unencrypted private key \(/);
            for (const line of key.trim().split("\n").slice(1, -1)) expect(problem, why).to.not.include(line);
        }
    });

    it("is refused by the validator, naming sshTunnel.privateKeyEnv; the key ssh-keygen wrote passes", () => {
        const local = readStackFile("local", REPO_ROOT);
        for (const key of [cutShort, withPassphrase]) {
            const { config, problems } = validateConfig(local, "local", { env: { [LOCAL_TUNNEL_KEY_ENV]: key } });
            expect(config).to.equal(undefined);
            expect(problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:sshTunnel.privateKeyEnv"]);
            expect(problems[0].message).to.match(new RegExp(`environment variable ${LOCAL_TUNNEL_KEY_ENV}: the key cannot be parsed`));
        }
        expect(validateConfig(local, "local", { env: { [LOCAL_TUNNEL_KEY_ENV]: good } }).problems).to.deep.equal([]);
    });

    it("stops the whole program before its first registration", async () => {
        const before = process.env[LOCAL_TUNNEL_KEY_ENV];
        process.env[LOCAL_TUNNEL_KEY_ENV] = cutShort;
        try {
            const run = await runFailingProgram({ stack: "local", config: readStackFile("local", REPO_ROOT), fresh: "program" });
            expect(String(run.error)).to.include("coreos-cluster:sshTunnel.privateKeyEnv").and.to.include("cannot be parsed");
            expect(run.registered.map((r) => `${r.type} ${r.name}`), "resources registered").to.deep.equal([]);
        } finally {
            if (before === undefined) delete process.env[LOCAL_TUNNEL_KEY_ENV];
            else process.env[LOCAL_TUNNEL_KEY_ENV] = before;
        }
    });
});
