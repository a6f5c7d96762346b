import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { userDataHash, validateCloudConfig } from "../../cloud-config";
import { parseRenderArgs, runRenderCli } from "../../scripts/render";

const ROOT = path.resolve(__dirname, "..", "..");

/** The command in-process (the dev-stack test runs the real script as a child process). */
function runInProcess(args: string[]): { status: number; stdout: string; stderr: string } {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const status = runRenderCli(args, { log: (l) => stdout.push(l), error: (l) => stderr.push(l) });
    return { status, stdout: stdout.join("\n"), stderr: stderr.join("\n") };
}

function runRender(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "render.ts"), ...args], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("npm run render (scripts/render.ts)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cc-render-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("parses its arguments and refuses unknown ones", () => {
        const args = parseRenderArgs(["--stack", "dev", "--out=/tmp/x"]);
        expect(args).to.include({ stack: "dev", out: "/tmp/x", dir: ROOT });
        expect(parseRenderArgs(["--stack", "prod"]).out).to.equal(path.join(ROOT, "render-out", "prod"));
        expect(() => parseRenderArgs([])).to.throw(/--stack is required/);
        expect(() => parseRenderArgs(["--stack"])).to.throw(/--stack needs a value/);
        expect(() => parseRenderArgs(["--stack", "dev", "--cloud"])).to.throw(/unknown argument "--cloud"/);
        expect(() => parseRenderArgs(["--stack", "../etc"])).to.throw(/invalid stack name/);
        expect(runInProcess(["--stack"]).status).to.equal(2);
    });

    it("writes every machine's user-data of the dev stack and prints size, hash and warnings", function () {
        const out = path.join(tmp, "dev");
        const { status, stdout, stderr } = runRender(["--stack", "dev", "--out", out]);
        expect(status, stderr).to.equal(0);
        const files = fs.readdirSync(out).sort();
        expect(files).to.deep.equal(["etcd-0.yaml", "etcd-1.yaml", "etcd-2.yaml", "worker.yaml"]);
        for (const file of files) {
            const text = fs.readFileSync(path.join(out, file), "utf8");
            expect(text.startsWith("#cloud-config\n")).to.equal(true);
            expect(validateCloudConfig(text).errors).to.deep.equal([]);
            expect(stdout).to.contain(`${file}  `).and.contain(`${Buffer.byteLength(text)} bytes  sha256 ${userDataHash(text)}`);
        }
    });

    it("lists the deprecation warnings of a container-linux rendering in the summary", function () {
        const dir = path.join(tmp, "project");
        fs.mkdirSync(dir);
        fs.writeFileSync(
            path.join(dir, "Pulumi.classic.yaml"),
            [
                "config:",
                "  coreos-cluster:clusterName: classic",
                "  coreos-cluster:project: p-123456",
                "  coreos-cluster:region: us-central1",
                "  coreos-cluster:zones: [us-central1-b]",
                "  coreos-cluster:osFlavor: container-linux",
                "  coreos-cluster:osImage: projects/my-images/global/images/coreos-stable-2512",
                "",
            ].join("\n"),
        );
        const { status, stdout, stderr } = runInProcess(["--stack", "classic", "--dir", dir, "--out", path.join(tmp, "out")]);
        expect(status, stderr).to.equal(0);
        expect(stdout).to.match(/line \d+: warning: coreos\.etcd2: deprecated/);
        expect(stdout).to.match(/line \d+: warning: coreos\.fleet: deprecated/);
    });

    it("exits non-zero listing every config problem, and writes nothing", () => {
        const dir = path.join(tmp, "project");
        fs.mkdirSync(dir);
        fs.writeFileSync(
            path.join(dir, "Pulumi.bad.yaml"),
            "config:\n  coreos-cluster:clusterName: bad\n  coreos-cluster:etcdCount: 4\n  coreos-cluster:osFlavor: gentoo\n",
        );
        const out = path.join(tmp, "out");
        const { status, stderr } = runInProcess(["--stack", "bad", "--dir", dir, "--out", out]);
        expect(status).to.equal(1);
        expect(stderr).to.contain("coreos-cluster:etcdCount").and.contain("coreos-cluster:osFlavor");
        expect(fs.existsSync(out)).to.equal(false);
    });

    it("exits non-zero when the stack file does not exist", () => {
        const { status, stderr } = runInProcess(["--stack", "nosuchstack", "--dir", tmp]);
        expect(status).to.equal(1);
        expect(stderr).to.contain("Pulumi.nosuchstack.yaml");
    });
});
