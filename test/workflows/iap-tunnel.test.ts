// Defect (1) of issue 14, the CI side: every job that updates a GCE stack opens an IAP tunnel to a
// member's SSH before Pulumi runs and stops it after, on the port the stack's sshTunnel names, and
// hands Pulumi the tunnel's key only through the variable the stack's privateKeyEnv names. Previews
// and drift checks do neither (issue 22 item 5): they run read-only, without the key, and the
// program previews with the key unknown (test/workflows/preview-without-key.test.ts).
// Read from the YAML itself (yaml lib); member, zone and project come from the stack files.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { readStackFile } from "../../model/stack-config";
import { validateConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";

type Json = Record<string, any>;
const root = path.resolve(__dirname, "../..");
const workflowDir = path.join(root, ".github", "workflows");
const workflows: Record<string, Json> = Object.fromEntries(
    fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f)).map((f) => [f, parse(fs.readFileSync(path.join(workflowDir, f), "utf8"))]),
);

interface StackJob {
    file: string;
    jobId: string;
    stack: string;
    steps: Json[];
    /** The matrix entry the job runs with (`stack` plus its `include` fields). */
    matrix: Record<string, unknown>;
    /** The Pulumi command the job runs (preview, up, ...). */
    command: string;
}

const WRITE_COMMANDS = ["up", "update", "refresh", "destroy", "import"];

/** Each job instance that runs pulumi/actions with a command, one per matrix stack. */
function stackJobs(): StackJob[] {
    const out: StackJob[] = [];
    for (const [file, wf] of Object.entries(workflows)) {
        for (const [jobId, job] of Object.entries<Json>(wf.jobs ?? {})) {
            const steps: Json[] = job.steps ?? [];
            const pulumi = steps.find((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command);
            if (!pulumi) continue;
            const matrix = job.strategy?.matrix;
            const entries: Record<string, unknown>[] = Array.isArray(matrix?.stack)
                ? matrix.stack.map((stack: string) => ({ stack, ...(matrix.include ?? []).find((i: Json) => i.stack === stack) }))
                : [{ stack: pulumi.with["stack-name"] }];
            for (const entry of entries) out.push({ file, jobId, stack: String(entry.stack), steps, matrix: entry, command: String(pulumi.with.command) });
        }
    }
    return out;
}

/** `${{ matrix.x }}` replaced by the entry's value; anything else left as written. */
function expand(value: unknown, matrix: Record<string, unknown>): string {
    return String(value).replace(/\$\{\{\s*matrix\.([A-Za-z_]+)\s*\}\}/g, (_, k) => String(matrix[k]));
}

/** The shell the tunnel step runs, with its env values substituted the way bash would. */
function tunnelCommand(step: Json, matrix: Record<string, unknown>): string {
    let script = String(step.run);
    for (const [k, v] of Object.entries<string>(step.env ?? {})) script = script.split(`$${k}`).join(expand(v, matrix));
    // bash drops the double quotes around each word
    return script.replace(/"/g, "");
}

describe("workflows: the IAP tunnel into the VPC around every update, and only there", () => {
    const all = stackJobs();
    const jobs = all.filter((j) => WRITE_COMMANDS.includes(j.command));
    const previews = all.filter((j) => !WRITE_COMMANDS.includes(j.command));

    it("covers every update of dev and prod; every preview and drift check is read-only", () => {
        expect(jobs.map((j) => `${j.file}:${j.stack}`).sort()).to.deep.equal(["deploy.yml:dev", "deploy.yml:prod"]);
        expect(previews.map((j) => `${j.file}:${j.stack}:${j.command}`).sort()).to.deep.equal(
            ["drift.yml:dev:preview", "drift.yml:prod:preview", "pull-request.yml:dev:preview", "pull-request.yml:prod:preview"],
        );
    });

    it("opens no tunnel and hands out no key in a preview or drift check", () => {
        const keyVariables = ["dev", "prod"].map((s) => String((readStackFile(s, root).sshTunnel as Record<string, unknown>).privateKeyEnv));
        for (const job of previews) {
            const where = `${job.file} ${job.jobId} (${job.stack})`;
            const text = JSON.stringify(workflows[job.file].jobs[job.jobId]);
            expect(text, where).to.not.match(/start-iap-tunnel|tunnel-through-iap|IAP_TUNNEL_PID/);
            expect(text, where).to.not.contain("CLUSTER_SSH_PRIVATE_KEY");
            for (const name of keyVariables) expect(text, where).to.not.contain(name);
            // Without a tunnel there is nothing for gcloud to do.
            expect(job.steps.some((s) => String(s.uses).startsWith("google-github-actions/setup-gcloud@")), where).to.equal(false);
        }
    });

    for (const stack of ["dev", "prod"]) {
        const config = validateConfig(readStackFile(stack, root), stack).config!;
        const member = planCluster(config).members[0];
        const raw = readStackFile(stack, root).sshTunnel as Record<string, unknown>;

        it(`${stack}: opens start-iap-tunnel to ${member.name}:22 on the stack's sshTunnel port before Pulumi, after GCP auth`, () => {
            expect(raw.host).to.equal("localhost");
            for (const job of jobs.filter((j) => j.stack === stack)) {
                const where = `${job.file} ${job.jobId} (${stack})`;
                const index = (pred: (s: Json) => boolean) => job.steps.findIndex(pred);
                const tunnel = index((s) => /gcloud compute start-iap-tunnel/.test(String(s.run ?? "")));
                const pulumi = index((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command);
                const auth = index((s) => String(s.uses).startsWith("google-github-actions/auth@"));
                const gcloud = index((s) => String(s.uses).startsWith("google-github-actions/setup-gcloud@"));
                expect(tunnel, `${where}: tunnel step`).to.be.at.least(0);
                expect(auth, where).to.be.below(tunnel);
                expect(gcloud, `${where}: gcloud installed before the tunnel`).to.be.within(0, tunnel - 1);
                expect(tunnel, where).to.be.below(pulumi);
                const command = tunnelCommand(job.steps[tunnel], job.matrix);
                expect(command, where).to.contain(
                    `gcloud compute start-iap-tunnel ${member.name} 22 --local-host-port=localhost:${raw.port} --zone ${member.zone} --project ${config.gcp.project}`,
                );
                // Backgrounded in its own session, its process group recorded for the stop step.
                expect(command, where).to.match(/setsid bash -c/).and.match(/&\n/).and.contain("IAP_TUNNEL_PID=$!");
            }
        });

        it(`${stack}: stops the tunnel after Pulumi, even when Pulumi failed`, () => {
            for (const job of jobs.filter((j) => j.stack === stack)) {
                const pulumi = job.steps.findIndex((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command);
                const stop = job.steps.findIndex((s) => /kill -- "-\$IAP_TUNNEL_PID"/.test(String(s.run ?? "")));
                expect(stop, `${job.file} ${job.jobId}: stop step`).to.be.above(pulumi);
                expect(job.steps[stop].if).to.equal("always()");
            }
        });

        it(`${stack}: gives the key only in ${String(raw.privateKeyEnv)}, from a secret, to the Pulumi step and the step loading it into the ssh-agent`, () => {
            for (const job of jobs.filter((j) => j.stack === stack)) {
                const pulumi = job.steps.find((s) => String(s.uses).startsWith("pulumi/actions@") && s.with?.command)!;
                expect(pulumi.env?.[String(raw.privateKeyEnv)], `${job.file} ${job.jobId}`).to.match(/^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
                // The health gate authenticates through an ssh-agent, so its state holds no key.
                const agent = job.steps.find((s) => /ssh-add -/.test(String(s.run ?? "")));
                expect(agent, `${job.file} ${job.jobId}: the ssh-agent step`).to.not.equal(undefined);
                expect(agent!.env?.[String(raw.privateKeyEnv)]).to.equal(pulumi.env?.[String(raw.privateKeyEnv)]);
                const leaks = String(agent!.run).split("\n").filter((l) => l.includes(String(raw.privateKeyEnv)) && l.includes("GITHUB_ENV"));
                expect(leaks, "only the agent's socket and pid go to GITHUB_ENV").to.deep.equal([]);
                expect(job.steps.indexOf(agent!)).to.be.below(job.steps.indexOf(pulumi));
                const others = job.steps.filter((s) => s !== pulumi && s !== agent);
                expect(JSON.stringify(others), "no other step sees the key").to.not.contain(String(raw.privateKeyEnv));
                expect(JSON.stringify(workflows[job.file].jobs[job.jobId].env ?? {})).to.not.contain(String(raw.privateKeyEnv));
            }
        });
    }

    it("control: the check sees a tunnel pointed at the wrong port", () => {
        const job = jobs.find((j) => j.file === "deploy.yml" && j.stack === "dev")!;
        const step = job.steps.find((s) => /start-iap-tunnel/.test(String(s.run ?? "")))!;
        const wrong = tunnelCommand({ ...step, env: { ...step.env, PORT: "2223" } }, job.matrix);
        expect(wrong).to.not.contain("--local-host-port=localhost:2222");
    });
});
