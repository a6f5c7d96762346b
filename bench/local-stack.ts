// Local stack on the real Pulumi engine: `pulumi up` from nothing to a healthy 3-member cluster
// with worker proxies and service keys seeded, a no-op `pulumi up`, and `pulumi destroy`. Runs on a
// scratch copy of the project (test/support/engine.ts: fresh DIY backend in a temp dir, the offline
// settings of scripts/engine-env.sh) with its VPC moved from 10.213.10.0/24 to 10.213.12.0/24 and the
// cluster renamed, so it never meets a running `local` stack; it checks the machines from inside their
// namespaces (the root namespace, where the deployer stands, cannot reach their etcd). Baselines from the same run: the targets, the same 3 etcd members
// started directly by the test helper, and the engine's own cost on an empty TypeScript program.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { deployerKeyEnv, findEngine, makeProjectCopy, PulumiStack, replaceInStrings, StateResource } from "../test/support/engine";
import { namespaceName } from "../components/local/vpc/addressing";
import { namespaces } from "../components/local/vpc/netns";
import { execInNamespace, httpGetInNamespace, ProbeTls } from "../components/local/vpc/spawn";
import { etcdctlTlsFlags } from "../test/support/engine-tls";
import { requireEtcdBinaries, startEtcdCluster } from "../test/support/etcd-cluster";
import { Benchmark, errorMessage, figure, Figure, median, medianIntervalText, round, sleep, timed } from "./support";

const STACK_RANGE = "10.213.10.";
const BENCH_RANGE = "10.213.12.";
const BENCH_CLUSTER = "blocal";
const DIRECT_START_ADDRESS = "127.0.12.40";
const UP_TARGET_MS = 30_000;
const NOOP_TARGET_MS = 10_000;
/**
 * No-op ups, each paired with the empty program's no-op just before it: one pair moved by 0.25x
 * between runs on this machine, so the figure is the median over the pairs of each pair's ratio.
 * Nine pairs: with five, the median's interval was the whole spread (1.48-1.86x in one run).
 */
const NOOP_PAIRS = 9;
/**
 * One pair first, not counted, as the other benchmarks warm up: the first no-op after the first up
 * was the slowest pair of every run (1.51-1.73x against medians of 1.50-1.54x). It is not the
 * cluster's boot: the machine was quiet within a second of the cluster's verification (measured
 * once through /proc/stat).
 */
const NOOP_WARM_UP_PAIRS = 1;
/** The goals (issue 25): a no-op up within 1.5x an empty program's, a destroy within 1.2x stopping the members directly. */
const NOOP_TO_EMPTY_GOAL = 1.5;
const DESTROY_TO_DIRECT_STOP_GOAL = 1.2;


/** A few tries: a loaded machine answers slowly, and a slow answer is not what is being verified. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
        if (await check()) return true;
        await sleep(2000);
    }
    return false;
}

/** A GET from inside a machine's namespace, presenting that machine's own certificate files (etcd answers only mutual TLS). */
async function answers200(namespace: string, url: string, tls?: ProbeTls): Promise<boolean> {
    return (await httpGetInNamespace(namespace, url, 5000, tls))?.status === 200;
}

/** Independent of the code under test: every member healthy, every proxy answering, every service key present. */
async function verifyCluster(stack: PulumiStack, config: Record<string, any>, credentialsDir: string): Promise<Record<string, unknown>> {
    const outputs = await stack.outputs();
    const memberUrls: string[] = outputs.etcdClientUrls ?? [];
    const memberNs: string[] = (outputs.etcdMemberNames ?? []).map(namespaceName);
    const resources: StateResource[] = await stack.resources();
    const proxyMachines = resources.filter((r) => r.outputs?.mode === "proxy");
    const proxyUrls = proxyMachines.map((r) => String(r.outputs!.clientUrl));
    const memberMachines = resources.filter((r) => r.outputs?.mode === "member");
    const probeOf = (url: string) => memberMachines.find((r) => r.outputs!.clientUrl === url)?.outputs!.probeTls as ProbeTls | undefined;
    const members = await Promise.all(memberUrls.map((u, i) => eventually(() => answers200(memberNs[i], `${u}/health`, probeOf(u)))));
    const proxies = await Promise.all(proxyMachines.map((r) => eventually(() => answers200(String(r.outputs!.namespace), `${r.outputs!.clientUrl}/v2/keys/?quorum=false`, r.outputs!.probeTls))));
    const services: Array<{ hosts: string[]; host_port?: number }> = config["coreos-cluster:services"] ?? [];
    const expectedKeys = services.reduce((n, s) => n + 1 + s.hosts.length + (s.host_port === undefined ? 0 : 1), 0);
    // As another stack reads the cluster: the consumer identity (a secret output), written to private files.
    const count = await execInNamespace(memberNs[0], "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...etcdctlTlsFlags(outputs, credentialsDir), "--endpoints", memberUrls.join(","), "get", "--prefix", "--keys-only", "-w", "json", `${outputs.servicesPrefix ?? "/services"}/`], 30000);
    const keys: number = count.code === 0 ? (JSON.parse(count.stdout).count ?? 0) : -1;
    const problems = [
        ...(memberUrls.length !== 3 || members.some((ok) => !ok) ? [`members healthy: ${members.filter(Boolean).length} of ${memberUrls.length} (expected 3)`] : []),
        ...(proxyUrls.length === 0 || proxies.some((ok) => !ok) ? [`proxies answering: ${proxies.filter(Boolean).length} of ${proxyUrls.length}`] : []),
        ...(keys !== expectedKeys ? [`service keys: ${keys}, expected ${expectedKeys}`] : []),
    ];
    if (problems.length > 0) throw new Error(`the local stack is not what up promised: ${problems.join("; ")}`);
    return { members: memberUrls, proxies: proxyUrls, serviceKeys: keys };
}

/** A one-line TypeScript program on the same engine and language host: what any `pulumi up` costs here. */
function emptyProject(into: string, repoRoot: string): string {
    const dir = fs.mkdtempSync(path.join(into, "empty-project-"));
    const project = YAML.parse(fs.readFileSync(path.join(repoRoot, "Pulumi.yaml"), "utf8")) as { runtime: string | { name: string; options?: Record<string, unknown> } };
    const declared = typeof project.runtime === "string" ? { name: project.runtime } : project.runtime;
    // The same runtime, but an empty program has no dynamic resource: it does not start their plugin.
    const { startDynamicProviders: _unused, ...options } = declared.options ?? {};
    const runtime = { ...declared, options };
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ name: "bench-empty", runtime, description: "engine floor for the benchmarks" }));
    fs.writeFileSync(path.join(dir, "index.ts"), "export const ok = true;\n");
    for (const shared of ["package.json", "tsconfig.json", "node_modules"]) fs.symlinkSync(path.join(repoRoot, shared), path.join(dir, shared));
    return dir;
}

export const localStack: Benchmark = {
    name: "local-stack",
    title: "Local stack on the real Pulumi engine: first up, no-op up, destroy",
    async run(ctx) {
        let engine: ReturnType<typeof findEngine>;
        try {
            engine = findEngine();
            requireEtcdBinaries();
        } catch (err) {
            return { status: `skipped: ${errorMessage(err).split("\n")[0]}`, figures: [] };
        }
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "bench-local-stack-"));
        let stack: PulumiStack | undefined;
        let deployed = false;
        try {
            const backendDir = path.join(scratch, "backend");
            fs.mkdirSync(backendDir);
            const toBench = (doc: Record<string, any>) => {
                const moved = replaceInStrings(doc, STACK_RANGE, BENCH_RANGE);
                return { ...moved, config: { ...moved.config, "coreos-cluster:clusterName": BENCH_CLUSTER } };
            };
            const project = makeProjectCopy({ into: scratch, stackConfig: { local: toBench } });
            const stackText = fs.readFileSync(path.join(project.dir, "Pulumi.local.yaml"), "utf8");
            if (stackText.includes(STACK_RANGE)) throw new Error(`the scratch stack file still names ${STACK_RANGE}x addresses`);
            const config = (YAML.parse(stackText) as { config: Record<string, any> }).config;
            const common = { engine, backendDir, transpileOnly: true, projectRoot: project.dir };
            stack = new PulumiStack({ ...common, projectDir: project.dir, stack: "local", env: deployerKeyEnv(scratch) });
            const floor = new PulumiStack({ ...common, projectDir: emptyProject(scratch, ctx.repoRoot), stack: "floor" });
            ctx.log(`engine ${engine.pulumi}; stack config at ${config["coreos-cluster:localFirstAddress"]}`);
            await stack.ensure();
            ctx.log("pulumi up from nothing");
            deployed = true;
            const up = await stack.up();
            const verified = await verifyCluster(stack, config, scratch);
            ctx.log(`no-op pulumi up, ${NOOP_WARM_UP_PAIRS} + ${NOOP_PAIRS} times, each after the empty program's (the first ${NOOP_WARM_UP_PAIRS} not counted)`);
            await floor.ensure();
            await floor.up();
            const pairs: Array<{ emptyMs: number; noopMs: number }> = [];
            const warmUpPairs: typeof pairs = [];
            for (let i = 0; i < NOOP_WARM_UP_PAIRS + NOOP_PAIRS; i++) {
                const emptyMs = (await floor.up(["--expect-no-changes"])).durationMs;
                (i < NOOP_WARM_UP_PAIRS ? warmUpPairs : pairs).push({ emptyMs, noopMs: (await stack.up(["--expect-no-changes"])).durationMs });
            }
            const noop = { durationMs: median(pairs.map((p) => p.noopMs)) };
            const floorNoop = { durationMs: median(pairs.map((p) => p.emptyMs)) };
            const noopRatios = pairs.map((p) => p.noopMs / p.emptyMs);
            ctx.log("pulumi destroy");
            const destroy = await stack.destroy();
            deployed = false;
            const left = namespaces().filter((n) => n.startsWith(`ccl-${BENCH_CLUSTER}-`));
            if (left.length > 0) throw new Error(`namespaces still there after destroy: ${left.join(", ")}`);

            ctx.log("baselines: 3 etcd members started directly; the engine on an empty program");
            const direct = await timed(() => startEtcdCluster({ size: 3, firstAddress: DIRECT_START_ADDRESS }));
            const directStop = await timed(() => direct.result.stop());
            const floorDestroy = await floor.destroy();

            const figures: Figure[] = [
                figure({ id: "first-up-vs-target", measured: "pulumi up from nothing to a healthy 3-member cluster, 2 proxies, service keys seeded", value: up.durationMs, unit: "ms", baseline: "target", baselineValue: UP_TARGET_MS, target: { text: "first up < 30 s", pass: up.durationMs < UP_TARGET_MS } }),
                figure({ id: "first-up-vs-direct-start", measured: "pulumi up from nothing (as above)", value: up.durationMs, unit: "ms", baseline: "the same 3 etcd members started directly by test/support/etcd-cluster.ts (no proxies, no keys)", baselineValue: direct.ms }),
                figure({ id: "noop-up-vs-target", measured: `no-op pulumi up (--expect-no-changes), median of ${NOOP_PAIRS}`, value: noop.durationMs, unit: "ms", baseline: "target", baselineValue: NOOP_TARGET_MS, target: { text: "no-op up < 10 s", pass: noop.durationMs < NOOP_TARGET_MS } }),
                figure({
                    id: "noop-up-vs-empty-program",
                    measured: "no-op pulumi up (as above)",
                    value: noop.durationMs,
                    unit: "ms",
                    baseline: `no-op pulumi up of a one-line TypeScript program, same engine and language host, run just before each of the ${NOOP_PAIRS} (median; after ${NOOP_WARM_UP_PAIRS} pair not counted)`,
                    baselineValue: floorNoop.durationMs,
                    ratio: median(noopRatios),
                    target: { text: `no-op up <= ${NOOP_TO_EMPTY_GOAL}x an empty program`, pass: median(noopRatios) <= NOOP_TO_EMPTY_GOAL },
                    note: `ratio: the median of each pair's ratio (${noopRatios.map((r) => round(r, 2)).join(", ")}); ${medianIntervalText(noopRatios)}`,
                }),
                figure({ id: "destroy-vs-empty-program", measured: "pulumi destroy of the local stack", value: destroy.durationMs, unit: "ms", baseline: "pulumi destroy of the one-line program's stack", baselineValue: floorDestroy.durationMs }),
                figure({ id: "destroy-vs-direct-stop", measured: "pulumi destroy of the local stack", value: destroy.durationMs, unit: "ms", baseline: "stopping the directly started 3 members by pid and removing their data", baselineValue: directStop.ms, target: { text: `destroy <= ${DESTROY_TO_DIRECT_STOP_GOAL}x a direct stop`, pass: destroy.durationMs <= DESTROY_TO_DIRECT_STOP_GOAL * directStop.ms } }),
            ];
            const secs = (ms: number) => `${round(ms / 1000, 1)} s`;
            const summary =
                `First up ${secs(up.durationMs)} (target < 30 s: ${up.durationMs < UP_TARGET_MS ? "PASS" : "FAIL"}), no-op up ${secs(noop.durationMs)} ` +
                `(target < 10 s: ${noop.durationMs < NOOP_TARGET_MS ? "PASS" : "FAIL"}; the engine alone needs ${secs(floorNoop.durationMs)} for a one-line program), destroy ${secs(destroy.durationMs)}.`;
            return {
                status: "ok",
                figures,
                details: {
                    summary,
                    engine: engine.pulumi,
                    stackAddresses: `${BENCH_RANGE}x (localFirstAddress ${config["coreos-cluster:localFirstAddress"]})`,
                    verifiedAfterUp: verified,
                    commandsMs: { up: up.durationMs, noop: noop.durationMs, destroy: destroy.durationMs, directStart: round(direct.ms, 0), directStop: round(directStop.ms, 0), emptyNoop: floorNoop.durationMs, emptyDestroy: floorDestroy.durationMs },
                    noopPairsMs: pairs,
                    noopWarmUpPairsMs: warmUpPairs,
                },
            };
        } finally {
            if (deployed && stack) await stack.destroy([], { allowFailure: true }).catch((e) => ctx.log(`cleanup destroy failed: ${errorMessage(e)}`));
            fs.rmSync(scratch, { recursive: true, force: true });
        }
    },
};
