// The policy pack through the real engine (issue 5): `pulumi preview --policy-pack policy` on a
// scratch copy of the local stack. Nothing is deployed: a preview starts no machine.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { deployerKeyEnv, engineTestsDisabled, findEngine, makeProjectCopy, ProjectCopy, PulumiStack, replaceInStrings } from "../support/engine";

describe("policy pack on the real Pulumi engine @engine", function () {
    this.timeout(15 * 60 * 1000);
    let project: ProjectCopy;
    let stack: PulumiStack;

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        const engine = findEngine();
        // A reboot strategy without a window: the advisory rule must speak up, proving the pack saw the resources.
        project = makeProjectCopy({
            stackConfig: {
                // The engine tests' VPC range (a preview creates nothing there).
                local: (doc) => {
                    const moved = replaceInStrings(doc, "10.213.10.", "10.213.11.");
                    return { ...moved, config: { ...moved.config, "coreos-cluster:rebootStrategy": "etcd-lock" } };
                },
            },
        });
        const backendDir = path.join(project.dir, ".pulumi-local");
        // The stack's sshTunnel takes its key from the environment, as scripts/local.sh provides it.
        const env = deployerKeyEnv(project.dir);
        stack = new PulumiStack({ engine, backendDir, transpileOnly: true, projectRoot: project.dir, projectDir: project.dir, stack: "local", env });
        await stack.ensure();
    });

    after(() => project?.cleanup());

    it("pulumi preview --policy-pack policy evaluates every local machine and passes the mandatory rules", async () => {
        const pack = path.join(project.dir, "policy");
        expect(fs.existsSync(path.join(pack, "PulumiPolicy.yaml"))).to.equal(true);
        const result = await stack.preview(["--policy-pack", pack]);
        const output = result.stdout + result.stderr;
        expect(output).to.match(/Policies:/);
        expect(output).to.match(/coreos-cluster-policies|coreos-cluster/);
        // The advisory rule fires once per machine that reboots without a window.
        const advisories = output.match(/\[advisory\][^\n]*reboot-window-set/g) ?? [];
        expect(advisories.length, output).to.be.greaterThan(0);
        expect(output).not.to.match(/\[mandatory\]/);
    });
});
