// Issue 22 item 5, "CI with least privilege". A pull request's jobs run the pull request's code, so
// whatever they hold, anyone who can push a branch holds: they get a read-only previewer and
// nothing a deploy needs (no SSH key, no deploy identity, no passphrase, no token that writes
// state, no IAP path); deploy credentials live in the `dev` and `production` environments, prod's
// behind required reviewers; every third-party action is pinned by commit. Each rule is a function
// of test/workflows/workflow-policy.ts, run on the real workflows and, as a control, on a copy
// broken the way the rule is there to catch.
import { expect } from "chai";
import * as path from "path";
import { readStackFile } from "../../model/stack-config";
import {
    Json,
    PinnedAction,
    Workflows,
    deployEnvironmentProblems,
    loadWorkflows,
    permissionProblems,
    pinProblems,
    pullRequestIapProblems,
    pullRequestJobs,
    pullRequestSecretProblems,
    triggerProblems,
    where,
    workflowOf,
} from "./workflow-policy";

const root = path.resolve(__dirname, "../..");
const workflows = loadWorkflows(path.join(root, ".github", "workflows"));
const table: Record<string, PinnedAction> = require("./pinned-actions.json");
/** The variables the GCE stacks read their SSH tunnel key from (sshTunnel.privateKeyEnv). */
const keyVariables = ["dev", "prod"].map((s) => String((readStackFile(s, root).sshTunnel as Json).privateKeyEnv));

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

/** The workflows with one file's document replaced by `edit` of a copy of it. */
function withEdit(file: string, edit: (doc: Json) => void, base: Workflows = workflows): Workflows {
    const doc = clone(base[file].doc);
    edit(doc);
    return { ...base, [file]: workflowOf(file, doc, base[file].text) };
}

const previewJob = (doc: Json) => doc.jobs.preview;
const pulumiStep = (job: Json): Json => (job.steps as Json[]).find((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command)!;

describe("workflows: least privilege (issue 22 item 5)", () => {
    it("knows which jobs a pull request starts: the tests (and the workflow they call), the picture and both previews", () => {
        expect(keyVariables).to.deep.equal(["COREOS_CLUSTER_SSH_KEY", "COREOS_CLUSTER_SSH_KEY"]);
        expect(pullRequestJobs(workflows).map(where)).to.have.members([
            "pull-request.yml test",
            "test.yml npm-test [via pull-request.yml test -> test.yml]",
            "pull-request.yml picture",
            "pull-request.yml preview (stack=dev)",
            "pull-request.yml preview (stack=prod)",
        ]);
    });

    describe("no job a pull request starts can see a deploy secret", () => {
        it("holds for the workflows as they are", () => {
            expect(pullRequestSecretProblems(workflows, keyVariables)).to.deep.equal([]);
        });

        const cases: [string, (doc: Json) => void, RegExp][] = [
            [
                "the SSH key handed to the preview, as the deploy does",
                (doc) => (pulumiStep(previewJob(doc)).env = { COREOS_CLUSTER_SSH_KEY: "${{ secrets.CLUSTER_SSH_PRIVATE_KEY }}" }),
                /preview \(stack=dev\): reads secrets\.CLUSTER_SSH_PRIVATE_KEY \(a deploy secret\)[\s\S]*sets COREOS_CLUSTER_SSH_KEY/,
            ],
            ["the passphrase in the job's env", (doc) => (previewJob(doc).env.PULUMI_CONFIG_PASSPHRASE = "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"), /reads secrets\.PULUMI_CONFIG_PASSPHRASE[\s\S]*sets PULUMI_CONFIG_PASSPHRASE/],
            ["the Pulumi Cloud token that writes", (doc) => (previewJob(doc).env.PULUMI_ACCESS_TOKEN = "${{ secrets.PULUMI_ACCESS_TOKEN }}"), /reads secrets\.PULUMI_ACCESS_TOKEN \(a deploy secret\)/],
            [
                "the deployer's service account in the auth step",
                (doc) => ((previewJob(doc).steps as Json[]).find((s) => String(s.uses).startsWith("google-github-actions/auth@"))!.with.service_account = "${{ vars.GCP_DEPLOY_SERVICE_ACCOUNT }}"),
                /reads vars\.GCP_DEPLOY_SERVICE_ACCOUNT \(the deploy identity\)/,
            ],
            ["a secret echoed in a run script", (doc) => previewJob(doc).steps.push({ run: "echo '${{ secrets.CLUSTER_SSH_PRIVATE_KEY }}' > key" }), /reads secrets\.CLUSTER_SSH_PRIVATE_KEY/],
            ["a secret read by index", (doc) => previewJob(doc).steps.push({ run: "echo ok", env: { K: "${{ secrets['CLUSTER_SSH_PRIVATE_KEY'] }}" } }), /reads secrets\.CLUSTER_SSH_PRIVATE_KEY/],
            ["the whole secrets context", (doc) => previewJob(doc).steps.push({ run: "echo ok", env: { ALL: "${{ toJSON(secrets) }}" } }), /reads the whole secrets context \(toJSON\(secrets\)\)/],
            ["a secret in a step's condition", (doc) => previewJob(doc).steps.push({ if: "secrets.CLUSTER_SSH_PRIVATE_KEY != ''", run: "true" }), /reads secrets\.CLUSTER_SSH_PRIVATE_KEY/],
            ["any other secret (the list of a preview's secrets is closed)", (doc) => (previewJob(doc).env.OTHER = "${{ secrets.SOMETHING_NEW }}"), /reads secrets\.SOMETHING_NEW \(not a preview's\)/],
            ["secrets: inherit to the called test workflow", (doc) => (doc.jobs.test.secrets = "inherit"), /pull-request\.yml test: passes secrets: inherit to \.\/\.github\/workflows\/test\.yml/],
            ["the deploy environment", (doc) => (previewJob(doc).environment = "production"), /runs in the environment production; a pull request's job may run only in a preview-<stack> environment/],
            ["the other stack's preview environment", (doc) => (previewJob(doc).environment = "preview-prod"), /preview \(stack=dev\): previews dev in the environment preview-prod/],
            ["credentials outside any environment", (doc) => delete previewJob(doc).environment, /reads credentials outside a GitHub environment/],
        ];
        for (const [what, edit, expected] of cases) {
            it(`control: fails on ${what}`, () => {
                const problems = pullRequestSecretProblems(withEdit("pull-request.yml", edit), keyVariables);
                expect(problems.join("\n")).to.match(expected);
            });
        }

        it("control: fails on a deploy secret in a workflow the pull request calls", () => {
            const broken = withEdit("test.yml", (doc) => (doc.jobs["npm-test"].env = { COREOS_CLUSTER_SSH_KEY: "${{ secrets.CLUSTER_SSH_PRIVATE_KEY }}" }));
            expect(pullRequestSecretProblems(broken, keyVariables)).to.include.members([
                "test.yml npm-test [via pull-request.yml test -> test.yml]: reads secrets.CLUSTER_SSH_PRIVATE_KEY (a deploy secret)",
                "test.yml npm-test [via pull-request.yml test -> test.yml]: sets COREOS_CLUSTER_SSH_KEY, which carries a deploy secret",
            ]);
        });

        it("control: fails on any workflow a pull request starts, not only pull-request.yml", () => {
            const other = workflowOf("lint.yml", {
                on: { pull_request: {} },
                permissions: { contents: "read" },
                jobs: { lint: { "runs-on": "ubuntu-24.04", steps: [{ run: "npm run lint", env: { PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" } }] } },
            });
            expect(pullRequestSecretProblems({ ...workflows, "lint.yml": other }, keyVariables)).to.deep.equal([
                "lint.yml lint: reads secrets.PULUMI_CONFIG_PASSPHRASE (a deploy secret)",
                "lint.yml lint: sets PULUMI_CONFIG_PASSPHRASE, which carries a deploy secret",
                "lint.yml lint: reads credentials outside a GitHub environment; a preview's live in preview-<stack>",
            ]);
        });
    });

    describe("no job a pull request starts opens an IAP path to the members", () => {
        const tunnelStep = (workflows["deploy.yml"].doc.jobs["up-prod"].steps as Json[]).find((s) => /start-iap-tunnel/.test(String(s.run ?? "")))!;

        it("holds for the workflows as they are", () => {
            expect(tunnelStep, "the deploy's tunnel step (used below)").to.not.equal(undefined);
            expect(pullRequestIapProblems(workflows)).to.deep.equal([]);
        });

        it("control: fails on the deploy's tunnel step in a preview, or SSH through IAP in the tests", () => {
            const inPreview = withEdit("pull-request.yml", (doc) => previewJob(doc).steps.splice(4, 0, clone(tunnelStep)));
            expect(pullRequestIapProblems(inPreview)).to.deep.equal([
                "pull-request.yml preview (stack=dev): step Open the IAP tunnel to a member's SSH goes through IAP",
                "pull-request.yml preview (stack=prod): step Open the IAP tunnel to a member's SSH goes through IAP",
            ]);
            const inTests = withEdit("test.yml", (doc) => doc.jobs["npm-test"].steps.push({ name: "ssh", run: "gcloud compute ssh coreos-prod-etcd-0 --tunnel-through-iap" }));
            expect(pullRequestIapProblems(inTests)).to.deep.equal(["test.yml npm-test [via pull-request.yml test -> test.yml]: step ssh goes through IAP"]);
        });
    });

    describe("pull requests run on pull_request only", () => {
        it("holds for the workflows as they are", () => {
            expect(triggerProblems(workflows)).to.deep.equal([]);
            expect(Object.keys(workflows["pull-request.yml"].doc.on)).to.deep.equal(["pull_request"]);
        });

        it("control: fails on pull_request_target or workflow_run, in any form of on:", () => {
            expect(triggerProblems(withEdit("pull-request.yml", (doc) => (doc.on = { pull_request_target: { branches: ["main"] } })))).to.deep.equal([
                "pull-request.yml: runs on pull_request_target, with the base repository's secrets and a write token",
            ]);
            expect(triggerProblems(withEdit("drift.yml", (doc) => (doc.on = ["pull_request_target"])))).to.have.length(1);
            expect(triggerProblems(withEdit("drift.yml", (doc) => (doc.on = "workflow_run")))).to.have.length(1);
        });
    });

    describe("permissions are declared per workflow and widened per job, only where needed", () => {
        it("holds for the workflows as they are", () => {
            expect(permissionProblems(workflows)).to.deep.equal([]);
            for (const wf of Object.values(workflows)) expect(wf.doc.permissions, wf.file).to.deep.equal({ contents: "read" });
            expect(previewJob(workflows["pull-request.yml"].doc).permissions).to.deep.equal({ contents: "read", "id-token": "write", "pull-requests": "write" });
        });

        const cases: [string, string, (doc: Json) => void, string][] = [
            ["no top-level permissions", "drift.yml", (doc) => delete doc.permissions, "drift.yml: declares no top-level permissions map (the default token may write)"],
            ["write-all at the top", "deploy.yml", (doc) => (doc.permissions = "write-all"), "deploy.yml: declares no top-level permissions map (the default token may write)"],
            ["id-token for the whole pull-request workflow", "pull-request.yml", (doc) => (doc.permissions["id-token"] = "write"), "pull-request.yml: top-level permission id-token: write; widen it per job"],
            ["an OIDC token for the tests", "pull-request.yml", (doc) => (doc.jobs.test.permissions["id-token"] = "write"), "pull-request.yml test: id-token: write without a workload identity federation step"],
            ["a comment permission where nothing comments", "pull-request.yml", (doc) => (pulumiStep(previewJob(doc)).with["comment-on-pr"] = false), "pull-request.yml preview: pull-requests: write in a job that does not comment"],
            ["pull-requests: write in the deploys", "deploy.yml", (doc) => (doc.jobs["up-dev"].permissions["pull-requests"] = "write"), "deploy.yml up-dev: pull-requests: write in a job that does not comment"],
            ["contents: write for a preview", "pull-request.yml", (doc) => (previewJob(doc).permissions.contents = "write"), "pull-request.yml preview: contents: write in a workflow a pull request starts; no job here needs it"],
        ];
        for (const [what, file, edit, expected] of cases) {
            it(`control: fails on ${what}`, () => {
                expect(permissionProblems(withEdit(file, edit))).to.include(expected);
            });
        }
    });

    describe("every third-party action is pinned by commit, with its release named", () => {
        it("holds for the workflows as they are, with the commits and inputs of test/workflows/pinned-actions.json", () => {
            expect(pinProblems(workflows, table)).to.deep.equal([]);
            const used = new Set(Object.values(workflows).flatMap((wf) => [...wf.text.matchAll(/uses:\s*([\w.-]+\/[\w.-]+)@/g)].map((m) => m[1])));
            expect([...used].sort()).to.deep.equal(Object.keys(table).sort());
        });

        const pr = workflows["pull-request.yml"];
        const checkout = `actions/checkout@${table["actions/checkout"].commit}`;
        const withText = (text: string, doc?: Json): Workflows => ({ ...workflows, "pull-request.yml": workflowOf("pull-request.yml", doc ?? pr.doc, text) });
        it("control: fails on a tag, a commit without its release, a release that is not the commit's", () => {
            const tag = clone(pr.doc);
            previewJob(tag).steps[0].uses = "actions/checkout@v4";
            expect(pinProblems(withText(pr.text.replace(`${checkout} # v4.4.0`, "actions/checkout@v4"), tag))).to.include("pull-request.yml: actions/checkout@v4 is not pinned by a full commit SHA");
            const short = clone(pr.doc);
            previewJob(short).steps[0].uses = "actions/checkout@11d5960";
            expect(pinProblems(withText(pr.text, short))).to.include("pull-request.yml: actions/checkout@11d5960 is not pinned by a full commit SHA");
            const firstCheckoutLine = pr.text.split("\n").findIndex((l) => l.includes(`${checkout} # v4.4.0`)) + 1;
            expect(pinProblems(withText(pr.text.replace(`${checkout} # v4.4.0`, checkout)))).to.include(`pull-request.yml:${firstCheckoutLine}: ${checkout} has no "# vX.Y.Z" comment naming its release`);
            expect(pinProblems(withText(pr.text.replace(`${checkout} # v4.4.0`, `${checkout} # v4.2.2`)), table)).to.include(
                `pull-request.yml: ${checkout} # v4.2.2 is not actions/checkout@${table["actions/checkout"].commit} # v4.4.0`,
            );
        });

        it("control: fails on a reusable workflow of another repository pinned by branch, and on an input the pinned action lacks", () => {
            const remote = clone(pr.doc);
            remote.jobs.test.uses = "acme/ci/.github/workflows/test.yml@main";
            expect(pinProblems(withText(pr.text, remote))).to.include("pull-request.yml: acme/ci/.github/workflows/test.yml@main is not pinned by a full commit SHA");
            const badInput = clone(pr.doc);
            pulumiStep(previewJob(badInput)).with["policy-packs"] = "policy";
            expect(pinProblems(withText(pr.text, badInput), table)).to.include('pull-request.yml: pulumi/actions has no input "policy-packs"');
        });
    });

    describe("deploy credentials live in the deploy environments, prod's in production", () => {
        it("holds for the workflows as they are", () => {
            expect(deployEnvironmentProblems(workflows, keyVariables)).to.deep.equal([]);
            const deploy = workflows["deploy.yml"].doc.jobs;
            expect(deploy["up-dev"].environment).to.equal("dev");
            expect(deploy["up-prod"].environment).to.equal("production");
        });

        const cases: [string, string, (doc: Json) => void, string][] = [
            ["prod updated in the dev environment", "deploy.yml", (doc) => (doc.jobs["up-prod"].environment = "dev"), "deploy.yml up-prod: pulumi up of prod runs in dev, not production"],
            [
                "prod updated outside any environment",
                "deploy.yml",
                (doc) => delete doc.jobs["up-prod"].environment,
                "deploy.yml up-prod: holds secrets.PULUMI_ACCESS_TOKEN, secrets.CLUSTER_SSH_PRIVATE_KEY, vars.GCP_DEPLOY_SERVICE_ACCOUNT, COREOS_CLUSTER_SSH_KEY outside the deploy environments (dev, production)",
            ],
            [
                "the SSH key handed to the drift check",
                "drift.yml",
                (doc) => (pulumiStep(doc.jobs.drift).env = { COREOS_CLUSTER_SSH_KEY: "${{ secrets.CLUSTER_SSH_PRIVATE_KEY }}" }),
                "drift.yml drift (stack=prod): holds secrets.CLUSTER_SSH_PRIVATE_KEY, COREOS_CLUSTER_SSH_KEY but writes nothing (a preview or check needs no deploy secret)",
            ],
            [
                "a deploy on pull requests",
                "deploy.yml",
                (doc) => (doc.on = { pull_request: {}, push: { branches: ["main"] } }),
                "deploy.yml up-dev: holds secrets.PULUMI_ACCESS_TOKEN, secrets.CLUSTER_SSH_PRIVATE_KEY, vars.GCP_DEPLOY_SERVICE_ACCOUNT, COREOS_CLUSTER_SSH_KEY in a workflow on pull_request, push",
            ],
        ];
        for (const [what, file, edit, expected] of cases) {
            it(`control: fails on ${what}`, () => {
                expect(deployEnvironmentProblems(withEdit(file, edit), keyVariables)).to.include(expected);
            });
        }
    });
});
