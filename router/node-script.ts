// One Node.js script from a TypeScript entry and its imports (node's built-ins only), with esbuild:
// the router shipped in the workers' user-data and the local load balancer's process. esbuild's
// output is a function of the sources, so what is built from it stays deterministic.
// Built through the build cache (components/esbuild-cache.ts): the same text while no source changed.
import { BuildResult, cachedBuildResult } from "../components/esbuild-cache";

/** The script's text, under a `// <banner>` line, and the sources it was built from. */
export function nodeScriptBuild(entry: string, banner: string): BuildResult {
    const built = cachedBuildResult({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        target: "node18",
        format: "cjs",
        minify: true,
        legalComments: "none",
        // package.json declares the repository's modules free of import side effects, so that a
        // provider's bundle drops what it imports and never uses. These scripts are shipped to the
        // machines (a new text rolls every worker): their text stays what their own code makes.
        ignoreAnnotations: true,
        write: false,
        logLevel: "silent",
    });
    return { text: `// ${banner}\n${built.text}`, inputs: built.inputs };
}

export function bundleNodeScript(entry: string, banner: string): string {
    return nodeScriptBuild(entry, banner).text;
}
