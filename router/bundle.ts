// The watcher as one self-contained script (router/main.ts and its imports, node's built-ins
// only), built once per process with esbuild and shipped gzip+base64 in the worker's
// write_files. esbuild's output is a function of the sources, so the rendering stays deterministic.
import * as path from "path";
import * as zlib from "zlib";
import type { BuildResult } from "../components/esbuild-cache";
import { nodeScriptBuild } from "./node-script";

const BANNER = "coreos-cluster router (bundled from router/ by router/bundle.ts; docs/router.md)";

let built: BuildResult | undefined;

function routerBuild(): BuildResult {
    built ??= nodeScriptBuild(path.join(__dirname, "main.ts"), BANNER);
    return built;
}

/** The bundled watcher's JavaScript source. */
export function routerScript(): string {
    return routerBuild().text;
}

/** The source files routerScript was built from (the render cache keys them: components/render-cache.ts). */
export function routerScriptInputs(): string[] {
    return routerBuild().inputs;
}

/** gzip (no timestamp, fixed level) then base64: what `encoding: gzip+base64` unpacks. */
export function gzipBase64(text: string): string {
    return zlib.gzipSync(Buffer.from(text, "utf8"), { level: 9 }).toString("base64");
}
