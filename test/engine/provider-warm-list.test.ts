// scripts/engine/provider-warm-list.js: the runner records the bundled providers the program made, and
// the next provider process compiles exactly those into the shims' registry before its first call.
// Each half runs in a fresh node, as the engine starts them, with the cache in a temporary folder.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BUNDLED_PROVIDER_EXPORT, BUNDLED_PROVIDER_REGISTRY, bundledProvider, packBundle, serializedProviderText, WARM_LIST_RECORDER } from "../../components/services/bundled-provider";
import { REPO_ROOT } from "../support/engine";

const WARM_LIST = path.join(REPO_ROOT, "scripts", "engine", "provider-warm-list.js");
const warmList = require(WARM_LIST) as {
    REGISTRY: string;
    RECORDER: symbol;
    EXPORT: string;
    listFile(programDir: string, env: Record<string, string | undefined>): string;
    pruneLists(dir: string, now: number): void;
    PRUNE_AFTER_MS: number;
};

/** Runs `body` in a fresh node in `cwd` with the cache at `cache`; stdout's last line parsed as JSON. */
function runNode(body: string, cwd: string, cache: string, env: Record<string, string> = {}): any {
    const res = childProcess.spawnSync(process.execPath, ["-e", body], { cwd, encoding: "utf8", timeout: 60000, env: { ...process.env, COREOS_CLUSTER_CACHE: cache, ...env } });
    if (res.status !== 0) throw new Error(`node exited ${res.status}:\n${res.stderr}`);
    return JSON.parse(res.stdout.trim().split("\n").pop()!);
}

describe("engine plugins: bundled providers compiled ahead by the provider process (scripts/engine/provider-warm-list.js)", function () {
    this.timeout(120000);
    let tmp: string;
    let programDir: string;
    let cache: string;

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-warm-list-"));
        programDir = path.join(tmp, "program");
        cache = path.join(tmp, "cache");
        fs.mkdirSync(programDir);
        // The provider process resolves require-from-string from the program, as the shim does.
        fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(programDir, "node_modules"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("shares its names with bundled-provider.ts: the registry, the recorder and the export", () => {
        expect(warmList.REGISTRY).to.equal(BUNDLED_PROVIDER_REGISTRY);
        expect(warmList.RECORDER).to.equal(WARM_LIST_RECORDER);
        expect(warmList.EXPORT).to.equal(BUNDLED_PROVIDER_EXPORT);
    });

    it("bundledProvider reports each provider it makes to a recording runner, with the packed text its shim carries", () => {
        const recorded: Array<[string, string]> = [];
        const slot = globalThis as unknown as Record<symbol, unknown>;
        slot[WARM_LIST_RECORDER] = { record: (key: string, packed: string) => recorded.push([key, packed]) };
        try {
            const operations = bundledProvider(require.resolve("../../components/local/local-network-provider"));
            expect(recorded).to.have.length(1);
            const [key, packed] = recorded[0];
            expect(key).to.match(/^local-network-provider\.ts#[0-9a-f]{16}$/);
            const shim = serializedProviderText(operations)!;
            expect(shim).to.include(JSON.stringify(key)).and.include(JSON.stringify(packed));
        } finally {
            delete slot[WARM_LIST_RECORDER];
        }
        // Outside a recording runner (here, tests): nothing is recorded, nothing is written.
        bundledProvider(require.resolve("../../components/local/local-network-provider"));
        expect(recorded).to.have.length(1);
    });

    it("writes the run's list at exit, and the next provider process compiles exactly the bundles whose text matches their key", () => {
        const operations = bundledProvider(require.resolve("../../components/local/local-network-provider"));
        const shim = serializedProviderText(operations)!;
        const key = JSON.parse(/const key = (".*");/.exec(shim)![1]) as string;
        const packed = JSON.parse(/const brotli = (".*");/.exec(shim)![1]) as string;
        // The runner's half: a run that made this provider, and two entries no shim could ever name.
        runNode(
            `const w = require(${JSON.stringify(WARM_LIST)});
w.recordForThisRun(process.cwd());
const recorder = globalThis[w.RECORDER];
recorder.record(${JSON.stringify(key)}, ${JSON.stringify(packed)});
recorder.record("forged-provider.ts#${"0".repeat(16)}", ${JSON.stringify(packBundle('exports.provider = { create() { throw new Error("forged") } };'))});
recorder.record("damaged-provider.ts#${"1".repeat(16)}", "not base64 deflate");
console.log("null");`,
            programDir,
            cache,
        );
        const list = JSON.parse(fs.readFileSync(warmList.listFile(fs.realpathSync(programDir), { COREOS_CLUSTER_CACHE: cache }), "utf8"));
        expect(list.map((e: { key: string }) => e.key)).to.have.members([key, `forged-provider.ts#${"0".repeat(16)}`, `damaged-provider.ts#${"1".repeat(16)}`]);
        // The provider process's half, then the shim as the SDK loads it: it finds its bundle compiled.
        const result = runNode(
            `const w = require(${JSON.stringify(WARM_LIST)});
w.warmListedProviders(process.cwd()).then(async (warmed) => {
    const registry = globalThis[w.REGISTRY];
    const before = registry.get(${JSON.stringify(key)});
    const shim = require(require.resolve("require-from-string", { paths: [process.cwd()] }))(${JSON.stringify(shim)}, "shim.js").handler();
    const checked = await shim.check({}, { name: "n", cidr: "10.9.0.0/24" });
    console.log(JSON.stringify({ warmed, sameModule: registry.get(${JSON.stringify(key)}) === before, hasCreate: typeof before?.create, checked: checked !== undefined }));
});`,
            programDir,
            cache,
        );
        expect(result).to.deep.equal({ warmed: [key], sameModule: true, hasCreate: "function", checked: true });
    });

    it("does nothing when COREOS_CLUSTER_WARM_PROVIDERS=0, nor without a list", () => {
        const body = `const w = require(${JSON.stringify(WARM_LIST)});
w.recordForThisRun(process.cwd());
globalThis[w.RECORDER]?.record("x-provider.ts#${"2".repeat(16)}", "");
w.warmListedProviders(process.cwd()).then((warmed) => console.log(JSON.stringify({ recorder: globalThis[w.RECORDER] !== undefined, warmed })));`;
        expect(runNode(body, programDir, cache, { COREOS_CLUSTER_WARM_PROVIDERS: "0" })).to.deep.equal({ recorder: false, warmed: [] });
        expect(fs.existsSync(warmList.listFile(fs.realpathSync(programDir), { COREOS_CLUSTER_CACHE: cache }))).to.equal(false);
        expect(runNode(body, programDir, cache)).to.deep.equal({ recorder: true, warmed: [] });
    });

    it("removes the lists no provider process read for 3 days when it writes one, and keeps the others", () => {
        const dir = path.join(cache, "provider-warm");
        fs.mkdirSync(dir, { recursive: true });
        const now = Date.now();
        const age = (name: string, ms: number) => {
            fs.writeFileSync(path.join(dir, name), "[]");
            fs.utimesSync(path.join(dir, name), new Date(now - ms), new Date(now - ms));
        };
        age("stale.json", warmList.PRUNE_AFTER_MS + 60000);
        age("stale.json.1.tmp", warmList.PRUNE_AFTER_MS + 60000);
        age("recent.json", warmList.PRUNE_AFTER_MS - 60000);
        age("not-a-list.txt", warmList.PRUNE_AFTER_MS + 60000);
        warmList.pruneLists(dir, now);
        expect(fs.readdirSync(dir).sort()).to.deep.equal(["not-a-list.txt", "recent.json"]);
    });
});
