// What the delivery workflows promise, read from the YAML itself (yaml lib): who may write
// what, one update per stack at a time, prod behind a protected environment, short-lived
// GCP credentials only, the policy pack in every preview and update.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

type Json = Record<string, any>;

const workflowDir = path.resolve(__dirname, "../../.github/workflows");
const STACKS = ["dev", "prod"];
// CLUSTER_SSH_PRIVATE_KEY: the SSH key of the IAP tunnel into the VPC (docs/delivery.md); no cloud credential.
const ALLOWED_SECRETS = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "GITHUB_TOKEN", "CLUSTER_SSH_PRIVATE_KEY"];

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

    it("gets GCP credentials only through workload identity federation", () => {
        for (const r of runs) {
            const auth = (r.job.steps as Json[]).filter((s) => String(s.uses).startsWith("google-github-actions/auth@"));
            expect(auth, `${r.file} ${r.jobId}`).to.have.length(1);
            expect(auth[0].with.workload_identity_provider).to.match(/^\$\{\{ vars\.[A-Z_]+ \}\}$/);
            expect(auth[0].with.service_account).to.match(/^\$\{\{ vars\.[A-Z_]+ \}\}$/);
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

    it("declares least-privilege permissions in every workflow and pins every action to a version", () => {
        for (const [file, wf] of Object.entries(workflows)) {
            expect(wf.permissions, `${file} top-level permissions`).to.be.an("object");
            expect(wf.permissions.contents, file).to.equal("read");
            for (const [jobId, job] of Object.entries<Json>(wf.jobs)) {
                const uses = [job.uses, ...(job.steps ?? []).map((s: Json) => s.uses)].filter((u) => typeof u === "string");
                for (const u of uses) {
                    if (u.startsWith("./")) continue;
                    expect(u, `${file} ${jobId}`).to.match(/^[\w.-]+\/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/);
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
