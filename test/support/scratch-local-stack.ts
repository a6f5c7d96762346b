// A local stack of its own for one engine test file: a scratch copy of the project (fresh backend),
// its VPC moved to the file's own /24 and its cluster renamed, so neither the developer's stack nor
// another engine test is touched; `npm run local` (scripts/local.sh) up in the test, destroy and a
// sweep of what is left in `after`. Also what those tests share: a GET through the load balancer and
// a bounded wait. Fails (does not skip) when the engine is missing, unless
// COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { namespaces, records, removeVpc } from "../../components/local/vpc/netns";
import { SUMMARY_TITLE } from "../../scripts/local/summary";
import { keepCalling } from "./keep-calling";
import { Engine, engineTestsDisabled, findEngine, makeProjectCopy, ProjectCopy, PulumiStack, replaceInStrings, runCommand, scriptEnv } from "./engine";

const STACK_RANGE = "10.213.10.";

export interface ScratchLocalStack {
    engine: Engine;
    scratch: string;
    project: ProjectCopy;
    cluster: PulumiStack;
    /** scripts/local.sh with the given arguments (none: up). */
    localSh(args: string[], allowFailure?: boolean): ReturnType<typeof runCommand>;
    /** `npm run local`; then the stack's outputs, with the deployer's key for later engine calls. */
    up(): Promise<Record<string, any>>;
    /** What the last up printed (its summary on stdout). */
    upRun?: Awaited<ReturnType<typeof runCommand>>;
}

/**
 * Registers the `before` and `after` hooks of a local stack named `cluster` on `range` (e.g.
 * "10.213.27.") in the calling describe block; returns its handle, filled in once `before` ran.
 */
export function scratchLocalStack(opts: { cluster: string; range: string; label: string }): ScratchLocalStack {
    const s = {} as ScratchLocalStack;
    let up = false;
    const ownNamespaces = () => namespaces().filter((n) => n.startsWith(`ccl-${opts.cluster}-`));
    const ownRecords = () => records().filter((r) => s.scratch !== undefined && r.dataDir.startsWith(s.scratch + path.sep));

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        s.engine = findEngine();
        expect(ownNamespaces(), `namespaces of the ${opts.cluster} cluster left by another run`).to.deep.equal([]);
        s.scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-test-"));
        s.project = makeProjectCopy({
            into: s.scratch,
            stackConfig: {
                local: (doc) => {
                    const moved = replaceInStrings(doc, STACK_RANGE, opts.range);
                    return { ...moved, config: { ...moved.config, "coreos-cluster:clusterName": opts.cluster } };
                },
            },
        });
        expect(fs.readFileSync(path.join(s.project.dir, "Pulumi.local.yaml"), "utf8")).to.not.contain(STACK_RANGE);
        s.cluster = new PulumiStack({ engine: s.engine, backendDir: path.join(s.project.dir, ".pulumi-local"), transpileOnly: true, projectRoot: s.project.dir, projectDir: s.project.dir, stack: "local" });
        s.localSh = (args, allowFailure = false) => {
            const env = scriptEnv(s.engine, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" });
            return runCommand("bash", [path.join(s.project.dir, "scripts", "local.sh"), ...args], { cwd: s.project.dir, env, timeoutMs: 10 * 60 * 1000, allowFailure });
        };
        s.up = async () => {
            const run = await s.localSh([]);
            up = true;
            s.upRun = run;
            s.cluster.env.COREOS_LOCAL_SSH_KEY = fs.readFileSync(path.join(s.project.dir, ".local-machines", "deployer", "id_ed25519"), "utf8");
            expect(run.stdout).to.contain(SUMMARY_TITLE);
            return s.cluster.outputs();
        };
    });

    after(async function () {
        if (!s.cluster) return;
        this.timeout(10 * 60 * 1000);
        const problems: string[] = [];
        if (up) {
            const run = await s.localSh(["destroy"], true);
            if (run.code !== 0) problems.push(`destroy exited ${run.code}: ${run.stderr.slice(-2000)}`);
        }
        for (const record of ownRecords()) problems.push(`VPC ${record.bridge} still existed after destroy; removed: ${(await removeVpc(record)).join(", ")}`);
        if (problems.length) process.stderr.write(`${opts.label} engine test cleanup:\n  ${problems.join("\n  ")}\n`);
        fs.rmSync(s.scratch, { recursive: true, force: true });
    });
    return s;
}

/** GET through the load balancer, from the root namespace (where a client outside the VPC stands). */
export function viaLoadBalancer(lb: string, pathname: string, host: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = http.get(`http://${lb}${pathname}`, { agent: false, timeout: 10000, headers: { host } }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("timeout", () => req.destroy(new Error(`GET ${pathname} via ${lb}: timeout`)));
        req.on("error", reject);
    });
}

/** Polls `probe` every 250 ms until it gives a value, or fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe().catch(() => undefined);
        if (value !== undefined && value !== false) return value as T;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Restarts the local supervisor logged for a machine process. */
export const restarts = (log: string): number => (log.match(/exited \(\d+\); restarting/g) ?? []).length;

/**
 * Calls `web` through the load balancer back to back until stopped (keep-calling.ts): an answer from a
 * web backend counts as ok, anything else as a failure; `onEach` runs after every call (e.g. to watch
 * the balancer).
 */
export function webThroughout(lb: string, onEach: () => void = () => undefined): ReturnType<typeof keepCalling> {
    return keepCalling(async () => {
        try {
            const res = await viaLoadBalancer(lb, "/x", "web.example.com");
            return res.status === 200 && res.body.startsWith("web on ") ? true : `${res.status} ${res.body.trim().slice(0, 200)}`;
        } finally {
            onEach();
        }
    });
}
