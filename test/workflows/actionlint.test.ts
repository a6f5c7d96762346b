// The user-facing GitHub Actions workflows must pass actionlint (syntax, expressions,
// action inputs, runner labels, shell scripts). actionlint is a Go program provided by
// scripts/bootstrap-actionlint.sh; .ci/run puts it on PATH.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "../..");
const workflowDir = path.join(repoRoot, ".github", "workflows");

function actionlint(args: string[], cwd: string) {
    const result = spawnSync("actionlint", ["-no-color", ...args], { cwd, encoding: "utf8" });
    if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new Error(
            "actionlint is not on PATH. Provide it with:\n" +
                '  export PATH="$(bash scripts/bootstrap-actionlint.sh | tail -n 1):$PATH"\n' +
                "(.ci/run does this before npm test).",
        );
    }
    if (result.error) throw result.error;
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("workflows: actionlint", function () {
    this.timeout(120_000);

    it("passes on every workflow in .github/workflows", () => {
        const files = fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f));
        expect(files).to.include.members(["pull-request.yml", "deploy.yml", "drift.yml", "test.yml"]);
        const { status, output } = actionlint(files.map((f) => path.join(".github", "workflows", f)), repoRoot);
        expect(status, output).to.equal(0);
    });

    it("catches the mistakes it is here for (control: a broken workflow fails)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actionlint-control-"));
        try {
            fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
            // A wrong pulumi/actions input name and a job that needs a job that does not exist.
            const broken = [
                "name: broken",
                "on: push",
                "jobs:",
                "  preview:",
                "    needs: tests",
                "    runs-on: ubuntu-24.04",
                "    steps:",
                "      - uses: pulumi/actions@v6",
                "        with:",
                "          command: preview",
                "          stack-name: dev",
                "          policy-packs: policy",
                "",
            ].join("\n");
            fs.writeFileSync(path.join(dir, ".github", "workflows", "broken.yml"), broken);
            const { status, output } = actionlint([path.join(".github", "workflows", "broken.yml")], dir);
            expect(status).to.not.equal(0);
            expect(output).to.contain("policy-packs");
            expect(output).to.contain("tests");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
