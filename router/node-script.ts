// One Node.js script from a TypeScript entry and its imports (node's built-ins only), with esbuild:
// the router shipped in the workers' user-data and the local load balancer's process. esbuild's
// output is a function of the sources, so what is built from it stays deterministic.
// esbuild is required inside: the balancer's bundler is serialized into its provider.
export function bundleNodeScript(entry: string, banner: string): string {
    const esbuild = require("esbuild") as typeof import("esbuild");
    const result = esbuild.buildSync({
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        target: "node18",
        format: "cjs",
        minify: true,
        legalComments: "none",
        write: false,
        logLevel: "silent",
    });
    return `// ${banner}\n${result.outputFiles[0].text}`;
}
