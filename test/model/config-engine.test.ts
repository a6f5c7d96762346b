// The config schema and readers against the real Pulumi CLI: Pulumi.yaml is accepted, the
// shipped stack files pass the CLI's typed validation, and what the engine hands the program
// validates exactly like the files read offline. The program here is a probe that only reads
// and validates config (no resources), so this tests config and nothing else.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PulumiStack, REPO_ROOT, engineTestsDisabled, findEngine, rewriteStackFile } from "../support/engine";
import { readStackFile } from "../../model/stack-config";
import { validateConfig } from "../../model/validate";

const PROBE = `import * as pulumi from "@pulumi/pulumi";
import { readPulumiConfig } from "./model/stack-config";
import { validateConfig } from "./model/validate";
const result = validateConfig(readPulumiConfig(), pulumi.getStack());
export const problems = result.problems;
export const config = result.config ? JSON.stringify({ ...result.config, access: { ...result.config.access, etcdPassword: undefined, sshTunnel: undefined } }) : "";
`;

describe("@engine config: Pulumi.yaml and the stack files through the real Pulumi CLI", function () {
    this.timeout(10 * 60 * 1000);
    let scratch: string;
    let projectDir: string;

    before(function () {
        if (engineTestsDisabled()) this.skip();
        findEngine(); // throws with the fix when the engine is missing
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "config-engine-"));
        projectDir = path.join(scratch, "project");
        fs.mkdirSync(projectDir);
        for (const entry of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.local.yaml", "tsconfig.json", "package.json"]) {
            fs.copyFileSync(path.join(REPO_ROOT, entry), path.join(projectDir, entry));
        }
        for (const entry of ["node_modules", "model"]) fs.symlinkSync(path.join(REPO_ROOT, entry), path.join(projectDir, entry));
        fs.writeFileSync(path.join(projectDir, "index.ts"), PROBE);
    });

    after(() => {
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    function stack(name: string): PulumiStack {
        return new PulumiStack({ projectDir, stack: name, backendDir: path.join(scratch, "backend"), transpileOnly: true });
    }

    async function probe(s: PulumiStack): Promise<{ problems: Array<{ key: string; message: string }>; config: string }> {
        await s.up();
        const outputs = await s.outputs();
        return { problems: outputs.problems, config: outputs.config };
    }

    for (const name of ["dev", "prod", "local"]) {
        it(`Pulumi.${name}.yaml passes the CLI's typed checks and validates in the program as it does offline`, async () => {
            const s = stack(name);
            await s.ensure();
            const { problems, config } = await probe(s);
            expect(problems).to.deep.equal([]);
            const offline = validateConfig(readStackFile(name, projectDir), name).config!;
            const offlineComparable = JSON.parse(JSON.stringify({ ...offline, access: { ...offline.access, etcdPassword: undefined, sshTunnel: undefined } }));
            expect(JSON.parse(config)).to.deep.equal(offlineComparable);
        });
    }

    it("the CLI refuses a value of the wrong type, naming the key", async () => {
        const s = stack("wrongtype");
        fs.copyFileSync(path.join(projectDir, "Pulumi.local.yaml"), path.join(projectDir, "Pulumi.wrongtype.yaml"));
        rewriteStackFile(path.join(projectDir, "Pulumi.wrongtype.yaml"), (doc) => ({ ...doc, config: { ...doc.config, "coreos-cluster:etcdCount": "three" } }));
        await s.ensure();
        const result = await s.up([], { allowFailure: true });
        expect(result.code).to.not.equal(0);
        expect(result.stdout + result.stderr).to.match(/configuration key 'etcdCount' must be of type 'integer'/);
    });

    it("the program reports a typo, an even member count and a plaintext secret; --secret is accepted", async () => {
        const s = stack("bad");
        fs.copyFileSync(path.join(projectDir, "Pulumi.local.yaml"), path.join(projectDir, "Pulumi.bad.yaml"));
        rewriteStackFile(path.join(projectDir, "Pulumi.bad.yaml"), (doc) => ({
            ...doc,
            config: { ...doc.config, "coreos-cluster:etcdCont": 5, "coreos-cluster:etcdCount": 4, "coreos-cluster:etcdUsername": "root" },
        }));
        await s.ensure();
        // The CLI itself balks at a secret-looking name without --secret; --plaintext forces it, as a careless user might.
        await s.run(["config", "set", "--stack", "bad", "--plaintext", "etcdPassword", "clear-text-pw"]);
        const { problems } = await probe(s);
        expect(problems.map((p) => p.key)).to.have.members(["coreos-cluster:etcdCont", "coreos-cluster:etcdCount", "coreos-cluster:etcdPassword"]);
        expect(problems.find((p) => p.key === "coreos-cluster:etcdCount")!.message).to.match(/cluster size \| majority \| failure tolerance/);
        expect(JSON.stringify(problems)).to.not.include("clear-text-pw");

        await s.run(["config", "set", "--stack", "bad", "--secret", "etcdPassword", "now-secret-pw"]);
        await s.run(["config", "set", "--stack", "bad", "etcdCount", "3"]);
        await s.run(["config", "rm", "--stack", "bad", "etcdCont"]);
        expect((await probe(s)).problems).to.deep.equal([]);
        expect(fs.readFileSync(path.join(projectDir, "Pulumi.bad.yaml"), "utf8")).to.not.include("now-secret-pw");
    });
});
