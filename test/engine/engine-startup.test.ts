// The start-up shortcuts of our engine plugins (scripts/engine/), each in a fresh node process as the
// engine starts them, without running the engine: deferred SDK modules still work when used
// (lazy-sdk-modules.js), the transpile cache returns exactly what ts-node produces and is really read
// (ts-transpile-cache.js), the dynamic-provider plugin answers with its port, the language host
// preloads both into the program runner except for ES module programs, and it reads the opt-in for
// starting the dynamic-provider plugin, whose Invoke reaches a monitor (test/engine/
// dynamic-provider-start.test.ts runs the whole of it, from Run, on the real engine).
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../support/engine";

const ENGINE_SCRIPTS = path.join(REPO_ROOT, "scripts", "engine");
const SDK_RUNNER_DIR = path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [REPO_ROOT] })), "cmd", "run");

/** Runs `body` (CommonJS) in a fresh node in the repo; returns its stdout parsed as JSON. */
function runNode(body: string, env: Record<string, string> = {}): any {
    const res = childProcess.spawnSync(process.execPath, ["-e", body], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60000, env: { ...process.env, ...env } });
    if (res.status !== 0) throw new Error(`node exited ${res.status}:\n${res.stderr}`);
    return JSON.parse(res.stdout.trim().split("\n").pop()!);
}

/** ts-node registered the way the SDK's runner registers it for this repo's tsconfig, transpile-only. */
function compileWithTsNode(file: string, cacheRoot: string | undefined): string {
    const install = cacheRoot ? `require(${JSON.stringify(path.join(ENGINE_SCRIPTS, "ts-transpile-cache.js"))}).install(${JSON.stringify(SDK_RUNNER_DIR)});` : "";
    return runNode(
        `${install}
const tsn = require(require.resolve("ts-node", { paths: [${JSON.stringify(SDK_RUNNER_DIR)}] }));
const service = tsn.create({ transpileOnly: true, project: "tsconfig.json", compilerOptions: { target: "ES2020", module: "commonjs", moduleResolution: "node", sourceMap: "true" } });
const file = ${JSON.stringify(file)};
console.log(JSON.stringify(service.compile(require("fs").readFileSync(file, "utf8"), file)));`,
        cacheRoot ? { COREOS_CLUSTER_CACHE: cacheRoot } : { COREOS_CLUSTER_TS_CACHE: "0" },
    );
}

describe("engine plugins: start-up shortcuts (scripts/engine/)", function () {
    this.timeout(120000);
    let tmp: string;

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-startup-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("defers @npmcli/arborist, normalize-package-data, fdir, the Automation API, the provider framework and (for providers) typescript, and each still works when used", () => {
        const result = runNode(`
require(${JSON.stringify(path.join(ENGINE_SCRIPTS, "lazy-sdk-modules.js"))}).install({ typescript: true });
const loaded = (re) => Object.keys(require.cache).some((f) => re.test(f));
const pulumi = require("@pulumi/pulumi");
const automationLoaded = () => loaded(/@pulumi\\/pulumi\\/automation\\/stack\\.js$/);
const providerLoaded = () => loaded(/@pulumi\\/pulumi\\/provider\\/server\\.js$/);
const atStart = { arborist: loaded(/@npmcli\\/arborist/), typescript: loaded(/node_modules\\/typescript\\//), automation: automationLoaded(), provider: providerLoaded(),
    normalizePackageData: loaded(/node_modules\\/normalize-package-data\\//), fdir: loaded(/node_modules\\/fdir\\//) };
// fdir as codePaths.js holds it (only a workspace reaches it through computeCodePaths).
const Module = require("module");
const codePaths = require.cache[require.resolve("@pulumi/pulumi/runtime/closure/codePaths.js")];
const fdirAsSdkSeesIt = Module._load("fdir", codePaths, false);
const crawled = new fdirAsSdkSeesIt.fdir().withBasePath().crawl(${JSON.stringify(ENGINE_SCRIPTS)}).sync().some((f) => f.endsWith("lazy-sdk-modules.js"));
(async () => {
    // The Automation API as a program would reach it: one of its functions, and its classes.
    const automation = { stackName: pulumi.automation.fullyQualifiedStackName("org", "project", "dev"), stackClass: typeof pulumi.automation.Stack === "function", loaded: automationLoaded() };
    const provider = { main: typeof pulumi.provider.main === "function", loaded: providerLoaded() };
    const captured = 41;
    const sf = await pulumi.runtime.serializeFunction(() => captured + 1);
    const codePaths = await pulumi.runtime.computeCodePaths({ extraIncludePackages: ["yaml"] });
    console.log(JSON.stringify({ atStart, automation, provider, serialized: sf.text.includes("41"), codePaths: [...codePaths.keys()].some((p) => p.includes("node_modules/yaml")),
        crawled, atEnd: { arborist: loaded(/@npmcli\\/arborist/), typescript: loaded(/node_modules\\/typescript\\//), normalizePackageData: loaded(/node_modules\\/normalize-package-data\\//), fdir: loaded(/node_modules\\/fdir\\//) } }));
})();`);
        expect(result).to.deep.equal({
            atStart: { arborist: false, typescript: false, automation: false, provider: false, normalizePackageData: false, fdir: false },
            automation: { stackName: "org/project/dev", stackClass: true, loaded: true },
            provider: { main: true, loaded: true },
            serialized: true,
            codePaths: true,
            crawled: true,
            atEnd: { arborist: true, typescript: true, normalizePackageData: true, fdir: true },
        });
    });

    it("returns exactly ts-node's transpile-only output, and reads it back from the cache on the next run", () => {
        const file = path.join(REPO_ROOT, "components", "local", "local-machine.ts");
        const cacheRoot = path.join(tmp, "cache");
        const plain = compileWithTsNode(file, undefined);
        const first = compileWithTsNode(file, cacheRoot);
        expect(first).to.equal(plain);
        const entries = fs.readdirSync(path.join(cacheRoot, "ts-transpile")).filter((f) => f.endsWith(".json"));
        expect(entries).to.have.length(1);
        expect(compileWithTsNode(file, cacheRoot)).to.equal(plain);

        // Proof that the second run read the entry: an entry changed behind the cache's back is what comes out.
        const entryFile = path.join(cacheRoot, "ts-transpile", entries[0]);
        const entry = JSON.parse(fs.readFileSync(entryFile, "utf8"));
        fs.writeFileSync(entryFile, JSON.stringify({ ...entry, outputText: entry.outputText.replace("LOCAL_MACHINE_PROVIDER_VERSION", "FROM_THE_CACHE") }));
        expect(compileWithTsNode(file, cacheRoot)).to.include("FROM_THE_CACHE");
    });

    it("keys the cache by the file's text: an edited file is transpiled again", () => {
        const cacheRoot = path.join(tmp, "cache");
        const file = path.join(tmp, "edited.ts");
        fs.writeFileSync(file, "export const answer: number = 1;\n");
        expect(compileWithTsNode(file, cacheRoot)).to.include("exports.answer = 1");
        fs.writeFileSync(file, "export const answer: number = 2;\n");
        expect(compileWithTsNode(file, cacheRoot)).to.include("exports.answer = 2");
        expect(fs.readdirSync(path.join(cacheRoot, "ts-transpile")).filter((f) => f.endsWith(".json"))).to.have.length(2);
    });

    it("starts the dynamic-provider plugin, which prints the port it serves on", async () => {
        const child = childProcess.spawn(path.join(ENGINE_SCRIPTS, "pulumi-resource-pulumi-nodejs"), ["127.0.0.1:1"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        try {
            const firstLine = await new Promise<string>((resolve, reject) => {
                let out = "";
                let err = "";
                child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
                    out += chunk;
                    if (out.includes("\n")) resolve(out.split("\n")[0]);
                });
                child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
                child.on("exit", (code) => reject(new Error(`exited ${code} before printing a port:\n${err}`)));
            });
            expect(firstLine).to.match(/^\d+$/);
        } finally {
            child.kill("SIGKILL");
        }
    });

    it("reads startDynamicProviders (a boolean true only), and sends one Invoke of the start token to the engine's monitor", async () => {
        const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [REPO_ROOT] }));
        const grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdkRoot] }));
        const resourceGrpc = require(path.join(sdkRoot, "proto", "resource_grpc_pb.js"));
        const host = require(path.join(ENGINE_SCRIPTS, "language-host.js"));
        const start = require(path.join(ENGINE_SCRIPTS, "start-dynamic-providers.js"));
        const invoked: string[] = [];
        let answered!: () => void;
        const answeredOnce = new Promise<void>((resolve) => (answered = resolve));
        const server = new grpc.Server();
        // As the engine answers when the plugin has no such function.
        server.addService(resourceGrpc.ResourceMonitorService, {
            invoke: (call: any, callback: (err: Error) => void) => {
                invoked.push(call.request.getTok());
                callback(new Error(`unknown function ${call.request.getTok()}`));
                answered();
            },
        });
        const port: number = await new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))));
        try {
            const options = (o: Record<string, unknown>) => host.programOptions({ getOptions: () => ({ toJavaScript: () => o }) });
            expect(options({ typescript: true, startDynamicProviders: true }).startDynamicProviders).to.equal(true);
            expect(options({ typescript: true }).startDynamicProviders, "off unless asked").to.equal(false);
            expect(options({ startDynamicProviders: "yes" }).startDynamicProviders, "only a boolean true").to.equal(false);
            start.startDynamicProviderPlugin(`127.0.0.1:${port}`, { grpc, sdkRoot });
            await answeredOnce;
            expect(invoked).to.deep.equal([start.START_PROVIDER_TOKEN]);
            expect(start.START_PROVIDER_TOKEN, "a function of the dynamic-provider package").to.match(/^pulumi-nodejs:/);
            // No monitor, or one that is gone: nothing thrown, nothing waited for.
            expect(() => start.startDynamicProviderPlugin("", { grpc, sdkRoot })).not.to.throw();
            expect(() => start.startDynamicProviderPlugin("127.0.0.1:1", { grpc, sdkRoot })).not.to.throw();
        } finally {
            server.forceShutdown();
        }
    });

    it("preloads the start-up shortcuts into the program runner, except for ES module programs", () => {
        fs.mkdirSync(path.join(tmp, "esm"));
        fs.writeFileSync(path.join(tmp, "esm", "package.json"), JSON.stringify({ type: "module" }));
        const result = runNode(`
const { runnerPreload } = require(${JSON.stringify(path.join(ENGINE_SCRIPTS, "language-host.js"))});
console.log(JSON.stringify({ commonjs: runnerPreload(${JSON.stringify(REPO_ROOT)}), esm: runnerPreload(${JSON.stringify(path.join(tmp, "esm"))}) }));`);
        expect(result).to.deep.equal({ commonjs: ["--require", path.join(ENGINE_SCRIPTS, "program-preload.js")], esm: [] });
    });

    it("shortens the SDK's debug text of a registration's answer to its URN, id and output names (the runner's preload)", () => {
        const body = `
require(${JSON.stringify(path.join(ENGINE_SCRIPTS, "program-preload.js"))});
const resourcePb = require("@pulumi/pulumi/proto/resource_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const response = new resourcePb.RegisterResourceResponse();
response.setUrn("urn:pulumi:dev::p::pulumi-nodejs:dynamic:Resource::vpc");
response.setId("vpc-id");
response.setObject(Struct.fromJavaScript({ __provider: "x".repeat(30000), name: "vpc", nested: { a: [1, 2] } }));
// As the SDK writes it into its debug line: a template literal.
const text = \`\${response}\`;
const roundTrip = resourcePb.RegisterResourceResponse.deserializeBinary(response.serializeBinary());
console.log(JSON.stringify({ text, length: text.length, urn: roundTrip.getUrn(), name: roundTrip.getObject().toJavaScript().name }));`;
        expect(runNode(body)).to.deep.equal({ text: "urn=urn:pulumi:dev::p::pulumi-nodejs:dynamic:Resource::vpc id=vpc-id outputs=[__provider, name, nested]", length: 103, urn: "urn:pulumi:dev::p::pulumi-nodejs:dynamic:Resource::vpc", name: "vpc" });
        const before = runNode(body, { COREOS_CLUSTER_SHORT_RESPONSE_TEXT: "0" });
        expect(before.length, "the message's own text: every value, the bundle included").to.be.above(30000);
    });
});
