// The real Pulumi engine for tests, benchmarks and reliability runs: finds (never builds) the
// CLI, runs `pulumi` against a DIY backend folder with the offline settings of scripts/engine-env.sh,
// and copies the project into a scratch folder so a run never touches the repo's own stack files,
// backend (.pulumi-local) or machines (.local-machines).
//
//   const engine = findEngine();                      // throws EngineMissingError with the fix
//   const project = makeProjectCopy({ stackConfig: { local: rewrite } });
//   const stack = new PulumiStack({ engine, backendDir, projectDir: project.dir, stack: "local" });
//   await stack.ensure(); await stack.up(); const outs = await stack.outputs();
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
/** Same default as scripts/engine-env.sh: local stacks only, never a real secret. */
export const DEFAULT_LOCAL_PASSPHRASE = "coreos-cluster-local-only";
export const ENGINE_VERSION = "3.248.0";
export const SKIP_ENGINE_TESTS_ENV = "COREOS_CLUSTER_SKIP_ENGINE_TESTS";

export class EngineMissingError extends Error {
    constructor(looked: string[]) {
        super(
            `the Pulumi engine is not available (looked for ${looked.join(", ")}).\n` +
                `  Provide it with:  bash scripts/bootstrap-engine.sh   (prints the folder to put first on PATH; .ci/run does this)\n` +
                `  On a normal machine:  curl -fsSL https://get.pulumi.com | sh\n` +
                `  To run the other tests without it, set ${SKIP_ENGINE_TESTS_ENV}=1 (the engine tests are then reported as skipped).`,
        );
        this.name = "EngineMissingError";
    }
}

export interface Engine {
    /** Folder holding `pulumi` and the Node.js language/dynamic-provider plugins; goes first on PATH. */
    binDir: string;
    pulumi: string;
    source: "COREOS_CLUSTER_ENGINE_BIN" | "PATH" | "cache";
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

function cacheBinDir(): string {
    const cacheRoot = process.env.COREOS_CLUSTER_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "coreos-cluster");
    return path.join(cacheRoot, "engine", `v${process.env.PULUMI_VERSION ?? ENGINE_VERSION}`, "bin");
}

/** This checkout's engine folder: a link to the shared CLI and this checkout's own launchers. */
function checkoutBinDir(): string {
    return path.join(REPO_ROOT, ".engine", "bin");
}

/** A bin dir is usable when it has the CLI and a Node.js language plugin (the official bundle and ours both do). */
function usable(binDir: string): boolean {
    return isExecutable(path.join(binDir, "pulumi")) && isExecutable(path.join(binDir, "pulumi-language-nodejs"));
}

/**
 * Finds the engine without building it: $COREOS_CLUSTER_ENGINE_BIN, then a `pulumi` on PATH, then
 * the cache scripts/bootstrap-engine.sh fills (running that script when only its launchers are missing).
 */
export function findEngine(): Engine {
    const looked: string[] = [];
    const explicit = process.env.COREOS_CLUSTER_ENGINE_BIN;
    if (explicit) {
        if (usable(explicit)) return { binDir: explicit, pulumi: path.join(explicit, "pulumi"), source: "COREOS_CLUSTER_ENGINE_BIN" };
        looked.push(`$COREOS_CLUSTER_ENGINE_BIN=${explicit}`);
    }
    for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
        if (usable(dir)) return { binDir: dir, pulumi: path.join(dir, "pulumi"), source: "PATH" };
    }
    looked.push("pulumi + pulumi-language-nodejs on PATH");
    const cached = cacheBinDir();
    const own = checkoutBinDir();
    looked.push(`${own} (-> ${cached}/pulumi)`);
    if (isExecutable(path.join(cached, "pulumi"))) {
        if (!usable(own)) {
            // The CLI is cached; the script only links it and this checkout's launchers into .engine/bin.
            childProcess.execFileSync("bash", [path.join(REPO_ROOT, "scripts", "bootstrap-engine.sh")], { stdio: ["ignore", "ignore", "inherit"] });
        }
        if (usable(own)) return { binDir: own, pulumi: path.join(own, "pulumi"), source: "cache" };
    }
    throw new EngineMissingError(looked);
}

/** True when the engine tests were explicitly turned off; says so loudly on stderr. */
export function engineTestsDisabled(): boolean {
    if (process.env[SKIP_ENGINE_TESTS_ENV] !== "1") return false;
    const bar = "!".repeat(78);
    process.stderr.write(`\n${bar}\n!! ${SKIP_ENGINE_TESTS_ENV}=1: the Pulumi engine tests are SKIPPED, not passed.\n${bar}\n\n`);
    return true;
}

export interface PulumiEnvOptions {
    /** DIY backend folder (created when missing). */
    backendDir: string;
    /** Default: DEFAULT_LOCAL_PASSPHRASE (scratch backends; a developer's own passphrase is not used). */
    passphrase?: string;
    /** Default: <backendDir>/home, so the user's ~/.pulumi is never touched. */
    pulumiHome?: string;
    /** Skip ts-node's type check of the program (npm test type-checks it already). */
    transpileOnly?: boolean;
    /** Where FleetUnit states written before its provider was bundled load components/ from (default REPO_ROOT). */
    projectRoot?: string;
    env?: Record<string, string>;
}

/** The environment every pulumi command runs with (mirrors scripts/engine-env.sh). */
export function pulumiEnv(engine: Engine, opts: PulumiEnvOptions): NodeJS.ProcessEnv {
    const backendDir = path.resolve(opts.backendDir);
    const pulumiHome = opts.pulumiHome ?? path.join(backendDir, "home");
    fs.mkdirSync(pulumiHome, { recursive: true });
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: [engine.binDir, process.env.PATH ?? "/usr/bin:/bin"].join(path.delimiter),
        PULUMI_BACKEND_URL: `file://${backendDir}`,
        PULUMI_CONFIG_PASSPHRASE: opts.passphrase ?? DEFAULT_LOCAL_PASSPHRASE,
        PULUMI_HOME: pulumiHome,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        COREOS_CLUSTER_ROOT: opts.projectRoot ?? REPO_ROOT,
        ...(opts.transpileOnly ? { PULUMI_NODEJS_TRANSPILE_ONLY: "true" } : {}),
        ...(opts.env ?? {}),
    };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    delete env.PULUMI_ACCESS_TOKEN;
    return env;
}

export interface RunResult {
    command: string;
    args: string[];
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    durationMs: number;
}

export class PulumiCommandError extends Error {
    constructor(public readonly result: RunResult, why: string) {
        super(`${result.command} ${result.args.join(" ")} ${why}\n--- stdout (tail)\n${tail(result.stdout)}\n--- stderr (tail)\n${tail(result.stderr)}`);
        this.name = "PulumiCommandError";
    }
}

function tail(text: string, lines = 60): string {
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export interface RunOptions {
    /** Kill the command (its whole process group, by pid) after this long. Default: the stack's. */
    timeoutMs?: number;
    /** Resolve with a non-zero exit instead of rejecting. */
    allowFailure?: boolean;
}

export interface CommandOptions extends RunOptions {
    cwd: string;
    env: NodeJS.ProcessEnv;
    timeoutMs: number;
    verbose?: boolean;
}

/**
 * Runs a command (pulumi, or a script such as scripts/local.sh) in its own process group, so a
 * timeout stops it and the plugins it started, by that group's pid, and nothing else.
 */
export function runCommand(command: string, args: string[], opts: CommandOptions): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
            stdout += chunk;
            if (opts.verbose) process.stderr.write(chunk);
        });
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
            stderr += chunk;
            if (opts.verbose) process.stderr.write(chunk);
        });
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            try {
                if (child.pid) process.kill(-child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }, opts.timeoutMs);
        child.on("error", (err) => {
            clearTimeout(timer);
            reject(new Error(`could not start ${command}: ${err.message}`));
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const result: RunResult = { command, args, code, signal, stdout, stderr, durationMs: Date.now() - started };
            if (timedOut) reject(new PulumiCommandError(result, `timed out after ${opts.timeoutMs} ms`));
            else if (code !== 0 && !opts.allowFailure) reject(new PulumiCommandError(result, `exited with ${code ?? signal}`));
            else resolve(result);
        });
    });
}

/**
 * The environment for running this repo's scripts (scripts/local.sh) against a scratch copy: the
 * engine first on PATH, and no PULUMI_* setting of the caller's (their backend, passphrase or
 * home), so the script's own defaults apply inside the copy.
 */
export function scriptEnv(engine: Engine, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
        if (!key.startsWith("PULUMI_") && key !== "COREOS_CLUSTER_ROOT") env[key] = value;
    }
    env.PATH = [engine.binDir, process.env.PATH ?? "/usr/bin:/bin"].join(path.delimiter);
    return { ...env, ...extra };
}

export interface PulumiStackOptions extends PulumiEnvOptions {
    engine?: Engine;
    /** Folder holding Pulumi.yaml. */
    projectDir: string;
    stack: string;
    /** Default timeout of each command (default 10 minutes: a loaded machine compiles slowly). */
    timeoutMs?: number;
    /** Mirror every command's output to stderr as it runs (also: COREOS_CLUSTER_ENGINE_VERBOSE=1). */
    verbose?: boolean;
}

/** One resource of an exported deployment (`pulumi stack export`). */
export interface StateResource {
    urn: string;
    type: string;
    id?: string;
    inputs?: Record<string, any>;
    outputs?: Record<string, any>;
    parent?: string;
}

/** A stack of one project in one DIY backend; every method runs the real CLI. */
export class PulumiStack {
    readonly engine: Engine;
    readonly env: NodeJS.ProcessEnv;
    readonly projectDir: string;
    readonly stack: string;
    private readonly timeoutMs: number;
    private readonly verbose: boolean;

    constructor(opts: PulumiStackOptions) {
        this.engine = opts.engine ?? findEngine();
        this.env = pulumiEnv(this.engine, opts);
        this.projectDir = path.resolve(opts.projectDir);
        this.stack = opts.stack;
        this.timeoutMs = opts.timeoutMs ?? 10 * 60 * 1000;
        this.verbose = opts.verbose ?? process.env.COREOS_CLUSTER_ENGINE_VERBOSE === "1";
    }

    /** Runs `pulumi <args>` in the project folder; rejects on a non-zero exit unless allowFailure. */
    run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
        return runCommand(this.engine.pulumi, args, { cwd: this.projectDir, env: this.env, verbose: this.verbose, timeoutMs: this.timeoutMs, ...opts });
    }

    private common(): string[] {
        return ["--stack", this.stack, "--non-interactive", "--color", "never"];
    }

    /** Selects the stack, creating it when the backend has none of that name. */
    async ensure(): Promise<void> {
        const selected = await this.run(["stack", "select", this.stack, "--non-interactive"], { allowFailure: true });
        if (selected.code !== 0) await this.run(["stack", "init", this.stack, "--non-interactive"]);
    }

    up(extra: string[] = [], opts?: RunOptions): Promise<RunResult> {
        return this.run(["up", ...this.common(), "--yes", "--skip-preview", "--suppress-progress", ...extra], opts);
    }

    preview(extra: string[] = [], opts?: RunOptions): Promise<RunResult> {
        return this.run(["preview", ...this.common(), "--suppress-progress", ...extra], opts);
    }

    refresh(extra: string[] = [], opts?: RunOptions): Promise<RunResult> {
        return this.run(["refresh", ...this.common(), "--yes", "--skip-preview", "--suppress-progress", ...extra], opts);
    }

    destroy(extra: string[] = [], opts?: RunOptions): Promise<RunResult> {
        return this.run(["destroy", ...this.common(), "--yes", "--skip-preview", "--suppress-progress", ...extra], opts);
    }

    /** Removes the (empty) stack from the backend. */
    remove(opts?: RunOptions): Promise<RunResult> {
        return this.run(["stack", "rm", this.stack, "--yes", "--non-interactive"], opts);
    }

    /** Stack outputs, secrets in plaintext (test backends only). */
    async outputs(): Promise<Record<string, any>> {
        const result = await this.run(["stack", "output", "--stack", this.stack, "--json", "--show-secrets", "--non-interactive"]);
        return JSON.parse(result.stdout);
    }

    /** The deployment as `pulumi stack export` writes it. */
    async exportState(): Promise<{ resources?: StateResource[] } & Record<string, any>> {
        const result = await this.run(["stack", "export", "--stack", this.stack, "--non-interactive"]);
        return JSON.parse(result.stdout).deployment ?? {};
    }

    async resources(): Promise<StateResource[]> {
        return (await this.exportState()).resources ?? [];
    }
}

/** The last JSON document of a `--json` run's stdout (the CLI may print text before it). */
export function parseJsonOutput(stdout: string): any {
    const start = stdout.indexOf("{");
    if (start < 0) throw new Error(`no JSON in pulumi output:\n${tail(stdout)}`);
    return JSON.parse(stdout.slice(start));
}

export interface ProjectCopyOptions {
    /** Source project (default REPO_ROOT). */
    source?: string;
    /** Scratch parent folder (default a new one under the OS temp dir). */
    into?: string;
    /** Per stack name: rewrites the raw Pulumi.<stack>.yaml document (parsed with the yaml lib) before writing it. */
    stackConfig?: Record<string, (doc: Record<string, any>) => Record<string, any>>;
    /** Folders of the source copied as real files (e.g. "examples/app-stack"), so their stack files are private too. */
    copyDirs?: string[];
}

export interface ProjectCopy {
    dir: string;
    cleanup(): void;
}

/** Entries never shared with a copy: state, machines, build output, other stacks' files. */
const NOT_SHARED = new Set([".git", ".pulumi-local", ".local-machines", "bin", "render-out", "examples"]);

/**
 * A scratch project: every top-level entry of the source is symlinked (the program and node_modules
 * load from the repo), except the stack files, which are copied without their encryptionsalt (a fresh
 * backend writes its own into them), and the folders named in copyDirs.
 */
export function makeProjectCopy(opts: ProjectCopyOptions = {}): ProjectCopy {
    const source = path.resolve(opts.source ?? REPO_ROOT);
    const dir = fs.mkdtempSync(path.join(opts.into ?? os.tmpdir(), "coreos-engine-project-"));
    for (const entry of fs.readdirSync(source)) {
        if (NOT_SHARED.has(entry)) continue;
        const from = path.join(source, entry);
        const stackFile = /^Pulumi\.(.+)\.ya?ml$/.exec(entry);
        if (stackFile) {
            const rewrite = opts.stackConfig?.[stackFile[1]];
            const text = fs.readFileSync(from, "utf8");
            // A fresh backend makes its own salt: one copied from the repo may belong to another passphrase.
            const { encryptionsalt: _salt, ...doc } = (YAML.parse(text) ?? {}) as Record<string, any>;
            fs.writeFileSync(path.join(dir, entry), YAML.stringify(rewrite ? rewrite(doc) : doc));
        } else {
            fs.symlinkSync(from, path.join(dir, entry));
        }
    }
    for (const sub of opts.copyDirs ?? []) {
        fs.cpSync(path.join(source, sub), path.join(dir, sub), { recursive: true, dereference: false });
        for (const entry of fs.readdirSync(path.join(dir, sub))) {
            if (/^Pulumi\.(.+)\.ya?ml$/.test(entry)) rewriteStackFile(path.join(dir, sub, entry), ({ encryptionsalt: _salt, ...doc }) => doc);
        }
    }
    return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh deployer key in `dir` (ssh-keygen, as scripts/local.sh makes it), as the environment the
 * local stack's sshTunnel.privateKeyEnv names.
 */
export function deployerKeyEnv(dir: string): Record<string, string> {
    const file = path.join(dir, "deployer-test-key");
    if (!fs.existsSync(file)) childProcess.execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "coreos-cluster-test-deployer", "-f", file]);
    return { COREOS_LOCAL_SSH_KEY: fs.readFileSync(file, "utf8") };
}

/** Deep-replaces a string prefix in every string of a YAML document (e.g. 127.0.10. -> 127.0.11.). */
export function replaceInStrings<T>(value: T, from: string, to: string): T {
    if (typeof value === "string") return value.split(from).join(to) as unknown as T;
    if (Array.isArray(value)) return value.map((v) => replaceInStrings(v, from, to)) as unknown as T;
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceInStrings(v, from, to)])) as T;
    }
    return value;
}

/** Rewrites one stack file in place through the yaml lib; its encryptionsalt stays unless `rewrite` drops it. */
export function rewriteStackFile(file: string, rewrite: (doc: Record<string, any>) => Record<string, any>): void {
    const doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, any>;
    fs.writeFileSync(file, YAML.stringify(rewrite(doc)));
}
