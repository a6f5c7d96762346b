// Every machine's rendered user-data, kept on disk and served again while neither the input nor
// the code that renders and proves it changed.
//
// Why: rendering each machine's cloud-config and proving it (YAML 1.1 against YAML 1.2, the
// validator) took ~0.1 s of every run, loading the renderers and `yaml` some more: a good part of
// what a no-op `up` of the local stack spends beyond an empty program (docs/performance.md).
//
// The key is the SHA-256 of
// - the code: the bundle esbuild makes of cloud-config/index.ts (every module of ours that
//   rendering runs; the build cache hashes each of them again on every run), every script rendering
//   builds while it runs (RENDER_TIME_BUILDS: the router it ships), this module's own text, the
//   tsconfig.json ts-node compiles with and the package.json Node loads by, the installed version of
//   each npm package the bundle requires and TypeScript's (a package patched in place, or a
//   dependency of one, is not seen: `yaml`, the renderers' one, has none), and Node's version and
//   its zlib's (the router ships gzipped);
// - the input: the plan and the config without `access` (RenderingConfig: the compiler keeps
//   rendering from reading it, so neither the SSH tunnel key nor the etcd password is hashed).
// The cache is not used, read or written, when the key cannot stand for what runs: a file of the
// code saved after this process started (its loaded modules may be older than the file the key
// hashes), a `require` of anything but a literal name in the bundle, a package whose version cannot
// be read, or a config with an etcd discovery URL (its token would be stored outside state).
// The value is what rendering returned once every check passed, with its SHA-256 (a damaged entry
// is rendered again). A refused rendering is never stored: it renders, and is refused with its full
// message, on every run. Entries live in <cache>/render (0700, files 0600) beside the build cache
// and are pruned like it; COREOS_CLUSTER_BUNDLE_CACHE=0 turns both off.
import { isRenderedMachine, RenderedMachine } from "../cloud-config/rendered-machine";
import type { ClusterConfig, ClusterPlan, RenderingConfig } from "../model/types";
import { bundleCacheDir, bundleCacheEnabled, cachedBuildResult, moduleBundleOptions, MTIME_SLACK_MS, sha256, touchAndPrune, writeFileAtomically } from "./esbuild-cache";

const path: typeof import("path") = require("path");

const REPO_ROOT = path.resolve(__dirname, "..");

/** The module rendering starts from (renderMachines): its bundle is the rendering code. */
export const RENDERING_ENTRY = "cloud-config/index.ts";

/** The scripts rendering builds while it runs, as it builds them: each one's text is in the key. */
export const RENDER_TIME_BUILDS: ReadonlyArray<{ text(): string; inputs(): string[] }> = [
    {
        text: () => (require("../router/bundle") as typeof import("../router/bundle")).routerScript(),
        inputs: () => (require("../router/bundle") as typeof import("../router/bundle")).routerScriptInputs(),
    },
];

export type Render = (config: RenderingConfig, plan: ClusterPlan) => RenderedMachine[];

/** What the key is made of (renderingKey). */
export interface RenderingKeyParts {
    code: { bundle: string; builds: string[]; self: string; tsconfig: string; packageJson: string; packages: Array<[string, string]>; node: string; zlib: string };
    config: RenderingConfig;
    plan: ClusterPlan;
}

/** The key of a rendering: any change to any part gives another. */
export function renderingKey(parts: RenderingKeyParts): string {
    return sha256(JSON.stringify({ code: parts.code, config: parts.config, plan: parts.plan }));
}

/** The installed version of the npm package `specifier` names ("builtin" for Node's own), or undefined when it cannot be told. */
function packageVersion(specifier: string): string | undefined {
    if ((require("module") as typeof import("module")).isBuiltin(specifier)) return "builtin";
    const name = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
    try {
        const file = require.resolve(`${name}/package.json`, { paths: [REPO_ROOT] });
        const version = (JSON.parse((require("fs") as typeof import("fs")).readFileSync(file, "utf8")) as { version?: unknown }).version;
        return typeof version === "string" ? version : undefined;
    } catch {
        return undefined;
    }
}

/** Every package `bundle` requires by name, or undefined when one of its requires is not a literal name. */
function requiredPackages(bundle: string): string[] | undefined {
    const literal = [...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]);
    const all = bundle.match(/\brequire\s*[(.]/g) ?? [];
    if (all.length !== literal.length || /\bcreateRequire\b/.test(bundle)) return undefined;
    return [...new Set(literal)].sort();
}

/** Saved before `startedAtMs`, with the file system's timestamp slack (so the module loaded since is this text). */
function savedBefore(file: string, startedAtMs: number): boolean {
    try {
        return (require("fs") as typeof import("fs")).statSync(file).mtimeMs < startedAtMs - MTIME_SLACK_MS;
    } catch {
        return false;
    }
}

const TSCONFIG = path.join(REPO_ROOT, "tsconfig.json");
const PACKAGE_JSON = path.join(REPO_ROOT, "package.json");

function renderingBuild() {
    return cachedBuildResult(moduleBundleOptions(RENDERING_ENTRY, REPO_ROOT));
}

/** Every file of ours the key stands for: the bundle's inputs, the render-time builds' inputs, this module, tsconfig.json and package.json (how ts-node and Node load the modules). */
export function renderingSources(bundleInputs: string[] = renderingBuild().inputs): string[] {
    return [...bundleInputs, ...RENDER_TIME_BUILDS.flatMap((b) => b.inputs()), __filename, TSCONFIG, PACKAGE_JSON];
}

/**
 * The code part of the key, or undefined when it cannot stand for the code this process runs (a
 * source saved after `startedAtMs`, when this process started: the module it loaded may be older).
 */
export function renderingCode(startedAtMs: number = performance.timeOrigin): RenderingKeyParts["code"] | undefined {
    const fs: typeof import("fs") = require("fs");
    const bundle = renderingBuild();
    if (!renderingSources(bundle.inputs).every((file) => savedBefore(file, startedAtMs))) return undefined;
    const required = requiredPackages(bundle.text);
    if (required === undefined) return undefined;
    const packages = [...required, "typescript"].map((p): [string, string | undefined] => [p, packageVersion(p)]);
    if (packages.some(([, v]) => v === undefined)) return undefined;
    return {
        bundle: sha256(bundle.text),
        builds: RENDER_TIME_BUILDS.map((b) => sha256(b.text())),
        self: sha256(fs.readFileSync(__filename)),
        tsconfig: sha256(fs.readFileSync(TSCONFIG)),
        packageJson: sha256(fs.readFileSync(PACKAGE_JSON)),
        packages: packages as Array<[string, string]>,
        node: process.version,
        zlib: process.versions.zlib,
    };
}

function renderCacheDir(): string {
    return path.join(path.dirname(bundleCacheDir()), "render");
}

/** The stored machines, when the entry is whole (its hash holds) and shaped as machines. */
function readEntry(file: string): RenderedMachine[] | undefined {
    try {
        const entry = JSON.parse((require("fs") as typeof import("fs")).readFileSync(file, "utf8")) as { machines?: unknown; sha256?: unknown };
        if (typeof entry.machines !== "string" || entry.sha256 !== sha256(entry.machines)) return undefined;
        const machines = JSON.parse(entry.machines) as unknown;
        return Array.isArray(machines) && machines.length > 0 && machines.every(isRenderedMachine) ? machines : undefined;
    } catch {
        return undefined;
    }
}

/** The rendering renderMachines does (loaded only when the cache cannot serve it). */
const renderMachines: Render = (config, plan) => (require("../cloud-config") as typeof import("../cloud-config")).renderMachines(config, plan);

/**
 * Every machine's user-data for `config` and `plan`, as `render` (renderMachines) returns it: from
 * the cache when the same rendering code proved it for the same input before. Rendering is handed
 * the config without `access`, exactly what the key holds.
 */
export function cachedRenderMachines(config: ClusterConfig, plan: ClusterPlan, render: Render = renderMachines): RenderedMachine[] {
    const { access: _deployersOnly, ...rendering } = config;
    const code = bundleCacheEnabled() && rendering.etcd.discoveryUrl === undefined ? renderingCode() : undefined;
    if (code === undefined) return render(rendering, plan);
    const dir = renderCacheDir();
    const file = path.join(dir, `${renderingKey({ code, config: rendering, plan })}.json`);
    const cached = readEntry(file);
    if (cached !== undefined) {
        touchAndPrune(dir, file);
        return cached;
    }
    const machines = render(rendering, plan);
    const text = JSON.stringify(machines);
    writeFileAtomically(dir, file, JSON.stringify({ machines: text, sha256: sha256(text) }), { dir: 0o700, file: 0o600 });
    return machines;
}
