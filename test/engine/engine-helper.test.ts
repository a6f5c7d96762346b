// The engine helper and scripts/engine-env.sh without running the engine: how the engine is found
// (and the message when it is not), the environment every pulumi command gets, and scratch copies
// of the project that never share state, machines or stack salts with the repo.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import {
    DEFAULT_LOCAL_PASSPHRASE,
    ENGINE_VERSION,
    EngineMissingError,
    findEngine,
    makeProjectCopy,
    pulumiEnv,
    REPO_ROOT,
    replaceInStrings,
    scriptEnv,
} from "../support/engine";

/** A folder with executables named like the engine's, each printing its name. */
function fakeEngineDir(root: string, names: string[]): string {
    const dir = path.join(root, "fake-bin");
    fs.mkdirSync(dir, { recursive: true });
    for (const name of names) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho ${name}\n`, { mode: 0o755 });
    return dir;
}

describe("engine helper (test/support/engine.ts) and scripts/engine-env.sh", function () {
    let tmp: string;
    const saved = { ...process.env };

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-engine-helper-"));
    });
    afterEach(() => {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("fails with the command that provides the engine when there is none", () => {
        process.env.PATH = fakeEngineDir(tmp, ["pulumi"]); // a CLI without the Node.js language plugin is not enough
        process.env.COREOS_CLUSTER_CACHE = path.join(tmp, "empty-cache");
        delete process.env.COREOS_CLUSTER_ENGINE_BIN;
        expect(() => findEngine()).to.throw(EngineMissingError, /bash scripts\/bootstrap-engine\.sh[\s\S]*COREOS_CLUSTER_SKIP_ENGINE_TESTS=1/);
    });

    it("finds an engine on PATH when it has the CLI and the Node.js language plugin", () => {
        const dir = fakeEngineDir(tmp, ["pulumi", "pulumi-language-nodejs"]);
        process.env.PATH = `${dir}${path.delimiter}/usr/bin:/bin`;
        delete process.env.COREOS_CLUSTER_ENGINE_BIN;
        expect(findEngine()).to.deep.equal({ binDir: dir, pulumi: path.join(dir, "pulumi"), source: "PATH" });
    });

    it("two checkouts share only the built CLI: each links its own launchers, and deleting one leaves the other whole", () => {
        // A cache holding a built CLI, as bootstrap-engine.sh leaves it, plus a launcher link an
        // earlier version of the script put there (pointing into a checkout that is gone).
        const cache = path.join(tmp, "cache");
        const sharedBin = path.join(cache, "engine", `v${ENGINE_VERSION}`, "bin");
        fs.mkdirSync(sharedBin, { recursive: true });
        fs.writeFileSync(path.join(sharedBin, "pulumi"), `#!/bin/sh\necho v${ENGINE_VERSION}\n`, { mode: 0o755 });
        fs.symlinkSync(path.join(tmp, "gone", "scripts", "engine", "pulumi-language-nodejs"), path.join(sharedBin, "pulumi-language-nodejs"));
        const checkout = (name: string) => {
            const root = path.join(tmp, name);
            fs.cpSync(path.join(REPO_ROOT, "scripts"), path.join(root, "scripts"), { recursive: true });
            return root;
        };
        const bootstrap = (root: string) =>
            childProcess
                .execFileSync("bash", [path.join(root, "scripts", "bootstrap-engine.sh")], {
                    env: { PATH: "/usr/bin:/bin", HOME: tmp, COREOS_CLUSTER_CACHE: cache, PULUMI_VERSION: ENGINE_VERSION },
                    stdio: ["ignore", "pipe", "ignore"],
                })
                .toString()
                .trim()
                .split("\n")
                .pop()!;
        const first = checkout("first");
        const second = checkout("second");
        expect(bootstrap(first)).to.equal(path.join(first, ".engine", "bin"));
        expect(bootstrap(second)).to.equal(path.join(second, ".engine", "bin"));

        expect(fs.readdirSync(sharedBin), "the shared cache keeps only the CLI").to.deep.equal(["pulumi"]);
        fs.rmSync(second, { recursive: true, force: true });
        const bin = path.join(first, ".engine", "bin");
        for (const launcher of ["pulumi-language-nodejs", "pulumi-resource-pulumi-nodejs", "pulumi-analyzer-policy"]) {
            expect(fs.realpathSync(path.join(bin, launcher)), launcher).to.equal(fs.realpathSync(path.join(first, "scripts", "engine", launcher)));
        }
        expect(childProcess.execFileSync(path.join(bin, "pulumi"), ["version"]).toString().trim()).to.equal(`v${ENGINE_VERSION}`);
        // The CLI is the shared one's file, never a symlink: the engine takes the launchers beside the
        // executable it runs as for its bundled plugins, and warns about any other on PATH.
        expect(fs.lstatSync(path.join(bin, "pulumi")).isSymbolicLink(), "pulumi in .engine/bin is a symlink").to.equal(false);
        expect(fs.statSync(path.join(bin, "pulumi")).ino).to.equal(fs.statSync(path.join(sharedBin, "pulumi")).ino);
        expect(bootstrap(first)).to.equal(bin); // a second run keeps it
        // A moved checkout keeps working: its launcher links are relative to the checkout.
        fs.renameSync(first, path.join(tmp, "moved"));
        expect(fs.existsSync(path.join(tmp, "moved", ".engine", "bin", "pulumi-language-nodejs"))).to.equal(true);
    });

    it("runs pulumi against the given DIY backend with the fixed local passphrase, never the caller's backend or token", () => {
        process.env.PULUMI_CONFIG_PASSPHRASE = "the developer's own";
        process.env.PULUMI_ACCESS_TOKEN = "pul-123";
        process.env.PULUMI_BACKEND_URL = "https://api.pulumi.com";
        const engine = { binDir: "/opt/engine", pulumi: "/opt/engine/pulumi", source: "PATH" as const };
        const env = pulumiEnv(engine, { backendDir: path.join(tmp, "backend"), transpileOnly: true });
        expect(env.PULUMI_BACKEND_URL).to.equal(`file://${path.join(tmp, "backend")}`);
        expect(env.PULUMI_CONFIG_PASSPHRASE).to.equal(DEFAULT_LOCAL_PASSPHRASE);
        expect(env.PULUMI_ACCESS_TOKEN).to.equal(undefined);
        expect(env.PULUMI_HOME).to.equal(path.join(tmp, "backend", "home"));
        expect(fs.existsSync(env.PULUMI_HOME!)).to.equal(true);
        expect(env.PATH!.split(path.delimiter)[0]).to.equal("/opt/engine");
        expect(env.PULUMI_NODEJS_TRANSPILE_ONLY).to.equal("true");
        expect(env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).to.equal("true");
        const forScripts = scriptEnv(engine);
        expect(Object.keys(forScripts).filter((k) => k.startsWith("PULUMI_"))).to.deep.equal([]);
    });

    it("makes a scratch project: program shared, stack files private and salt-free, no state or machines shared", () => {
        const source = path.join(tmp, "source");
        fs.mkdirSync(path.join(source, "components"), { recursive: true });
        fs.mkdirSync(path.join(source, ".pulumi-local"));
        fs.mkdirSync(path.join(source, ".local-machines"));
        fs.mkdirSync(path.join(source, "examples", "app"), { recursive: true });
        fs.writeFileSync(path.join(source, "index.ts"), "export {};\n");
        fs.writeFileSync(path.join(source, "Pulumi.yaml"), "name: p\nruntime: nodejs\n");
        const stack = { config: { "p:firstAddress": "127.0.10.10", "p:hosts": ["127.0.10.13:80"] }, encryptionsalt: "v1:abc" };
        fs.writeFileSync(path.join(source, "Pulumi.local.yaml"), YAML.stringify(stack));
        fs.writeFileSync(path.join(source, "examples", "app", "Pulumi.local.yaml"), YAML.stringify(stack));

        const copy = makeProjectCopy({
            source,
            into: tmp,
            stackConfig: { local: (doc) => replaceInStrings(doc, "127.0.10.", "127.0.11.") },
            copyDirs: [path.join("examples", "app")],
        });
        expect(fs.realpathSync(path.join(copy.dir, "index.ts"))).to.equal(fs.realpathSync(path.join(source, "index.ts")));
        expect(fs.lstatSync(path.join(copy.dir, "components")).isSymbolicLink()).to.equal(true);
        expect(fs.existsSync(path.join(copy.dir, ".pulumi-local"))).to.equal(false);
        expect(fs.existsSync(path.join(copy.dir, ".local-machines"))).to.equal(false);
        const local = YAML.parse(fs.readFileSync(path.join(copy.dir, "Pulumi.local.yaml"), "utf8"));
        expect(local).to.deep.equal({ config: { "p:firstAddress": "127.0.11.10", "p:hosts": ["127.0.11.13:80"] } });
        expect(fs.lstatSync(path.join(copy.dir, "Pulumi.local.yaml")).isSymbolicLink()).to.equal(false);
        const app = YAML.parse(fs.readFileSync(path.join(copy.dir, "examples", "app", "Pulumi.local.yaml"), "utf8"));
        expect(app.encryptionsalt).to.equal(undefined);
        expect(YAML.parse(fs.readFileSync(path.join(source, "Pulumi.local.yaml"), "utf8"))).to.deep.equal(stack);
        copy.cleanup();
        expect(fs.existsSync(copy.dir)).to.equal(false);
        expect(fs.existsSync(path.join(source, "index.ts"))).to.equal(true);
    });

    it("engine-env.sh always points at its DIY backend and keeps only a passphrase the user set", () => {
        const dir = fakeEngineDir(tmp, ["pulumi", "pulumi-language-nodejs"]);
        const show = 'source scripts/engine-env.sh "$BACKEND" 2>/dev/null; printf "%s\\n" "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE" "$PULUMI_HOME" "$(command -v pulumi)" "$COREOS_CLUSTER_ROOT"';
        const run = (extra: Record<string, string>) =>
            childProcess
                .execFileSync("bash", ["-c", show], {
                    cwd: REPO_ROOT,
                    encoding: "utf8",
                    env: { PATH: `${dir}:/usr/bin:/bin`, HOME: tmp, BACKEND: path.join(tmp, "b"), PULUMI_BACKEND_URL: "https://api.pulumi.com", ...extra },
                })
                .trim()
                .split("\n");
        expect(run({})).to.deep.equal([`file://${path.join(tmp, "b")}`, DEFAULT_LOCAL_PASSPHRASE, path.join(tmp, "b", "home"), path.join(dir, "pulumi"), REPO_ROOT]);
        expect(run({ PULUMI_CONFIG_PASSPHRASE: "mine" })[1]).to.equal("mine");
    });
});
