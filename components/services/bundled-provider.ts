// Dynamic providers shipped as one CommonJS bundle of their own modules, loaded once per provider
// process, instead of as the SDK's closure serialization of every function they reach.
//
// Why: the closure serializer re-emits each function inside a `with` scope. In the provider process
// every lookup of a global (`undefined`, `Buffer`, `Object`) or of a module-level name then becomes a
// dynamic scope lookup (~0.25 µs, against ~1 ns), and every call of a module function re-creates
// its closure. The service registrations' own work ran about twice as slow as the same code loaded
// as a module: at 1,000 services, ~90 ms of extra CPU in one create (bench/service-seeding.ts).
//
// What the engine stores stays self-contained: the serialized provider is a small shim carrying the
// bundle packed (packBundle). npm packages (etcd3, ssh2) stay `require`s, resolved in the provider
// process from the program's node_modules as before. The bundle is built with esbuild from the
// modules' sources when the program first asks for the provider (or taken from the build cache while
// none of them changed: components/esbuild-cache.ts); its text changes only when the code or esbuild
// does. The packed form can also differ with the zlib Node was built with. Either way no provider's
// diff() reads `__provider` (a test holds every bundle to that), so a new text alone is no change:
// the engine keeps the resource as it is, with the old text in its outputs until its next update.
import type * as pulumi from "@pulumi/pulumi";
import { cachedBuild, cachedDerivation, moduleBundleOptions } from "../esbuild-cache";

/** The operations a bundled provider implements (all of them: see docs/service-registration.md). */
export type ProviderOperations = Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">>;

/** A module bundled as a provider exports its operations as `provider`. */
export const BUNDLED_PROVIDER_EXPORT = "provider";

const bundles = new Map<string, string>();

/** The runner's recorder of the bundles a run made (scripts/engine/provider-warm-list.js: RECORDER). */
export const WARM_LIST_RECORDER = Symbol.for("coreos-cluster.provider-warm-list");

/** The global registry every shim loads its bundle into, once per process (provider-warm-list.js fills it ahead: REGISTRY). */
export const BUNDLED_PROVIDER_REGISTRY = "__coreosClusterBundledProviders";

/**
 * The provider exported as `provider` by the module `entryFile`, as a shim the engine serializes:
 * each operation loads the bundle (once per process) and calls the bundled provider's operation.
 */
export function bundledProvider(entryFile: string): ProviderOperations {
    const code = bundleOf(entryFile);
    const digest = (require("crypto") as typeof import("crypto")).createHash("sha256").update(code).digest("hex").slice(0, 16);
    const key = `${entryFile.split(/[\\/]/).pop()}#${digest}`;
    const load = (): ProviderOperations => loadBundledProvider(key, code);
    const operations: ProviderOperations = {
        check: async (olds, news) => load().check(olds, news),
        diff: async (id, olds, news) => load().diff(id, olds, news),
        create: async (inputs) => load().create(inputs),
        read: async (id, props) => load().read(id, props),
        update: async (id, olds, news) => load().update(id, olds, news),
        delete: async (id, props) => load().delete(id, props),
    };
    // A damaged entry fails its own digest (esbuild-cache.ts): no need to unpack every bundle on every run to check it.
    const packed = cachedDerivation(PACKING, code, packBundle);
    // Beside the object, not on it: the closure serializer (tests, other callers) still sees only the operations.
    serializedTexts.set(operations, serializedShim(key, packed));
    // Under the engine's runner: the next provider process compiles it while it waits (scripts/engine/provider-warm-list.js).
    (globalThis as Record<symbol, { record(key: string, packed: string): void } | undefined>)[WARM_LIST_RECORDER]?.record(key, packed);
    return operations;
}

const serializedTexts = new WeakMap<ProviderOperations, string>();

/** The text the engine stores as `__provider` for a provider made by bundledProvider (components/services/bundled-resource.ts). */
export function serializedProviderText(provider: ProviderOperations): string | undefined {
    return serializedTexts.get(provider);
}

/** Brotli's quality 10: 11% smaller than raw DEFLATE for these bundles, in ~30 ms a bundle (11 gains 1.5% more for 75 ms); packed once per bundle text, then read from the build cache. */
const BROTLI_QUALITY = 10;
const BROTLI_WINDOW_BITS = 24;
/** Names how packBundle packs a bundle: its cache entries are keyed by it. */
const PACKING = `brotli-base64 q${BROTLI_QUALITY} w${BROTLI_WINDOW_BITS}`;

/**
 * The bundle as the shim carries it: Brotli, in base64 (Node's own zlib: the provider process needs
 * nothing more to unpack it). Why: the engine stores `__provider` in each dynamic resource's inputs
 * and outputs, sends it with every check and diff and writes it with every checkpoint; as text the
 * bundles were about two thirds of the local stack's 3 MB of state (docs/performance.md). Brotli packs
 * these bundles about 11% smaller than raw DEFLATE, which the shims used before.
 */
export function packBundle(code: string): string {
    const zlib: typeof import("zlib") = require("zlib");
    const params = { [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.constants.BROTLI_PARAM_LGWIN]: BROTLI_WINDOW_BITS, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(code) };
    return zlib.brotliCompressSync(Buffer.from(code, "utf8"), { params }).toString("base64");
}

/** The bundle's text from packBundle's form (what the shim does in the provider process). */
export function unpackBundle(packed: string): string {
    const zlib: typeof import("zlib") = require("zlib");
    return zlib.brotliDecompressSync(Buffer.from(packed, "base64")).toString("utf8");
}

/** A bundle as shims packed it before Brotli (raw DEFLATE): still in the outputs of older states. */
function unpackDeflatedBundle(packed: string): string {
    const zlib: typeof import("zlib") = require("zlib");
    return zlib.inflateRawSync(Buffer.from(packed, "base64")).toString("utf8");
}

/** The shim's packed bundle, as it appears in its text or, escaped once, inside state's JSON. */
const PACKED_LITERAL = /const brotli = \\?"([A-Za-z0-9+/]*={0,2})\\?";/g;
/** The same, in a shim written while bundles were packed with raw DEFLATE. */
const DEFLATED_LITERAL = /const packed = \\?"([A-Za-z0-9+/]*={0,2})\\?";/g;
/** The first line of every shim serializedShim writes. */
const SHIM_MARKER = "// coreos-cluster bundled provider ";
/** The bundle of a shim written before bundles were packed (still in the outputs of older states). */
const TEXT_LITERAL = /const code = \\?"/g;

/**
 * `text` (a shim, or state or output holding shims) followed by every bundle packed in it, unpacked:
 * what reads or scans a shim (a test that no secret or path is in state) sees the code itself.
 * Throws when a shim's bundle is in a form it cannot read (escaped twice, or a changed shim), so a
 * scan never passes for having seen nothing.
 */
export function withUnpackedBundles(text: string): string {
    const packed = [...text.matchAll(PACKED_LITERAL)].map((m) => m[1]);
    const deflated = [...text.matchAll(DEFLATED_LITERAL)].map((m) => m[1]);
    const shims = text.split(SHIM_MARKER).length - 1;
    const readable = packed.length + deflated.length + [...text.matchAll(TEXT_LITERAL)].length;
    if (readable < shims) throw new Error(`withUnpackedBundles: ${shims} bundled-provider shim(s), but only ${readable} bundle(s) readable`);
    return [text, ...[...new Set(packed)].map(unpackBundle), ...[...new Set(deflated)].map(unpackDeflatedBundle)].join("\n");
}

/**
 * The shim as the module text the SDK's dynamic provider host loads (`require(text).handler()`),
 * written out here rather than produced by the SDK's closure serializer. Why: that serializer walks
 * every function through a V8 inspector session; opening the session alone cost ~250 ms of each
 * program evaluation, and each provider ~20 ms more (docs/performance.md). The text is the shim's:
 * the same registry key, so however many copies (and the in-process shim) compile the bundle once
 * per process, with the same module filename.
 */
export function serializedShim(key: string, packed: string): string {
    const operations = ["check(olds, news)", "diff(id, olds, news)", "create(inputs)", "read(id, props)", "update(id, olds, news)", "delete(id, props)"];
    return [
        `"use strict";`,
        `${SHIM_MARKER}${key.split("#")[0]} (components/services/bundled-provider.ts)`,
        `const key = ${JSON.stringify(key)};`,
        `const brotli = ${JSON.stringify(packed)};`,
        `function load() {`,
        `    const registry = (globalThis.${BUNDLED_PROVIDER_REGISTRY} ??= new Map());`,
        `    let provider = registry.get(key);`,
        `    if (provider === undefined) {`,
        `        const filename = require("path").join(process.cwd(), "[coreos-cluster provider " + key.split("#")[0] + "].js");`,
        `        const code = require("zlib").brotliDecompressSync(Buffer.from(brotli, "base64")).toString("utf8");`,
        `        provider = require("require-from-string")(code, filename)[${JSON.stringify(BUNDLED_PROVIDER_EXPORT)}];`,
        `        if (typeof provider?.create !== "function") throw new Error("bundled provider " + key.split("#")[0] + ' exports no "${BUNDLED_PROVIDER_EXPORT}"');`,
        `        registry.set(key, provider);`,
        `    }`,
        `    return provider;`,
        `}`,
        `exports.handler = () => ({`,
        ...operations.map((call) => `    ${call.split("(")[0]}: async (${call.split("(")[1]} => load().${call},`),
        `});`,
        ``,
    ].join("\n");
}

/** The CommonJS text of `entryFile` and the repository modules it imports; npm packages stay external. */
export function bundleOf(entryFile: string): string {
    let code = bundles.get(entryFile);
    if (code === undefined) {
        code = cachedBuild(moduleBundleOptions(entryFile, require("path").resolve(__dirname, "../..")));
        bundles.set(entryFile, code);
    }
    return code;
}

/**
 * Compiles the bundle once per process (runs inside the provider process, from the serialized shim).
 * Module paths resolve from the working directory: the engine starts providers in the program's.
 */
function loadBundledProvider(key: string, code: string): ProviderOperations {
    const registry: Map<string, ProviderOperations> = ((globalThis as any)[BUNDLED_PROVIDER_REGISTRY] ??= new Map());
    let provider = registry.get(key);
    if (provider === undefined) {
        const requireFromString = require("require-from-string") as (code: string, filename: string) => Record<string, unknown>;
        const filename = require("path").join(process.cwd(), `[coreos-cluster provider ${key.split("#")[0]}].js`);
        provider = requireFromString(code, filename)[BUNDLED_PROVIDER_EXPORT] as ProviderOperations;
        if (typeof provider?.create !== "function") throw new Error(`bundled provider ${key.split("#")[0]} exports no "${BUNDLED_PROVIDER_EXPORT}"`);
        registry.set(key, provider);
    }
    return provider;
}
