"use strict";
// The bundled dynamic providers a program used, compiled by the next run's provider process while it
// waits for its first call. The dynamic-provider plugin starts with the program (startDynamicProviders)
// and then sits idle for most of a second while the program loads; each bundle it compiles on its first
// check instead is a few milliseconds on the serial chain of checks (docs/performance.md).
//
// The program's runner records each bundle as components/services/bundled-provider.ts makes it (its
// registry key and the packed text its shim carries); at exit the list is written, if it changed, to
// <cache>/provider-warm/<hash of the program folder>.json. The provider process reads that list and
// compiles each bundle into the registry the shim loads from (globalThis.__coreosClusterBundledProviders),
// with the shim's own steps, after checking that the text still hashes to its key: a bundle is only
// ever taken for the shim whose key names that exact code, so what runs is what the shim would load.
// A missing, stale or damaged list only means compiling on first use, as without it. The folder is
// trusted as the transpile and build caches beside it are: all three hold code this machine runs.
// COREOS_CLUSTER_WARM_PROVIDERS=0 turns both halves off.
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

/** Where bundled-provider.ts's shims keep the providers they loaded, by key. */
const REGISTRY = "__coreosClusterBundledProviders";
/** What a bundled module exports its operations as (bundled-provider.ts: BUNDLED_PROVIDER_EXPORT). */
const EXPORT = "provider";

const enabled = () => process.env.COREOS_CLUSTER_WARM_PROVIDERS !== "0";

// As the transpile and build caches: a list no provider process read for 3 days goes (one per program
// folder, and tests make many); a read list is touched at most every 12 hours.
const PRUNE_AFTER_MS = 3 * 24 * 3600 * 1000;
const TOUCH_AFTER_MS = 12 * 3600 * 1000;

function listFile(programDir, env = process.env) {
    const root = env.COREOS_CLUSTER_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "coreos-cluster");
    const id = crypto.createHash("sha256").update(path.resolve(programDir)).digest("hex").slice(0, 16);
    return path.join(root, "provider-warm", `${id}.json`);
}

/** The key's bundle text, if `packed` unpacks to code whose digest the key names; else undefined. */
function codeFor(key, packed) {
    const digest = typeof key === "string" ? key.split("#")[1] : undefined;
    if (!digest || typeof packed !== "string") return undefined;
    try {
        // Packed as bundled-provider.ts packs it (Brotli); a list an older version wrote fails the digest below.
        const code = require("zlib").brotliDecompressSync(Buffer.from(packed, "base64")).toString("utf8");
        return crypto.createHash("sha256").update(code).digest("hex").startsWith(digest) && digest.length >= 16 ? code : undefined;
    } catch {
        return undefined;
    }
}

// ---- the program's half ----------------------------------------------------------------------

/**
 * Where the runner keeps its recorder: process-wide, because the program's bundled-provider.ts may be
 * another checkout's copy than this file (a project copied elsewhere, run by this repo's engine).
 */
const RECORDER = Symbol.for("coreos-cluster.provider-warm-list");

/** Called by the runner's preload: this run records the bundles the program makes and writes them at exit. */
function recordForThisRun(programDir = process.cwd()) {
    if (globalThis[RECORDER] || !enabled()) return;
    const recording = new Map();
    // What bundledProvider calls for each provider it makes (absent outside a recording runner).
    globalThis[RECORDER] = { record: (key, packed) => recording.set(key, packed) };
    process.on("exit", () => writeList(programDir, recording));
}

function writeList(programDir, entries) {
    if (entries.size === 0) return;
    const file = listFile(programDir);
    const text = JSON.stringify([...entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, packed]) => ({ key, packed })));
    try {
        if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return;
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(temp, text);
        fs.renameSync(temp, file);
        pruneLists(path.dirname(file), Date.now());
    } catch {
        // Best effort: the next provider process compiles on first use.
    }
}

/** Marks a list as read, so pruning keeps it (best effort: a read-only cache only loses the mark). */
function touch(file) {
    try {
        const now = Date.now();
        if (now - fs.statSync(file).mtimeMs > TOUCH_AFTER_MS) fs.utimesSync(file, new Date(now), new Date(now));
    } catch {
        // Pruned later than it might have been; nothing else depends on it.
    }
}

/** Removes the lists (and leftover temporary files) not read or written for PRUNE_AFTER_MS. */
function pruneLists(dir, now) {
    for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith(".json") && !name.endsWith(".tmp")) continue;
        const file = path.join(dir, name);
        try {
            if (now - fs.statSync(file).mtimeMs > PRUNE_AFTER_MS) fs.rmSync(file, { force: true });
        } catch {
            // Gone already, or not ours to remove.
        }
    }
}

// ---- the provider process's half ---------------------------------------------------------------

/**
 * Compiles the listed bundles into the shims' registry, one per macrotask so the engine's calls are
 * answered in between; returns a promise of the keys it compiled (for tests).
 */
function warmListedProviders(programDir = process.cwd()) {
    if (!enabled()) return Promise.resolve([]);
    let entries;
    try {
        const file = listFile(programDir);
        entries = JSON.parse(fs.readFileSync(file, "utf8"));
        touch(file);
    } catch {
        return Promise.resolve([]);
    }
    if (!Array.isArray(entries)) return Promise.resolve([]);
    const registry = (globalThis[REGISTRY] ??= new Map());
    const warmed = [];
    const next = (i) =>
        new Promise((resolve) => setImmediate(resolve)).then(() => {
            if (i >= entries.length) return warmed;
            const { key, packed } = entries[i] ?? {};
            if (!registry.has(key)) {
                const code = codeFor(key, packed);
                if (code !== undefined) {
                    try {
                        // As the shim does it: same loader, same module file name.
                        const requireFromString = require(require.resolve("require-from-string", { paths: [programDir, __dirname] }));
                        const provider = requireFromString(code, path.join(programDir, `[coreos-cluster provider ${key.split("#")[0]}].js`))[EXPORT];
                        if (typeof provider?.create === "function" && !registry.has(key)) {
                            registry.set(key, provider);
                            warmed.push(key);
                        }
                    } catch {
                        // Left to the shim, which reports it as shipped.
                    }
                }
            }
            return next(i + 1);
        });
    return next(0);
}

module.exports = { recordForThisRun, warmListedProviders, warmingEnabled: enabled, listFile, pruneLists, REGISTRY, RECORDER, EXPORT, PRUNE_AFTER_MS };
