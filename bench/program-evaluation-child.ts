// One program evaluation in a fresh process (started by program-evaluation.ts with --expose-gc
// and --trace-gc): the program (index.ts) under the SDK's mocks, or the SDK floor (the same
// number of empty resources). Prints BENCH-START / BENCH-END around the measured window so the
// parent reads peak heap from the GC trace of that window only; the result goes to a JSON file.
import * as fs from "fs";
import * as path from "path";
import * as v8 from "v8";
import * as pulumi from "@pulumi/pulumi";
import { GceMocks, PROJECT, toPulumiConfig } from "../test/support/mocks";

interface ChildInput {
    mode: "program" | "floor";
    stack: string;
    /** Raw stack config (short keys); program mode. */
    config?: Record<string, unknown>;
    /** Floor mode: how many custom and component resources to register. */
    customs?: number;
    components?: number;
    resultFile: string;
}

const REPO_ROOT = path.resolve(__dirname, "..");
const PROGRAM = path.join(REPO_ROOT, "index.ts");
const SECRET_KEYS = ["etcdPassword", "sshTunnel"].map((k) => `${PROJECT}:${k}`);

/**
 * The project modules the program imports, loaded (and transpiled) before the clock starts: index.ts's
 * own imports, and the stack's platform module with everything it imports (platformFor requires it
 * lazily, so a GCE stack never loads the local platform and a local one never loads @pulumi/gcp).
 */
function preloadProgramImports(platform: unknown): string[] {
    const text = fs.readFileSync(PROGRAM, "utf8");
    const relative = [...text.matchAll(/from\s+"(\.\/[^"]+)"/g)].map((m) => m[1]);
    for (const spec of relative) require(path.join(REPO_ROOT, spec));
    const { platformFor } = require(path.join(REPO_ROOT, "components/platform")) as typeof import("../components/platform");
    platformFor({ platform } as Parameters<typeof platformFor>[0]);
    return [...relative, `platform ${String(platform)}`];
}

/** Mocks with GCE-shaped outputs that keep nothing: in a real run the engine, not the program, holds state. */
function leanMocks(counts: { custom: number; component: number }): pulumi.runtime.Mocks {
    const gce = new GceMocks();
    return {
        newResource(args) {
            if (args.custom) counts.custom++;
            else counts.component++;
            const result = gce.newResource(args);
            gce.resources.length = 0;
            return result;
        },
        call(args) {
            const result = gce.call(args);
            gce.calls.length = 0;
            return result;
        },
    };
}

class BenchComponent extends pulumi.ComponentResource {
    constructor(name: string) {
        super("bench:index:Component", name, {}, {});
        this.registerOutputs({});
    }
}

class BenchPlain extends pulumi.CustomResource {
    constructor(name: string, props: Record<string, unknown>) {
        super("bench:index:Plain", name, props, {});
    }
}

function registerFloor(customs: number, components: number): void {
    for (let i = 0; i < components; i++) new BenchComponent(`component-${i}`);
    for (let i = 0; i < customs; i++) new BenchPlain(`plain-${i}`, { index: i });
}

async function main(): Promise<void> {
    const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as ChildInput;
    const preloaded = input.mode === "program" ? preloadProgramImports(input.config?.platform ?? "gcp") : [];
    const counts = { custom: 0, component: 0 };
    await pulumi.runtime.setMocks(leanMocks(counts), PROJECT, input.stack, false);
    pulumi.runtime.setAllConfig(input.mode === "program" ? toPulumiConfig(input.config ?? {}) : {}, SECRET_KEYS);
    global.gc?.();
    const heapAtStart = v8.getHeapStatistics().used_heap_size;
    let sampledPeak = heapAtStart;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, v8.getHeapStatistics().used_heap_size)), 2);

    process.stdout.write("BENCH-START\n");
    const start = process.hrtime.bigint();
    await pulumi.runtime.runInPulumiStack(async () => {
        if (input.mode === "program") return require(PROGRAM);
        registerFloor(input.customs ?? 0, input.components ?? 0);
        return undefined;
    });
    // The language host waits for every outstanding registration before it reports the run done.
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
    const evaluationMs = Number(process.hrtime.bigint() - start) / 1e6;
    sampledPeak = Math.max(sampledPeak, v8.getHeapStatistics().used_heap_size);
    process.stdout.write("BENCH-END\n");
    clearInterval(sampler);
    global.gc?.();
    const retainedHeap = v8.getHeapStatistics().used_heap_size;

    fs.writeFileSync(
        input.resultFile,
        JSON.stringify({ evaluationMs, heapAtStart, retainedHeap, sampledPeakHeap: sampledPeak, customResources: counts.custom, componentResources: counts.component, preloaded }),
    );
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(1);
    },
);
