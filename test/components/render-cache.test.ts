// components/render-cache.ts: rendered machines are served again only for the same input and the
// same rendering code, never for a refused rendering, and never keyed by (or handed) a secret.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderMachines } from "../../cloud-config";
import { bundleCacheDir } from "../../components/esbuild-cache";
import { cachedRenderMachines, Render, renderingCodeKey } from "../../components/render-cache";
import { planCluster } from "../../model/plan";
import { ClusterConfig, RenderingConfig } from "../../model/types";
import { loadConfig } from "../../model/validate";
import { REPO_ROOT } from "../support/mocks";

const TUNNEL_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-render-cache-test\n-----END OPENSSH PRIVATE KEY-----\n";

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

/** Every input file the builds stored in `cacheDir` read. */
function buildInputs(cacheDir: string): Set<string> {
    const dir = path.join(cacheDir, "esbuild");
    const inputs = new Set<string>();
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith(".json"))) {
        const entry = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8")) as { inputs?: Record<string, string> };
        for (const input of Object.keys(entry.inputs ?? {})) inputs.add(input);
    }
    return inputs;
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

    it("never hands rendering the deployer's access, nor keys or stores it: its secrets change nothing", () => {
        const withTunnel = devConfig({ sshTunnel: { host: "10.213.9.10", username: "core", privateKey: TUNNEL_KEY }, etcdUsername: "deployer", etcdPassword: "render-cache-password" });
        const machines = cachedRenderMachines(withTunnel, planCluster(withTunnel), counting);
        expect(calls[0]).to.not.have.property("access");
        const otherSecrets = devConfig({ sshTunnel: { host: "10.213.9.10", username: "core", privateKey: TUNNEL_KEY.replace("not-a-real", "another") }, etcdUsername: "deployer", etcdPassword: "another" });
        expect(cachedRenderMachines(otherSecrets, planCluster(otherSecrets), counting)).to.deep.equal(machines);
        expect(calls).to.have.length(1);
        const stored = fs.readdirSync(bundleCacheDir()).map((f) => fs.readFileSync(path.join(bundleCacheDir(), f), "utf8")).join("\n");
        expect(stored).to.not.include("not-a-real-key").and.not.include("render-cache-password");
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
    });

    it("renders again over a damaged entry", () => {
        const config = devConfig();
        const plan = planCluster(config);
        const first = cachedRenderMachines(config, plan, counting);
        for (const name of fs.readdirSync(bundleCacheDir())) {
            const file = path.join(bundleCacheDir(), name);
            const entry = JSON.parse(fs.readFileSync(file, "utf8")) as { derived?: string };
            if (typeof entry.derived === "string") fs.writeFileSync(file, JSON.stringify({ derived: entry.derived.slice(0, 100) }));
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

    it("keys by every file rendering reads: each input of each build a fresh render runs is an input of the key's builds", () => {
        // Each in a process of its own (no build memoized in it) and a cache of its own: what it built.
        const builtBy = (name: string, script: string): Set<string> => {
            const cache = path.join(dir, name);
            childProcess.execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], { cwd: REPO_ROOT, env: { ...process.env, COREOS_CLUSTER_CACHE: cache }, stdio: "pipe" });
            return buildInputs(cache);
        };
        const covered = builtBy("key", `require("./components/render-cache").renderingCodeKey();`);
        const read = builtBy(
            "render",
            `const { renderMachines } = require("./cloud-config"); const { loadConfig } = require("./model/validate"); const { planCluster } = require("./model/plan");
            const c = loadConfig({ clusterName: "cache", platform: "local", localFirstAddress: "10.213.9.10", localWorkers: 1 }, "dev"); renderMachines(c, planCluster(c));`,
        );
        expect([...read].some((input) => input.endsWith(path.join("router", "main.ts"))), "the render built no router: this test would prove nothing").to.equal(true);
        expect([...read].filter((input) => !covered.has(input))).to.deep.equal([]);
    });
});
