// What the delivery workflows promise, read from the YAML itself (yaml lib): who may write
// what, one update per stack at a time, prod behind a protected environment, short-lived
// GCP credentials only, the policy pack in every preview and update.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { excludeGlobs } from "./workflow-policy";

type Json = Record<string, any>;

const workflowDir = path.resolve(__dirname, "../../.github/workflows");
const STACKS = ["dev", "prod"];
// CLUSTER_SSH_PRIVATE_KEY: the SSH key of the IAP tunnel into the VPC (docs/delivery.md); no cloud credential.
// PULUMI_PREVIEW_ACCESS_TOKEN / PULUMI_ACCESS_TOKEN: Pulumi Cloud tokens ("Stack Read" / "Stack Write").
// No passphrase: the stacks use a KMS secrets provider (test/workflows/least-privilege.test.ts).
const ALLOWED_SECRETS = ["PULUMI_ACCESS_TOKEN", "PULUMI_PREVIEW_ACCESS_TOKEN", "GITHUB_TOKEN", "CLUSTER_SSH_PRIVATE_KEY"];

function load(file: string): Json {
    return parse(fs.readFileSync(path.join(workflowDir, file), "utf8"));
}

const workflows: Record<string, Json> = Object.fromEntries(
    fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f)).map((f) => [f, load(f)]),
);

interface PulumiRun {
    file: string;
    jobId: string;
    job: Json;
    /** The job instantiated for one stack (matrix expanded). */
    stack: string;
    inputs: Json;
}

/** Replaces `${{ matrix.stack }}` so a matrix job can be judged per stack. */
function expand(value: unknown, stack: string): unknown {
    return typeof value === "string" ? value.replace(/\$\{\{\s*matrix\.stack\s*\}\}/g, stack) : value;
}

function stacksOf(job: Json): string[] {
    const matrix = job.strategy?.matrix?.stack;
    return Array.isArray(matrix) ? matrix : [undefined as unknown as string];
}

function pulumiRuns(): PulumiRun[] {
    const runs: PulumiRun[] = [];
    for (const [file, wf] of Object.entries(workflows)) {
        for (const [jobId, job] of Object.entries<Json>(wf.jobs ?? {})) {
            for (const step of job.steps ?? []) {
                if (typeof step.uses !== "string" || !step.uses.startsWith("pulumi/actions@") || !step.with?.command) continue;
                for (const matrixStack of stacksOf(job)) {
                    const inputs = Object.fromEntries(Object.entries<unknown>(step.with).map(([k, v]) => [k, expand(v, matrixStack)]));
                    runs.push({ file, jobId, job, stack: String(inputs["stack-name"]), inputs });
                }
            }
        }
    }
    return runs;
}

function permissionsOf(file: string, job: Json): Json {
    return { ...(workflows[file].permissions ?? {}), ...(job.permissions ?? {}) };
}

function concurrencyOf(run: PulumiRun): { group: string; cancel: unknown } {
    const c = run.job.concurrency;
    expect(c, `${run.file} ${run.jobId}: job-level concurrency`).to.be.an("object");
    return { group: String(expand(c.group, run.stack)), cancel: c["cancel-in-progress"] };
}

function allStrings(node: unknown, out: string[] = []): string[] {
    if (typeof node === "string") out.push(node);
    else if (Array.isArray(node)) node.forEach((n) => allStrings(n, out));
    else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) (out.push(k), allStrings(v, out));
    return out;
}

describe("workflows: structure", () => {
    const runs = pulumiRuns();
    const byCommand = (command: string) => runs.filter((r) => r.inputs.command === command);

    it("previews dev and prod on pull requests with a diff, a PR comment and the policy pack", () => {
        const previews = byCommand("preview").filter((r) => workflows[r.file].on?.pull_request);
        expect(previews.map((r) => r.stack)).to.have.members(STACKS);
        for (const r of previews) {
            expect(r.inputs.diff, r.stack).to.equal(true);
            expect(r.inputs["comment-on-pr"], r.stack).to.equal(true);
            expect(permissionsOf(r.file, r.job)["pull-requests"]).to.equal("write");
        }
    });

    it("runs pulumi up for dev, then prod in the protected production environment", () => {
        const ups = byCommand("up");
        expect(ups.map((r) => r.stack)).to.have.members(STACKS);
        for (const r of ups) expect(workflows[r.file].on?.push?.branches, r.file).to.include("main");
        const prod = ups.find((r) => r.stack === "prod")!;
        const dev = ups.find((r) => r.stack === "dev")!;
        const environment = typeof prod.job.environment === "string" ? prod.job.environment : prod.job.environment?.name;
        expect(environment).to.equal("production");
        expect([prod.job.needs].flat()).to.include(dev.jobId);
    });

    it("runs the test workflow before any preview or update", () => {
        const needsTests = (file: string, jobId: string, seen = new Set<string>()): boolean => {
            if (seen.has(jobId)) return false;
            seen.add(jobId);
            const job = workflows[file].jobs[jobId];
            if (!job) return false;
            if (job.uses === "./.github/workflows/test.yml") return true;
            const needs: string[] = job.needs === undefined ? [] : [job.needs].flat();
            return needs.some((id) => needsTests(file, id, seen));
        };
        for (const r of [...byCommand("preview"), ...byCommand("up")].filter((r) => !workflows[r.file].on?.schedule)) {
            expect(needsTests(r.file, r.jobId), `${r.file} ${r.jobId} must (transitively) need the test workflow`).to.equal(true);
        }
        expect(workflows["test.yml"].on).to.have.property("workflow_call");
        const testSteps = allStrings(workflows["test.yml"].jobs);
        expect(testSteps.some((s) => s.includes(".ci/run"))).to.equal(true);
    });

    it("checks drift on a schedule for every stack with refresh and expect-no-changes, without writing", () => {
        const drift = runs.filter((r) => workflows[r.file].on?.schedule);
        expect(drift.map((r) => r.stack)).to.have.members(STACKS);
        for (const r of drift) {
            expect(r.inputs.command, "a preview never writes state").to.equal("preview");
            expect(r.inputs.refresh).to.equal(true);
            expect(r.inputs["expect-no-changes"]).to.equal(true);
        }
    });

    it("checks drift read-only: in drift-<stack> (main only), leaving out what only the SSH tunnel can read", () => {
        const drift = runs.filter((r) => workflows[r.file].on?.schedule);
        for (const r of drift) {
            expect(expand(r.job.environment, r.stack), r.stack).to.equal(`drift-${r.stack}`);
            expect(r.job.if).to.equal("github.ref == 'refs/heads/main'");
            // URN globs as the engine reads them (** any text, * one segment): each names a type the program registers.
            const excluded = String(r.inputs.exclude).trim().split("\n");
            expect(excluded).to.deep.equal([
                "**pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistrationSet::**",
                "**pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistration::**",
                "**pulumi-nodejs:dynamic/coreos-cluster:FleetUnit::**",
                "**pulumi-nodejs:dynamic/coreos-cluster:FleetService::**",
                "**pulumi-nodejs:dynamic/coreos-cluster:EtcdAccess::**",
                "**pulumi-nodejs:dynamic/coreos-cluster:TlsPhaseWait::**",
                "**coreos-cluster:index:ClusterHealthGate$command:remote:Command::**",
            ]);
            expect(r.inputs["exclude-dependents"], "dependents of the excluded (the workers) are still checked").to.equal(undefined);
        }
    });

    it("reads the drift check's exclude globs as the engine does (the program's own URNs: preview-without-key.test.ts)", () => {
        const drift = runs.find((r) => workflows[r.file].on?.schedule)!;
        const globs = excludeGlobs(drift.inputs.exclude);
        const excluded = (urn: string) => globs.some((g) => g.test(urn));
        const urn = (type: string, name: string) => `urn:pulumi:prod::coreos-cluster::${type}::${name}`;
        expect(excluded(urn("pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistrationSet", "coreos-prod-services"))).to.equal(true);
        expect(excluded(urn("pulumi-nodejs:dynamic/coreos-cluster:FleetUnit", "coreos-prod-unit-web"))).to.equal(true);
        expect(excluded(urn("coreos-cluster:index:GcpCluster$coreos-cluster:index:ClusterHealthGate$command:remote:Command", "coreos-prod-etcd-health"))).to.equal(true);
        // Control: cloud resources, and the other dynamic resources, stay in.
        expect(excluded(urn("coreos-cluster:index:GcpCluster$coreos-cluster:index:EtcdCentralServices$gcp:compute/instance:Instance", "coreos-prod-etcd-0"))).to.equal(false);
        expect(excluded(urn("pulumi-nodejs:dynamic/coreos-cluster:MemberCountGuard:Resource", "coreos-prod-etcd-member-count"))).to.equal(false);
        expect(excluded(urn("pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistrationSetX", "x")), "* and ** do not swallow a type's end").to.equal(false);
    });

    it("never runs two updates of one stack at once: one never-cancelled group per stack", () => {
        const ups = byCommand("up");
        for (const stack of STACKS) {
            const groups = ups.filter((r) => r.stack === stack).map(concurrencyOf);
            expect(groups, stack).to.have.length.at.least(1);
            expect(new Set(groups.map((g) => g.group)).size, `${stack}: ${groups.map((g) => g.group)}`).to.equal(1);
            expect(groups[0].group).to.contain(stack);
            for (const g of groups) expect(g.cancel, `${stack} cancel-in-progress`).to.equal(false);
        }
        const groupOf = (stack: string) => concurrencyOf(ups.find((r) => r.stack === stack)!).group;
        expect(groupOf("dev")).to.not.equal(groupOf("prod"));
    });

    it("keeps drift checks out of the deploy groups, so a queued check can never cancel a pending deploy", () => {
        const deployGroups = new Set(byCommand("up").map((r) => concurrencyOf(r).group));
        const drift = runs.filter((r) => workflows[r.file].on?.schedule);
        for (const r of drift) {
            const { group, cancel } = concurrencyOf(r);
            expect(group).to.contain(r.stack);
            expect(deployGroups.has(group), group).to.equal(false);
            expect(cancel).to.equal(false);
        }
        expect(new Set(drift.map((r) => concurrencyOf(r).group)).size).to.equal(STACKS.length);
    });

    it("applies the policy pack and the one backend variable to every Pulumi run", () => {
        expect(runs.length).to.be.at.least(6);
        for (const r of runs) {
            expect(r.inputs.policyPacks, `${r.file} ${r.jobId}`).to.equal("policy");
            expect(r.inputs["cloud-url"], `${r.file} ${r.jobId}`).to.equal("${{ vars.PULUMI_BACKEND_URL }}");
        }
    });

    it("gets GCP credentials only through workload identity federation: the deployer to update, the read-only previewer otherwise", () => {
        for (const r of runs) {
            const auth = (r.job.steps as Json[]).filter((s) => String(s.uses).startsWith("google-github-actions/auth@"));
            expect(auth, `${r.file} ${r.jobId}`).to.have.length(1);
            expect(auth[0].with.workload_identity_provider).to.equal("${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}");
            const account = r.inputs.command === "preview" ? "GCP_PREVIEW_SERVICE_ACCOUNT" : "GCP_DEPLOY_SERVICE_ACCOUNT";
            expect(auth[0].with.service_account, `${r.file} ${r.jobId} ${r.inputs.command}`).to.equal(`\${{ vars.${account} }}`);
            expect(auth[0].with).to.not.have.property("credentials_json");
            expect(permissionsOf(r.file, r.job)["id-token"]).to.equal("write");
            const order = (r.job.steps as Json[]).map((s) => String(s.uses ?? ""));
            expect(order.findIndex((u) => u.startsWith("google-github-actions/auth@"))).to.be.below(order.findIndex((u) => u.startsWith("pulumi/actions@")));
        }
    });

    it("uses no long-lived key secrets anywhere", () => {
        for (const [file, wf] of Object.entries(workflows)) {
            const text = allStrings(wf).join("\n");
            const secrets = [...text.matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);
            for (const s of secrets) expect(ALLOWED_SECRETS, `${file} uses secrets.${s}`).to.include(s);
            expect(text, file).to.not.match(/credentials_json|GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_CREDENTIALS|service[-_]account[-_]key/i);
        }
    });

    it("declares least-privilege permissions in every workflow and pins every action by commit", () => {
        for (const [file, wf] of Object.entries(workflows)) {
            expect(wf.permissions, `${file} top-level permissions`).to.be.an("object");
            expect(wf.permissions.contents, file).to.equal("read");
            for (const [jobId, job] of Object.entries<Json>(wf.jobs)) {
                const uses = [job.uses, ...(job.steps ?? []).map((s: Json) => s.uses)].filter((u) => typeof u === "string");
                for (const u of uses) {
                    if (u.startsWith("./")) continue;
                    // A tag can be moved; a commit cannot (least-privilege.test.ts checks the release comment too).
                    expect(u, `${file} ${jobId}`).to.match(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
                }
            }
        }
    });

    it("gives pull-request write access only to the pull-request workflow", () => {
        for (const [file, wf] of Object.entries(workflows)) {
            if (wf.on?.pull_request) continue;
            const perms = [wf.permissions, ...Object.values<Json>(wf.jobs).map((j) => j.permissions)];
            for (const p of perms) expect(p?.["pull-requests"], file).to.not.equal("write");
        }
    });
});
