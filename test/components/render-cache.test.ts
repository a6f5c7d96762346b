// components/render-cache.ts: rendered machines are served again only for the same input and the
// same rendering code, never for a refused rendering, and never keyed by (or handed) a secret.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderMachines } from "../../cloud-config";
import { bundleCacheDir } from "../../components/esbuild-cache";
import { cachedRenderMachines, Render, renderingCode, renderingKey, RenderingKeyParts, renderingSources } from "../../components/render-cache";
import { planCluster } from "../../model/plan";
import { ClusterConfig, RenderingConfig } from "../../model/types";
import { loadConfig } from "../../model/validate";
import { REPO_ROOT } from "../support/mocks";
import { newOpenSshPrivateKey } from "../../model/ssh-key";

/** Two throwaway tunnel keys (validation reads a key with ssh2: it must be a real one). */
const TUNNEL_KEY = newOpenSshPrivateKey();
const OTHER_TUNNEL_KEY = newOpenSshPrivateKey();

function devConfig(overrides: Record<string, unknown> = {}): ClusterConfig {
    return loadConfig(
        {
            clusterName: "cache",
            platform: "local",
            localFirstAddress: "10.213.9.10",
            localWorkers: 1,
            sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@example.com"],
            ...overrides,
        },
        "dev",
    );
}

describe("render cache", function () {
    this.timeout(120000);
    let dir: string;
    let saved: Record<string, string | undefined>;
    let calls: RenderingConfig[];
    const counting: Render = (config, plan) => {
        calls.push(config);
        return renderMachines(config, plan);
    };
    const renderDir = () => path.join(path.dirname(bundleCacheDir()), "render");
    const entries = () => (fs.existsSync(renderDir()) ? fs.readdirSync(renderDir()).filter((f) => f.endsWith(".json")) : []);

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-cache-"));
        saved = { COREOS_CLUSTER_CACHE: process.env.COREOS_CLUSTER_CACHE, COREOS_CLUSTER_BUNDLE_CACHE: process.env.COREOS_CLUSTER_BUNDLE_CACHE };
        process.env.COREOS_CLUSTER_CACHE = dir;
        delete process.env.COREOS_CLUSTER_BUNDLE_CACHE;
        calls = [];
    });
    afterEach(() => {
        for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
        else process.env[k] = v;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("renders once, then serves the same machines while the config and the code are unchanged", () => {
        const config = devConfig();
        const plan = planCluster(config);
        const first = cachedRenderMachines(config, plan, counting);
        expect(first).to.deep.equal(renderMachines(config, plan));
        expect(calls).to.have.length(1);
        expect(entries()).to.have.length(1);
        expect(cachedRenderMachines(config, plan, counting)).to.deep.equal(first);
        expect(calls).to.have.length(1);
    });

    it("renders again for another config", () => {
        const config = devConfig();
        cachedRenderMachines(config, planCluster(config), counting);
        const other = devConfig({ sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZ9aZEqXc0pD9c5cVQqYpT0r0tqdxS4z3mH7fQn5Jx8 other@example.com"] });
        const machines = cachedRenderMachines(other, planCluster(other), counting);
        expect(calls).to.have.length(2);
        expect(machines[0].userData).to.include("other@example.com");
    });

    it("never hands rendering the deployer's access, nor keys or stores it: its secrets change nothing; entries are the user's alone", () => {
        const withTunnel = devConfig({ sshTunnel: { host: "10.213.9.10", username: "core", privateKey: TUNNEL_KEY }, etcdUsername: "deployer", etcdPassword: "render-cache-password" });
        const machines = cachedRenderMachines(withTunnel, planCluster(withTunnel), counting);
        expect(calls[0]).to.not.have.property("access");
        const otherSecrets = devConfig({ sshTunnel: { host: "10.213.9.10", username: "core", privateKey: OTHER_TUNNEL_KEY }, etcdUsername: "deployer", etcdPassword: "another" });
        expect(cachedRenderMachines(otherSecrets, planCluster(otherSecrets), counting)).to.deep.equal(machines);
        expect(calls).to.have.length(1);
        const stored = entries().map((f) => fs.readFileSync(path.join(renderDir(), f), "utf8")).join("\n");
        // Every line of the keys' bodies but the first (the same format header in every such key).
        for (const line of [TUNNEL_KEY, OTHER_TUNNEL_KEY].flatMap((k) => k.trim().split("\n").slice(2, -1))) expect(stored).to.not.include(line);
        expect(stored).to.not.include("render-cache-password");
        expect(fs.statSync(renderDir()).mode & 0o777).to.equal(0o700);
        for (const f of entries()) expect(fs.statSync(path.join(renderDir(), f)).mode & 0o777, f).to.equal(0o600);
    });

    it("never stores a rendering that carries an etcd discovery URL (its token stays in state alone)", () => {
        const config = devConfig({ etcdDiscoveryUrl: "https://discovery.etcd.io/0123456789abcdef0123456789abcdef" });
        cachedRenderMachines(config, planCluster(config), counting);
        cachedRenderMachines(config, planCluster(config), counting);
        expect(calls).to.have.length(2);
        expect(entries()).to.deep.equal([]);
    });

    it("never stores a refused rendering: it is rendered, and refused, on every run", () => {
        const config = devConfig();
        const refusing: Render = (c) => {
            calls.push(c);
            throw new Error("coreos-cluster:sshAuthorizedKeys[0]: refused");
        };
        expect(() => cachedRenderMachines(config, planCluster(config), refusing)).to.throw("refused");
        expect(() => cachedRenderMachines(config, planCluster(config), refusing)).to.throw("refused");
        expect(calls).to.have.length(2);
        expect(entries()).to.deep.equal([]);
    });

    it("renders again over an entry changed by one character (its hash no longer holds)", () => {
        const config = devConfig();
        const plan = planCluster(config);
        const first = cachedRenderMachines(config, plan, counting);
        for (const name of entries()) {
            const file = path.join(renderDir(), name);
            const entry = JSON.parse(fs.readFileSync(file, "utf8")) as { machines: string; sha256: string };
            fs.writeFileSync(file, JSON.stringify({ ...entry, machines: entry.machines.replace("#cloud-config", "#cloud-confiG") }));
        }
        expect(cachedRenderMachines(config, plan, counting)).to.deep.equal(first);
        expect(calls).to.have.length(2);
    });

    it("renders every time with COREOS_CLUSTER_BUNDLE_CACHE=0", () => {
        process.env.COREOS_CLUSTER_BUNDLE_CACHE = "0";
        const config = devConfig();
        cachedRenderMachines(config, planCluster(config), counting);
        cachedRenderMachines(config, planCluster(config), counting);
        expect(calls).to.have.length(2);
    });

    it("keys by every part: another bundle, router, own text, tsconfig, package.json, package, Node or zlib, config or plan gives another key", () => {
        const config = devConfig();
        const { access: _a, ...rendering } = config;
        const base: RenderingKeyParts = {
            code: { bundle: "b", builds: ["r"], self: "s", tsconfig: "t", packageJson: "p", packages: [["yaml", "2.9.1"]], node: "v20", zlib: "1.3" },
            config: rendering,
            plan: planCluster(config),
        };
        const variants: RenderingKeyParts[] = [
            { ...base, code: { ...base.code, bundle: "b2" } },
            { ...base, code: { ...base.code, builds: ["r2"] } },
            { ...base, code: { ...base.code, self: "s2" } },
            { ...base, code: { ...base.code, tsconfig: "t2" } },
            { ...base, code: { ...base.code, packageJson: "p2" } },
            { ...base, code: { ...base.code, packages: [["yaml", "2.9.2"]] } },
            { ...base, code: { ...base.code, node: "v22" } },
            { ...base, code: { ...base.code, zlib: "1.4" } },
            { ...base, config: { ...rendering, name: "other" } },
            { ...base, plan: planCluster(devConfig({ localWorkers: 2 })) },
        ];
        const keys = new Set([base, ...variants].map(renderingKey));
        expect(keys.size).to.equal(variants.length + 1);
    });

    it("stands for no code when a source of it was saved after the process started", () => {
        expect(renderingCode()).to.not.equal(undefined);
        expect(renderingCode(0)).to.equal(undefined);
    });

    it("stands for every file rendering loads or reads: a fresh process rendering reads no module or file of ours outside the key's sources", () => {
        const config = devConfig();
        const { access: _a, ...rendering } = config;
        const covered = new Set(renderingSources());
        const cache = path.join(dir, "child");
        // In a fresh process (no module or build loaded yet, its own cache): every project file it
        // loads or reads while loading cloud-config/ and rendering.
        const script = `
            const fs = require("fs"); const read = new Set(); const original = fs.readFileSync;
            fs.readFileSync = function (file, ...rest) { if (typeof file === "string") read.add(require("path").resolve(file)); return original.call(this, file, ...rest); };
            const before = new Set(Object.keys(require.cache));
            const input = JSON.parse(process.env.RENDER_INPUT);
            require("./cloud-config").renderMachines(input.config, input.plan);
            const loaded = Object.keys(require.cache).filter((f) => !before.has(f));
            process.stdout.write(JSON.stringify([...new Set([...loaded, ...read])]));`;
        const out = childProcess.execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
            cwd: REPO_ROOT,
            env: { ...process.env, COREOS_CLUSTER_CACHE: cache, RENDER_INPUT: JSON.stringify({ config: rendering, plan: planCluster(config) }) },
            encoding: "utf8",
        });
        // (Files that do not exist are the module loader's lookups, not inputs.)
        const touched = (JSON.parse(out) as string[]).filter((f) => f.startsWith(REPO_ROOT + path.sep) && !f.includes(`${path.sep}node_modules${path.sep}`) && fs.existsSync(f));
        expect(touched.some((f) => f.endsWith(path.join("cloud-config", "render-flatcar.ts"))), "the child loaded no renderer: this test would prove nothing").to.equal(true);
        expect(touched.filter((f) => !covered.has(f))).to.deep.equal([]);
    });
});
