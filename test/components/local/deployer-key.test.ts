// components/local/deployer-key.ts: the deployer's public key, as ssh-keygen derives it, read by
// ssh2's own parser loaded without the rest of ssh2.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { publicKeyOf } from "../../../components/local/deployer-key";
import { sshKeyParser } from "../../../model/ssh-key";
import { REPO_ROOT } from "../../support/mocks";

describe("local platform: the deployer's public key", () => {
    let dir: string;
    let privateKey: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-deployer-key-"));
        childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
        privateKey = fs.readFileSync(path.join(dir, "k"), "utf8");
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is the line ssh-keygen derives from the private key", () => {
        const derived = childProcess.execFileSync("ssh-keygen", ["-y", "-f", path.join(dir, "k")], { encoding: "utf8" }).trim().split(" ");
        expect(publicKeyOf(privateKey)).to.equal(`${derived[0]} ${derived[1]} coreos-cluster-deployer`);
    });

    it("is read by the very function ssh2's utils.parseKey is", () => {
        expect(sshKeyParser()).to.equal((require("ssh2") as typeof import("ssh2")).utils.parseKey);
    });

    it("loads none of ssh2's client, server, agent or SFTP (a fresh process)", () => {
        const script = `require("./components/local/deployer-key").publicKeyOf(process.env.KEY);
            process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes("/node_modules/ssh2/"))));`;
        const loaded = JSON.parse(childProcess.execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: REPO_ROOT, env: { ...process.env, KEY: privateKey }, encoding: "utf8" })) as string[];
        expect(loaded.some((f) => f.endsWith(path.join("protocol", "keyParser.js")))).to.equal(true);
        expect(loaded.filter((f) => /ssh2\/lib\/(index|client|server|agent)\.js$|SFTP\.js$/.test(f))).to.deep.equal([]);
    });

    it("refuses text that is no key, naming the config key and never echoing the text", () => {
        expect(() => publicKeyOf("not a key at all")).to.throw(/^coreos-cluster:sshTunnel\.privateKey: cannot be parsed as an unencrypted private key/);
    });
});
