"use strict";
// An on-disk cache of ts-node's transpile-only output, so a `pulumi up` whose TypeScript did not
// change does not transpile the whole program again (~2 s of the local stack's no-op `up` on 2
// cores). The program is still loaded and run in full; only TypeScript -> JavaScript is reused.
//
// ts-node (10.x, TypeScript >= 4.7) transpiles every file in transpile-only mode through the
// function `createTsTranspileModule` returns; this wraps that function. An entry is keyed by the
// SHA-256 of everything its output depends on: the TypeScript and ts-node versions, the compiler
// options, the module format, the file name and the file's text. Only output without diagnostics
// is stored, custom transformers turn the cache off, and a type-checking ts-node never reaches it
// (it compiles through its language service), so what runs is byte for byte what ts-node would
// produce. Set COREOS_CLUSTER_TS_CACHE=0 to turn it off.
//
// Where: $COREOS_CLUSTER_CACHE/ts-transpile (default ~/.cache/coreos-cluster/ts-transpile); entries
// unused for PRUNE_AFTER_MS are removed (checked at most once per PRUNE_EVERY_MS).
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

const PRUNE_AFTER_MS = 3 * 24 * 3600 * 1000;
const PRUNE_EVERY_MS = 6 * 3600 * 1000;
const TOUCH_AFTER_MS = 12 * 3600 * 1000;

function cacheDir() {
    const root =
        process.env.COREOS_CLUSTER_CACHE ||
        path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "coreos-cluster");
    return path.join(root, "ts-transpile");
}

function sha256(...parts) {
    const hash = crypto.createHash("sha256");
    for (const part of parts) hash.update(String(part)).update("\0");
    return hash.digest("hex");
}

function prune(dir) {
    const marker = path.join(dir, ".last-prune");
    try {
        if (Date.now() - fs.statSync(marker).mtimeMs < PRUNE_EVERY_MS) return;
    } catch {
        // never pruned
    }
    try {
        fs.writeFileSync(marker, "");
        const cutoff = Date.now() - PRUNE_AFTER_MS;
        for (const entry of fs.readdirSync(dir)) {
            if (!entry.endsWith(".json")) continue;
            const file = path.join(dir, entry);
            try {
                if (fs.statSync(file).mtimeMs < cutoff) fs.rmSync(file, { force: true });
            } catch {
                // removed by a concurrent prune
            }
        }
    } catch {
        // a cache that cannot be pruned still works
    }
}

function read(file) {
    try {
        const entry = JSON.parse(fs.readFileSync(file, "utf8"));
        if (typeof entry.outputText !== "string" || (entry.sourceMapText !== undefined && typeof entry.sourceMapText !== "string")) return undefined;
        try {
            const mtime = fs.statSync(file).mtimeMs;
            if (Date.now() - mtime > TOUCH_AFTER_MS) fs.utimesSync(file, new Date(), new Date());
        } catch {
            // only affects pruning
        }
        return entry;
    } catch {
        return undefined;
    }
}

function write(dir, file, entry) {
    try {
        fs.mkdirSync(dir, { recursive: true });
        // Write then rename: concurrent runs never read half an entry.
        const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify(entry));
        fs.renameSync(tmp, file);
    } catch {
        // read-only or full disk: transpiling without the cache is always correct
    }
}

let installed = false;

/**
 * Installs the cache for the ts-node the SDK's runner will load (resolved from `fromDir`, the
 * runner's folder, exactly as the runner resolves it). Does nothing when that ts-node has no
 * createTsTranspileModule (older ts-node, or the SDK's vendored 7.0.1).
 */
function install(fromDir) {
    if (installed || process.env.COREOS_CLUSTER_TS_CACHE === "0") return;
    let tsTranspileModule;
    let tsNodeVersion;
    try {
        // By file: ts-node's package exports do not include the module its index requires.
        const manifest = require.resolve("ts-node/package.json", { paths: [fromDir] });
        tsNodeVersion = require(manifest).version;
        tsTranspileModule = require(path.join(path.dirname(manifest), "dist", "ts-transpile-module.js"));
    } catch {
        return;
    }
    const original = tsTranspileModule.createTsTranspileModule;
    if (typeof original !== "function") return;
    installed = true;
    const dir = cacheDir();
    let pruned = false;
    tsTranspileModule.createTsTranspileModule = function (ts, transpileOptions) {
        const transpile = original.apply(this, arguments);
        if (!transpileOptions || transpileOptions.transformers) return transpile;
        let optionsKey;
        try {
            optionsKey = JSON.stringify(transpileOptions.compilerOptions || {});
        } catch {
            return transpile;
        }
        const salt = sha256("ts-transpile-cache/1", ts.version, tsNodeVersion, optionsKey, transpileOptions.reportDiagnostics);
        return function cachedTranspileModule(input, transpileOptions2, packageJsonType) {
            const fileName = transpileOptions2 && transpileOptions2.fileName;
            if (typeof input !== "string" || typeof fileName !== "string" || Object.keys(transpileOptions2).length !== 1) {
                return transpile.apply(this, arguments);
            }
            const file = path.join(dir, `${sha256(salt, packageJsonType === undefined ? "" : packageJsonType, fileName, input)}.json`);
            const hit = read(file);
            if (hit) return { outputText: hit.outputText, sourceMapText: hit.sourceMapText, diagnostics: [] };
            const result = transpile.apply(this, arguments);
            if (result && typeof result.outputText === "string" && (!result.diagnostics || result.diagnostics.length === 0)) {
                write(dir, file, { fileName, outputText: result.outputText, sourceMapText: result.sourceMapText });
                if (!pruned) {
                    pruned = true;
                    prune(dir);
                }
            }
            return result;
        };
    };
}

module.exports = { install, cacheDir };
