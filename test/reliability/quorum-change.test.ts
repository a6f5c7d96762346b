// Quorum safety on the real engine (issue 7): once a cluster is deployed, changing etcdCount by an
// even number (3 -> 5) must be refused at validation, with the fault-tolerance reasoning, before
// anything is planned: the members bootstrap from a static initial cluster, so two new members
// cannot join a running cluster in one deploy. model/quorum.ts implements the rule
// (memberCountChangeProblems, applied by validateConfig when given the deployed count); this test
// checks that the program applies it to a deployed stack. Only `pulumi preview` runs after the
// first `up`, so a failure here changes nothing. The members' cloud-config/image changes are
// covered under mocks by test/components/gcp/quorum-safety.test.ts (ignoreChanges, protect).
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deployerKeyEnv, engineTestsDisabled, findEngine, makeProjectCopy, ProjectCopy, PulumiStack, rewriteStackFile } from "../support/engine";

describe("reliability: a member-count change by an even number on a deployed stack is refused (local stack in the VPC 10.213.13.0/24, members .70-.72) @engine", function () {
    this.timeout(15 * 60 * 1000);
    let scratch: string;
    let project: ProjectCopy;
    let stack: PulumiStack;
    let deployed = false;
    const stackFile = () => path.join(project.dir, "Pulumi.local.yaml");

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        const engine = findEngine();
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-quorum-"));
        project = makeProjectCopy({
            into: scratch,
            stackConfig: {
                local: (doc) => ({
                    ...doc,
                    config: {
                        ...doc.config,
                        "coreos-cluster:clusterName": "relq",
                        "coreos-cluster:etcdCount": 3,
                        "coreos-cluster:localFirstAddress": "10.213.13.70",
                        "coreos-cluster:sshTunnel": { ...doc.config["coreos-cluster:sshTunnel"], host: "10.213.13.70" },
                        "coreos-cluster:localWorkers": 0,
                        "coreos-cluster:services": [],
                        "coreos-cluster:fleetUnits": [],
                    },
                }),
            },
        });
        const backendDir = path.join(scratch, "backend");
        fs.mkdirSync(backendDir);
        stack = new PulumiStack({ engine, backendDir, projectDir: project.dir, stack: "local", transpileOnly: true, projectRoot: project.dir, env: deployerKeyEnv(scratch) });
        await stack.ensure();
    });

    after(async function () {
        if (deployed) await stack.destroy([], { allowFailure: true }).catch(() => undefined);
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("deploys 3 members, then `pulumi preview` with etcdCount 5 fails naming coreos-cluster:etcdCount with the reasoning", async () => {
        await stack.up();
        deployed = true;
        const before = (await stack.resources()).map((r) => r.urn).sort();
        expect(before.filter((u) => u.endsWith("LocalMachine") || /relq-etcd-\d$/.test(u))).to.have.length(3);

        rewriteStackFile(stackFile(), (doc) => ({ ...doc, config: { ...doc.config, "coreos-cluster:etcdCount": 5 } }));
        const preview = await stack.preview([], { allowFailure: true });
        const output = preview.stdout + preview.stderr;
        rewriteStackFile(stackFile(), (doc) => ({ ...doc, config: { ...doc.config, "coreos-cluster:etcdCount": 3 } }));
        expect(preview.code, `preview of 3 -> 5 members must be refused:\n${output.slice(-3000)}`).to.not.equal(0);
        expect(output).to.contain("coreos-cluster:etcdCount");
        expect(output).to.match(/an even number/);
        expect(output).to.match(/failure tolerance/i);
        expect((await stack.resources()).map((r) => r.urn).sort(), "nothing changed").to.deep.equal(before);
    });
});
