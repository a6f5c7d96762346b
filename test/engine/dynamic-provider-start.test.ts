// The language host's runtime option startDynamicProviders (scripts/engine/language-host.js), on the
// real engine: with it the engine starts the dynamic-provider plugin as the program starts, which shows
// as the package's default provider in state even for a program that registers nothing; without it,
// no plugin and no provider. A program with dynamic resources still has exactly one such provider (the
// plugin started early is the one its resources use), and its no-op `up` changes nothing. The start
// Invoke's refusal never reaches the output.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { engineTestsDisabled, findEngine, PulumiStack, REPO_ROOT } from "../support/engine";

const DYNAMIC_PROVIDER = "pulumi:providers:pulumi-nodejs";

const EMPTY_PROGRAM = "export const ok = true;\n";
const DYNAMIC_PROGRAM = `import * as pulumi from "@pulumi/pulumi";
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: any) { return { id: "one", outs: inputs }; },
    async diff(_id: string, olds: any, news: any) { return { changes: olds.value !== news.value }; },
};
export const value = new pulumi.dynamic.Resource(provider, "one", { value: 1 }).id;
`;

describe("engine: the dynamic-provider plugin started with the program (startDynamicProviders) @engine", function () {
    this.timeout(5 * 60 * 1000);
    let scratch: string;

    before(function () {
        if (engineTestsDisabled()) return this.skip();
        findEngine();
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-dynamic-provider-start-"));
    });
    after(() => {
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    /** A project of `program` with or without the option, on a backend of its own; its state's resource types after `up`. */
    async function typesAfterUp(name: string, program: string, startDynamicProviders: boolean, noop = false): Promise<string[]> {
        const dir = path.join(scratch, name);
        fs.mkdirSync(dir);
        const options = { typescript: true, ...(startDynamicProviders ? { startDynamicProviders: true } : {}) };
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), YAML.stringify({ name, runtime: { name: "nodejs", options }, main: "index.ts" }));
        fs.writeFileSync(path.join(dir, "index.ts"), program);
        for (const shared of ["package.json", "tsconfig.json", "node_modules"]) fs.symlinkSync(path.join(REPO_ROOT, shared), path.join(dir, shared));
        const stack = new PulumiStack({ backendDir: path.join(dir, ".backend"), transpileOnly: true, projectRoot: dir, projectDir: dir, stack: "test" });
        await stack.ensure();
        const runs = [await stack.up()];
        if (noop) {
            const again = await stack.up(["--expect-no-changes"], { allowFailure: true });
            expect(again.code, again.stdout.slice(-2000)).to.equal(0);
            runs.push(again);
        }
        // The plugin's answer to the start Invoke ("unknown function") is dropped, never shown.
        for (const run of runs) expect(run.stdout + run.stderr).not.to.match(/startProvider|unknown function/);
        const types = (await stack.resources()).map((r) => r.type);
        await stack.destroy();
        return types;
    }

    it("starts the plugin for a program that opts in, even before (or without) any dynamic resource", async () => {
        expect(await typesAfterUp("with-option", EMPTY_PROGRAM, true)).to.include(DYNAMIC_PROVIDER);
    });

    it("starts nothing for a program that does not opt in", async () => {
        expect(await typesAfterUp("without-option", EMPTY_PROGRAM, false)).not.to.include(DYNAMIC_PROVIDER);
    });

    it("gives the program's dynamic resources that same plugin: one provider, and a no-op up changes nothing", async () => {
        const types = await typesAfterUp("dynamic", DYNAMIC_PROGRAM, true, true);
        expect(types.filter((t) => t === DYNAMIC_PROVIDER)).to.have.length(1);
        expect(types).to.include("pulumi-nodejs:dynamic:Resource");
    });
});
