// Least privilege in CI (issue 22 item 5), as checks over the workflows read with the yaml lib:
// each returns the problems it finds, one line each, so the tests can run it on the real
// workflows (no problem) and on small bad ones (each rule fires). docs/delivery.md, "Who holds
// what", explains the split these checks hold the workflows to.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

export type Json = Record<string, any>;

export interface Workflow {
    file: string;
    /** The file as written (comments included: the version after a pinned commit lives there). */
    text: string;
    doc: Json;
}

export type Workflows = Record<string, Workflow>;

/**
 * What only a deploy may hold, as secrets or variables: the SSH key of the IAP tunnel (root on a
 * member), a Pulumi Cloud token that may write state, a passphrase that decrypts every secret,
 * the deployers' service accounts. They live in the GitHub environments `dev` and `production`.
 */
export const DEPLOY_SECRETS = ["CLUSTER_SSH_PRIVATE_KEY", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"];
export const DEPLOY_VARS = ["GCP_DEPLOY_SERVICE_ACCOUNT"];
/** Environment variables that carry a deploy secret into a process, whatever secret fills them. */
export const DEPLOY_ENV_NAMES = ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"];
/** All a preview may read: a "Stack Read" Pulumi Cloud token, the read-only previewer, the settings. */
export const PREVIEW_SECRETS = ["PULUMI_PREVIEW_ACCESS_TOKEN", "GITHUB_TOKEN"];
export const PREVIEW_VARS = ["PULUMI_BACKEND_URL", "GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_PREVIEW_SERVICE_ACCOUNT"];
/** The GitHub environments that hold deploy credentials, by stack. */
export const DEPLOY_ENVIRONMENTS: Record<string, string> = { dev: "dev", prod: "production" };
const IAP = /start-iap-tunnel|tunnel-through-iap/;
const WRITE_COMMANDS = ["up", "update", "refresh", "destroy", "import"];

export function loadWorkflows(dir: string): Workflows {
    const out: Workflows = {};
    for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
        const text = fs.readFileSync(path.join(dir, file), "utf8");
        out[file] = { file, text, doc: parse(text) };
    }
    return out;
}

/** A workflow from a parsed document alone (the tests' bad examples). */
export function workflowOf(file: string, doc: Json, text = ""): Workflow {
    return { file, text, doc };
}

/** The events a workflow runs on, whatever form `on:` takes. */
export function eventsOf(doc: Json): string[] {
    const on = doc.on ?? doc[true as unknown as string];
    if (typeof on === "string") return [on];
    if (Array.isArray(on)) return on.map(String);
    return on && typeof on === "object" ? Object.keys(on) : [];
}

/** Every string of a node (keys and values), in document order. */
export function allStrings(node: unknown, out: string[] = []): string[] {
    if (typeof node === "string") out.push(node);
    else if (typeof node === "number" || typeof node === "boolean") out.push(String(node));
    else if (Array.isArray(node)) node.forEach((n) => allStrings(n, out));
    else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) (out.push(k), allStrings(v, out));
    return out;
}

/** The expressions of a job: every `${{ ... }}`, and `if:` conditions (which may omit the braces). */
export function expressionsOf(job: Json): string[] {
    const out: string[] = [];
    for (const s of allStrings(job)) for (const m of s.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) out.push(m[1]);
    for (const cond of [job.if, ...(job.steps ?? []).map((s: Json) => s.if)]) if (typeof cond === "string" && !cond.includes("${{")) out.push(cond);
    return out;
}

export interface ContextUse {
    /** Names read as `ctx.NAME` or `ctx['NAME']`. */
    names: string[];
    /** Places where the whole context is read (`toJSON(secrets)`, `secrets[format(...)]`). */
    whole: string[];
}

/** How the job reads a context (`secrets`, `vars`) in its expressions. */
export function contextUse(job: Json, context: "secrets" | "vars"): ContextUse {
    const names: string[] = [];
    const whole: string[] = [];
    const named = new RegExp(`\\b${context}\\s*(?:\\.\\s*([A-Za-z_][A-Za-z0-9_-]*)|\\[\\s*'([^']+)'\\s*\\]|\\[\\s*"([^"]+)"\\s*\\])`, "g");
    for (const expr of expressionsOf(job)) {
        for (const m of expr.matchAll(named)) names.push(m[1] ?? m[2] ?? m[3]);
        const rest = expr.replace(named, "");
        if (new RegExp(`(^|[^.\\w-])${context}\\b`).test(rest)) whole.push(expr.trim());
    }
    return { names: [...new Set(names)], whole };
}

/** A job as it runs for one matrix entry (`${{ matrix.x }}` replaced where the entry has x). */
export interface JobRun {
    file: string;
    jobId: string;
    job: Json;
    matrix: Record<string, unknown>;
    /** For a job of a called workflow: the calling chain, e.g. `pull-request.yml test -> test.yml`. */
    via?: string;
}

export function matrixEntries(job: Json): Record<string, unknown>[] {
    const matrix = job.strategy?.matrix;
    if (!matrix || typeof matrix !== "object") return [{}];
    const axes = Object.entries<unknown>(matrix).filter(([k, v]) => k !== "include" && k !== "exclude" && Array.isArray(v)) as [string, unknown[]][];
    let entries: Record<string, unknown>[] = [{}];
    for (const [k, values] of axes) entries = entries.flatMap((e) => values.map((v) => ({ ...e, [k]: v })));
    const include: Json[] = Array.isArray(matrix.include) ? matrix.include : [];
    return entries.map((e) => ({ ...e, ...(include.find((i) => Object.entries(i).every(([k, v]) => !(k in e) || e[k] === v)) ?? {}) }));
}

export function expandMatrix(value: unknown, matrix: Record<string, unknown>): unknown {
    if (typeof value !== "string") return value;
    return value.replace(/\$\{\{\s*matrix\.([A-Za-z_][\w-]*)\s*\}\}/g, (whole, k) => (k in matrix ? String(matrix[k]) : whole));
}

export function environmentOf(run: JobRun): string | undefined {
    const env = run.job.environment;
    const name = typeof env === "string" ? env : env?.name;
    return name === undefined ? undefined : String(expandMatrix(name, run.matrix));
}

/** Every job run of a workflow, the jobs of the workflows it calls (`uses: ./...`) included. */
export function jobRuns(workflows: Workflows, file: string, via?: string, seen = new Set<string>()): JobRun[] {
    const wf = workflows[file];
    if (!wf || seen.has(file)) return [];
    seen.add(file);
    const out: JobRun[] = [];
    for (const [jobId, job] of Object.entries<Json>(wf.doc.jobs ?? {})) {
        for (const matrix of matrixEntries(job)) out.push({ file, jobId, job, matrix, via });
        if (typeof job.uses === "string" && job.uses.startsWith("./")) {
            const called = path.basename(job.uses);
            out.push(...jobRuns(workflows, called, `${via ? `${via} -> ` : ""}${file} ${jobId} -> ${called}`, new Set(seen)));
        }
    }
    return out;
}

/** The jobs a pull request starts: those of workflows on `pull_request(_target)`, and what they call. */
export function pullRequestJobs(workflows: Workflows): JobRun[] {
    return Object.values(workflows)
        .filter((wf) => eventsOf(wf.doc).some((e) => e.startsWith("pull_request")))
        .flatMap((wf) => jobRuns(workflows, wf.file));
}

export function where(run: JobRun): string {
    const m = Object.keys(run.matrix).length ? ` (${Object.entries(run.matrix).map(([k, v]) => `${k}=${v}`).join(", ")})` : "";
    return `${run.file} ${run.jobId}${m}${run.via ? ` [via ${run.via}]` : ""}`;
}

function stepsOf(job: Json): Json[] {
    return Array.isArray(job.steps) ? job.steps : [];
}

function envNames(job: Json): string[] {
    return [job.env, ...stepsOf(job).map((s) => s.env)].flatMap((e) => (e && typeof e === "object" ? Object.keys(e) : []));
}

/**
 * "A pull-request job can see a deploy secret": a job a pull request starts (its workflow's or one
 * it calls) reads a secret or variable that is not a preview's, reads the whole secrets context,
 * passes `secrets: inherit`, sets a variable that carries a deploy secret or the stacks' SSH key,
 * or runs in a GitHub environment other than its stack's `preview-<stack>`.
 */
export function pullRequestSecretProblems(workflows: Workflows, keyVariables: string[]): string[] {
    const problems: string[] = [];
    for (const run of pullRequestJobs(workflows)) {
        const at = where(run);
        const secrets = contextUse(run.job, "secrets");
        const vars = contextUse(run.job, "vars");
        for (const name of secrets.names) {
            if (!PREVIEW_SECRETS.includes(name)) problems.push(`${at}: reads secrets.${name}${DEPLOY_SECRETS.includes(name) ? " (a deploy secret)" : " (not a preview's)"}`);
        }
        for (const name of vars.names) {
            if (!PREVIEW_VARS.includes(name)) problems.push(`${at}: reads vars.${name}${DEPLOY_VARS.includes(name) ? " (the deploy identity)" : " (not a preview's)"}`);
        }
        for (const expr of secrets.whole) problems.push(`${at}: reads the whole secrets context (${expr})`);
        if (run.job.secrets === "inherit") problems.push(`${at}: passes secrets: inherit to ${run.job.uses}`);
        for (const name of envNames(run.job)) {
            if (DEPLOY_ENV_NAMES.includes(name) || keyVariables.includes(name)) problems.push(`${at}: sets ${name}, which carries a deploy secret`);
        }
        const environment = environmentOf(run);
        const readsCredentials = secrets.names.some((n) => n !== "GITHUB_TOKEN") || permissionsOf(workflows, run)["id-token"] === "write";
        if (environment !== undefined && !/^preview-[a-z0-9-]+$/.test(environment)) {
            problems.push(`${at}: runs in the environment ${environment}; a pull request's job may run only in a preview-<stack> environment`);
        } else if (readsCredentials && environment === undefined) {
            problems.push(`${at}: reads credentials outside a GitHub environment; a preview's live in preview-<stack>`);
        } else if (environment !== undefined && run.matrix.stack !== undefined && environment !== `preview-${run.matrix.stack}`) {
            problems.push(`${at}: previews ${run.matrix.stack} in the environment ${environment}`);
        }
    }
    return problems;
}

/** A job a pull request starts opens no IAP path into the VPC (no tunnel, no SSH through IAP). */
export function pullRequestIapProblems(workflows: Workflows): string[] {
    const problems: string[] = [];
    for (const run of pullRequestJobs(workflows)) {
        for (const [i, step] of stepsOf(run.job).entries()) {
            if (allStrings(step).some((s) => IAP.test(s))) problems.push(`${where(run)}: step ${step.name ?? i} goes through IAP`);
        }
    }
    return problems;
}

/** Only `pull_request` for pull requests: never `pull_request_target` or `workflow_run`. */
export function triggerProblems(workflows: Workflows): string[] {
    const problems: string[] = [];
    for (const wf of Object.values(workflows)) {
        for (const event of eventsOf(wf.doc)) {
            if (event === "pull_request_target" || event === "workflow_run") problems.push(`${wf.file}: runs on ${event}, with the base repository's secrets and a write token`);
        }
    }
    return problems;
}

/** The permissions a job runs with: its own, else its workflow's. */
export function permissionsOf(workflows: Workflows, run: JobRun): Json {
    const own = run.job.permissions;
    const top = workflows[run.file]?.doc.permissions;
    const perms = own !== undefined ? own : top;
    if (perms === "write-all") return { contents: "write", "id-token": "write", "pull-requests": "write", actions: "write" };
    if (perms === "read-all") return { contents: "read" };
    return perms && typeof perms === "object" ? perms : {};
}

function hasStep(job: Json, test: (s: Json) => boolean): boolean {
    return stepsOf(job).some(test);
}

const usesAction = (name: string) => (s: Json) => typeof s.uses === "string" && s.uses.startsWith(`${name}@`);

/**
 * Permissions are declared per workflow (top level: read the repository, nothing more) and widened
 * only per job: `id-token: write` where a job federates a Google identity, `pull-requests: write`
 * where it comments, and in a pull request's workflow nothing else that writes.
 */
export function permissionProblems(workflows: Workflows): string[] {
    const problems: string[] = [];
    for (const wf of Object.values(workflows)) {
        const top = wf.doc.permissions;
        if (!top || typeof top !== "object") {
            problems.push(`${wf.file}: declares no top-level permissions map (the default token may write)`);
        } else {
            for (const [scope, level] of Object.entries(top)) {
                if (!(scope === "contents" && level === "read")) problems.push(`${wf.file}: top-level permission ${scope}: ${level}; widen it per job`);
            }
        }
    }
    const pullRequestFiles = new Set(pullRequestJobs(workflows).map((r) => r.file));
    for (const file of Object.keys(workflows)) {
        for (const [jobId, job] of Object.entries<Json>(workflows[file].doc.jobs ?? {})) {
            const run: JobRun = { file, jobId, job, matrix: {} };
            const perms = permissionsOf(workflows, run);
            for (const [scope, level] of Object.entries(perms)) {
                if (level !== "write") continue;
                const at = `${file} ${jobId}`;
                if (scope === "id-token") {
                    if (!hasStep(job, usesAction("google-github-actions/auth"))) problems.push(`${at}: id-token: write without a workload identity federation step`);
                } else if (scope === "pull-requests") {
                    const comments =
                        hasStep(job, (s) => usesAction("pulumi/actions")(s) && (s.with?.["comment-on-pr"] === true || s.with?.["comment-on-pr"] === "true")) ||
                        hasStep(job, (s) => typeof s.run === "string" && /\bgh pr comment\b|\/issues\/comments\//.test(s.run));
                    if (!comments) problems.push(`${at}: pull-requests: write in a job that does not comment`);
                    if (!pullRequestFiles.has(file)) problems.push(`${at}: pull-requests: write outside the pull-request workflow`);
                } else {
                    problems.push(`${at}: ${scope}: write${pullRequestFiles.has(file) ? " in a workflow a pull request starts" : ""}; no job here needs it`);
                }
            }
        }
    }
    return problems;
}

export interface PinnedAction {
    version: string;
    commit: string;
    inputs: string[];
}

/** `uses:` lines of a workflow's text: the reference and the comment after it. */
export function usesLines(text: string): { line: number; ref: string; comment?: string }[] {
    const out: { line: number; ref: string; comment?: string }[] = [];
    text.split("\n").forEach((l, i) => {
        const m = /^\s*(?:-\s+)?uses:\s*(["']?)([^"'\s#]+)\1\s*(?:#\s*(.*?))?\s*$/.exec(l);
        if (m) out.push({ line: i + 1, ref: m[2], comment: m[3] });
    });
    return out;
}

/**
 * Every action or workflow from another repository is pinned by a full commit, with its release
 * in a trailing comment (`owner/repo@<40 hex> # vX.Y.Z`); with `table`, that commit and release
 * are the ones recorded for the action, and every `with:` key is an input of it.
 */
export function pinProblems(workflows: Workflows, table?: Record<string, PinnedAction>): string[] {
    const problems: string[] = [];
    for (const wf of Object.values(workflows)) {
        const uses = [
            ...Object.values<Json>(wf.doc.jobs ?? {}).flatMap((job) => [
                ...(typeof job.uses === "string" ? [{ uses: job.uses, with: job.with }] : []),
                ...stepsOf(job).filter((s) => typeof s.uses === "string").map((s) => ({ uses: s.uses as string, with: s.with })),
            ]),
        ];
        const lines = usesLines(wf.text);
        for (const u of uses) {
            if (u.uses.startsWith("./")) continue;
            const m = /^([\w.-]+\/[\w.-]+)(\/[\w./-]+)?@([0-9a-f]{40})$/.exec(u.uses);
            if (!m) {
                problems.push(`${wf.file}: ${u.uses} is not pinned by a full commit SHA`);
                continue;
            }
            const line = lines.find((l) => l.ref === u.uses);
            const version = line?.comment;
            if (!version || !/^v\d+\.\d+\.\d+$/.test(version)) {
                problems.push(`${wf.file}${line ? `:${line.line}` : ""}: ${u.uses} has no "# vX.Y.Z" comment naming its release`);
            }
            if (!table) continue;
            const pinned = table[m[1]];
            if (!pinned) {
                problems.push(`${wf.file}: ${m[1]} is not in test/workflows/pinned-actions.json`);
                continue;
            }
            if (m[3] !== pinned.commit || (version && version !== pinned.version)) {
                problems.push(`${wf.file}: ${u.uses} # ${version} is not ${m[1]}@${pinned.commit} # ${pinned.version}`);
            }
            for (const input of Object.keys(u.with ?? {})) {
                if (!pinned.inputs.includes(input)) problems.push(`${wf.file}: ${m[1]} has no input "${input}"`);
            }
        }
    }
    return problems;
}

/** The Pulumi runs of a job: each pulumi/actions step with a command, per matrix entry. */
export function pulumiCommands(run: JobRun): { command: string; stack: string }[] {
    return stepsOf(run.job)
        .filter((s) => usesAction("pulumi/actions")(s) && s.with?.command)
        .map((s) => ({ command: String(s.with.command), stack: String(expandMatrix(s.with["stack-name"], run.matrix)) }));
}

/**
 * Deploy credentials live in the deploy environments only: a job that reads one runs a Pulumi
 * command that writes, on `push`/`workflow_dispatch` only, in its stack's environment (`dev`,
 * `production`); every job that writes prod runs in `production`.
 */
export function deployEnvironmentProblems(workflows: Workflows, keyVariables: string[]): string[] {
    const problems: string[] = [];
    for (const file of Object.keys(workflows)) {
        const events = eventsOf(workflows[file].doc);
        for (const run of jobRuns(workflows, file).filter((r) => r.file === file)) {
            const at = where(run);
            const env = environmentOf(run);
            const commands = pulumiCommands(run);
            const writes = commands.filter((c) => WRITE_COMMANDS.includes(c.command));
            const deploySecrets = [
                ...new Set([
                    ...contextUse(run.job, "secrets").names.filter((n) => DEPLOY_SECRETS.includes(n)).map((n) => `secrets.${n}`),
                    ...contextUse(run.job, "vars").names.filter((n) => DEPLOY_VARS.includes(n)).map((n) => `vars.${n}`),
                    ...envNames(run.job).filter((n) => keyVariables.includes(n)),
                ]),
            ];
            if (deploySecrets.length > 0) {
                if (writes.length === 0) problems.push(`${at}: holds ${deploySecrets.join(", ")} but writes nothing (a preview or check needs no deploy secret)`);
                if (events.some((e) => !["push", "workflow_dispatch"].includes(e))) problems.push(`${at}: holds ${deploySecrets.join(", ")} in a workflow on ${events.join(", ")}`);
                if (!env || !Object.values(DEPLOY_ENVIRONMENTS).includes(env)) problems.push(`${at}: holds ${deploySecrets.join(", ")} outside the deploy environments (dev, production)`);
            }
            for (const w of writes) {
                const expected = DEPLOY_ENVIRONMENTS[w.stack];
                if (expected === undefined) problems.push(`${at}: pulumi ${w.command} of an unknown stack ${w.stack}`);
                else if (env !== expected) problems.push(`${at}: pulumi ${w.command} of ${w.stack} runs in ${env ?? "no environment"}, not ${expected}`);
            }
        }
    }
    return problems;
}

/** A URN glob of `--target`/`--exclude` as the engine (v3.248) reads it: `**` any text, `*` any text but ":". */
export function urnGlob(glob: string): RegExp {
    const quote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`^${glob.split("**").map((part) => part.split("*").map(quote).join("[^:]*")).join(".*")}$`);
}

/** The globs of a pulumi/actions `exclude` input (one per line). */
export function excludeGlobs(input: unknown): RegExp[] {
    return String(input ?? "").split("\n").map((l) => l.trim()).filter(Boolean).map(urnGlob);
}
