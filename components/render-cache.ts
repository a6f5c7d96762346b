// Every machine's rendered user-data, kept on disk and served again while neither the config nor
// the code that renders and proves it changed.
//
// Why: rendering each machine's cloud-config and proving it (YAML 1.1 against YAML 1.2, the
// validator) took ~0.1 s of every run, loading the renderers and `yaml` some more: a good part of
// what a no-op `up` of the local stack spends beyond an empty program (docs/performance.md).
//
// The key is the SHA-256 of
// - the code: the bundle esbuild makes of cloud-config/index.ts (every module of ours that
//   rendering runs; the build cache hashes each of them again on every run), every script rendering
//   builds while it runs (RENDER_TIME_BUILDS: the router it ships), the installed version of each
//   npm package the bundle requires, and Node's version and its zlib's (the router ships gzipped);
// - the input: the plan and the config without `access` (RenderingConfig: the compiler keeps
//   rendering from reading it, so neither the SSH tunnel key nor the etcd password is hashed).
// The value is what rendering returned once every check passed. A refused rendering is never
// stored: it renders, and is refused with its full message, on every run. So a hit skips nothing
// whose inputs are not in the key: the same texts, proven by the same validator.
// Kept beside the builds (components/esbuild-cache.ts cachedDerivation) and pruned with them;
// COREOS_CLUSTER_BUNDLE_CACHE=0 turns both off.
import type { RenderedMachine } from "../cloud-config/rendered-machine";
import type { ClusterConfig, ClusterPlan, RenderingConfig } from "../model/types";
import { cachedBuild, cachedDerivation } from "./esbuild-cache";

const REPO_ROOT = require("path").resolve(__dirname, "..") as string;

/** The module rendering starts from (renderMachines): its bundle is the rendering code. */
export const RENDERING_ENTRY = "cloud-config/index.ts";

/** The scripts rendering builds while it runs, as it builds them: each one's text is in the key. */
export const RENDER_TIME_BUILDS: ReadonlyArray<() => string> = [() => (require("../router/bundle") as typeof import("../router/bundle")).routerScript()];

export type Render = (config: RenderingConfig, plan: ClusterPlan) => RenderedMachine[];

function sha256(text: string): string {
    return (require("crypto") as typeof import("crypto")).createHash("sha256").update(text).digest("hex");
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

/** The code part of the key, or undefined when some of it cannot be told (then nothing is cached). */
export function renderingCodeKey(): string | undefined {
    const bundle = cachedBuild({
        entryPoints: [RENDERING_ENTRY],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        packages: "external",
        write: false,
        logLevel: "silent",
        legalComments: "none",
        absWorkingDir: REPO_ROOT,
    });
    const packages = [...new Set([...bundle.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))].sort();
    const versions = packages.map((p) => [p, packageVersion(p)]);
    if (versions.some(([, v]) => v === undefined)) return undefined;
    return sha256(JSON.stringify({ bundle: sha256(bundle), builds: RENDER_TIME_BUILDS.map((build) => sha256(build())), versions, node: process.version, zlib: process.versions.zlib }));
}

function isMachineList(text: string): boolean {
    try {
        const machines = JSON.parse(text) as unknown;
        return Array.isArray(machines) && machines.length > 0 && machines.every((m) => m && ["name", "role", "fileName", "userData"].every((k) => typeof m[k] === "string"));
    } catch {
        return false;
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
    const code = process.env.COREOS_CLUSTER_BUNDLE_CACHE === "0" ? undefined : renderingCodeKey();
    if (code === undefined) return render(rendering, plan);
    const text = cachedDerivation(`rendered machines ${code}`, JSON.stringify({ config: rendering, plan }), () => JSON.stringify(render(rendering, plan)), isMachineList);
    return JSON.parse(text) as RenderedMachine[];
}
