// esbuild's output for one entry point, kept on disk and reused while none of its inputs changed.
//
// Why: the program bundles every dynamic provider (components/services/bundled-provider.ts), the
// router and the local load balancer (router/node-script.ts) each time it runs. Each build is
// quick, but together they were ~0.4 s of every `pulumi up` and preview, most of it on a no-op
// `up` of the local stack, whose goal is 1.5x an empty program (docs/performance.md).
//
// An entry is keyed by the SHA-256 of esbuild's version, the build options, and the tsconfig.json and
// package.json nearest the entry (what esbuild reads besides the inputs; this repository has one of
// each for everything it bundles); it records the SHA-256 of every input esbuild read (its metafile)
// and the output text. It is used only when every recorded input still hashes the same, so what runs
// is byte for byte what esbuild would build now. An input changed during its build (or within the
// file system's timestamp granularity before it) is not stored: the next build stores it.
// Values derived from an output (a packed bundle: cachedDerivation) are kept beside the builds, keyed
// by what they were derived from. COREOS_CLUSTER_BUNDLE_CACHE=0 turns both off.
// Where: $COREOS_CLUSTER_CACHE/esbuild (default ~/.cache/coreos-cluster/esbuild, beside the
// transpile cache of scripts/engine/ts-transpile-cache.js); entries unused for 3 days are removed.
// Node's modules are required inside functions: this module is inside the local load balancer
// provider's bundle (router/node-script.ts), and bundles load no module until an operation needs one.
// Run as root through sudo (scripts/as-root.sh keeps HOME), the entries are handed to the invoking
// user, so that user's own runs can still read, replace and prune them.
import type { BuildOptions } from "esbuild";

const PRUNE_AFTER_MS = 3 * 24 * 3600 * 1000;
/** Coarser than any file system's timestamp granularity we meet (ext4/tmpfs: ns; some: 1-2 s). */
export const MTIME_SLACK_MS = 2000;
const PRUNE_EVERY_MS = 6 * 3600 * 1000;
const TOUCH_AFTER_MS = 12 * 3600 * 1000;

/** What one entry of the cache holds. */
interface CacheEntry {
    /** Absolute input path -> SHA-256 of its content when the output was built. */
    inputs: Record<string, string>;
    text: string;
}

export function sha256(text: string | Buffer): string {
    return (require("crypto") as typeof import("crypto")).createHash("sha256").update(text).digest("hex");
}

/** False when COREOS_CLUSTER_BUNDLE_CACHE=0: nothing is read from or written to the cache. */
export function bundleCacheEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
    return env.COREOS_CLUSTER_BUNDLE_CACHE !== "0";
}

export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
    const path: typeof import("path") = require("path");
    const os: typeof import("os") = require("os");
    const root = env.COREOS_CLUSTER_CACHE || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "coreos-cluster");
    return path.join(root, "esbuild");
}

// Hashes by path, size and mtime: the program checks the same model files for many bundles.
const hashes = new Map<string, string>();

function fileHash(file: string): string | undefined {
    const fs: typeof import("fs") = require("fs");
    try {
        const stat = fs.statSync(file);
        const memo = `${file}\0${stat.size}\0${stat.mtimeMs}`;
        let hash = hashes.get(memo);
        if (hash === undefined) {
            hash = sha256(fs.readFileSync(file));
            hashes.set(memo, hash);
        }
        return hash;
    } catch {
        return undefined;
    }
}

/** The file `name` in `dir` or the nearest folder above it, or undefined. */
function nearest(dir: string, name: string): string | undefined {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    for (let at = dir; ; at = path.dirname(at)) {
        const file = path.join(at, name);
        if (fs.existsSync(file)) return file;
        if (path.dirname(at) === at) return undefined;
    }
}

/** The key of a build: everything its output depends on besides the inputs esbuild reads. */
function buildKey(options: BuildOptions & { entryPoints: [string] }, workingDir: string): string {
    // The version from its package file: loading esbuild's API (~8 ms) is left to a build that runs.
    const version = (require("esbuild/package.json") as { version: string }).version;
    const path: typeof import("path") = require("path");
    const entryDir = path.dirname(path.resolve(workingDir, options.entryPoints[0]));
    const config = (name: string) => {
        const file = nearest(entryDir, name);
        return file === undefined ? "none" : `${file}:${fileHash(file) ?? "unreadable"}`;
    };
    return sha256(JSON.stringify({ version, options, workingDir, tsconfig: config("tsconfig.json"), packageJson: config("package.json") }));
}

/** Hands a path created as root under sudo to the user who ran sudo (a no-op otherwise). */
function handToInvokingUser(file: string): void {
    const uid = Number(process.env.SUDO_UID);
    const gid = Number(process.env.SUDO_GID);
    if (process.getuid?.() !== 0 || !Number.isInteger(uid) || !Number.isInteger(gid) || uid === 0) return;
    try {
        (require("fs") as typeof import("fs")).chownSync(file, uid, gid);
    } catch {
        // the entry still serves root's runs
    }
}

function readEntry(file: string): CacheEntry | undefined {
    try {
        const entry = JSON.parse((require("fs") as typeof import("fs")).readFileSync(file, "utf8")) as CacheEntry;
        if (typeof entry.text !== "string" || typeof entry.inputs !== "object" || entry.inputs === null) return undefined;
        const unchanged = Object.entries(entry.inputs).every(([input, hash]) => fileHash(input) === hash);
        return unchanged ? entry : undefined;
    } catch {
        return undefined;
    }
}

function writeEntry(dir: string, file: string, entry: CacheEntry): void {
    writeFileAtomically(dir, file, JSON.stringify(entry));
}

/** Writes `file` in `dir` (created when missing, with `modes.dir`) through a temporary file with `modes.file` and a rename; a failure is ignored. */
export function writeFileAtomically(dir: string, file: string, text: string, modes: { dir?: number; file?: number } = {}): void {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    try {
        if (!fs.existsSync(dir)) {
            fs.mkdirSync(dir, { recursive: true, ...(modes.dir === undefined ? {} : { mode: modes.dir }) });
            handToInvokingUser(dir);
            handToInvokingUser(path.dirname(dir));
        }
        // Write then rename: a concurrent reader sees the old entry or the new one, never half of one.
        const temp = `${file}.${process.pid}.${(require("crypto") as typeof import("crypto")).randomBytes(6).toString("hex")}.tmp`;
        fs.writeFileSync(temp, text, modes.file === undefined ? {} : { mode: modes.file });
        handToInvokingUser(temp);
        fs.renameSync(temp, file);
    } catch {
        // a cache that cannot be written still builds
    }
}

export function touchAndPrune(dir: string, file: string): void {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    try {
        const now = Date.now();
        if (now - fs.statSync(file).mtimeMs > TOUCH_AFTER_MS) fs.utimesSync(file, new Date(now), new Date(now));
        const marker = path.join(dir, ".last-prune");
        if (fs.existsSync(marker) && now - fs.statSync(marker).mtimeMs < PRUNE_EVERY_MS) return;
        fs.writeFileSync(marker, "");
        for (const name of fs.readdirSync(dir)) {
            if (!name.endsWith(".json") && !name.endsWith(".tmp")) continue;
            const entry = path.join(dir, name);
            if (now - fs.statSync(entry).mtimeMs > PRUNE_AFTER_MS) fs.rmSync(entry, { force: true });
        }
    } catch {
        // pruning is best effort
    }
}

/**
 * `derive(text)`, kept on disk beside the builds and keyed by `kind` and the SHA-256 of `text`: for a
 * value derived from a build's output that costs more to compute on every run than to read back
 * (a packed bundle: components/services/bundled-provider.ts). `kind` names everything besides `text`
 * that the value depends on. The entry holds the value's own SHA-256: a damaged value (or one that
 * `valid` refuses) is derived again.
 */
export function cachedDerivation(kind: string, text: string, derive: (text: string) => string, valid: (derived: string) => boolean = () => true): string {
    if (!bundleCacheEnabled()) return derive(text);
    const path: typeof import("path") = require("path");
    const dir = bundleCacheDir();
    const file = path.join(dir, `${sha256(`${kind}\0${text}`)}.json`);
    try {
        const entry = JSON.parse((require("fs") as typeof import("fs")).readFileSync(file, "utf8")) as { derived?: unknown; sha256?: unknown };
        if (typeof entry.derived === "string" && entry.sha256 === sha256(entry.derived) && valid(entry.derived)) {
            touchAndPrune(dir, file);
            return entry.derived;
        }
    } catch {
        // not cached yet (or unreadable): derive it
    }
    const derived = derive(text);
    writeFileAtomically(dir, file, JSON.stringify({ derived, sha256: sha256(derived) }));
    return derived;
}

/**
 * A CommonJS bundle of `entry` and the repository modules it imports, npm packages left as
 * `require`s, with paths relative to `workingDir` (the repository), not to this machine's checkout.
 */
export function moduleBundleOptions(entry: string, workingDir: string): BuildOptions & { entryPoints: [string] } {
    return {
        entryPoints: [entry],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        packages: "external",
        write: false,
        logLevel: "silent",
        legalComments: "none",
        absWorkingDir: workingDir,
    };
}

/** A build's output text and the absolute path of every input esbuild read for it. */
export interface BuildResult {
    text: string;
    inputs: string[];
}

/**
 * The text esbuild builds from `options` (one entry point, `write: false`), from the cache when no
 * input changed since it was built. `options.metafile` is set here: it names the inputs to record.
 */
export function cachedBuild(options: BuildOptions & { entryPoints: [string] }): string {
    return cachedBuildResult(options).text;
}

/** cachedBuild, with the inputs the text was built from. */
export function cachedBuildResult(options: BuildOptions & { entryPoints: [string] }): BuildResult {
    const path: typeof import("path") = require("path");
    const workingDir = options.absWorkingDir ?? process.cwd();
    const build = (): { text: string; inputs: Record<string, string>; settled: boolean } => {
        const esbuild = require("esbuild") as typeof import("esbuild");
        const startedMs = Date.now();
        const result = esbuild.buildSync({ ...options, write: false, metafile: true });
        const fs: typeof import("fs") = require("fs");
        const inputs: Record<string, string> = {};
        let settled = true;
        for (const input of Object.keys(result.metafile?.inputs ?? {})) {
            const file = path.resolve(workingDir, input);
            inputs[file] = fileHash(file) ?? "unreadable";
            // Saved while (or just before) esbuild read it: the hash may be newer than what was built.
            try {
                if (fs.statSync(file).mtimeMs >= startedMs - MTIME_SLACK_MS) settled = false;
            } catch {
                settled = false;
            }
        }
        return { text: result.outputFiles![0].text, inputs, settled };
    };
    if (!bundleCacheEnabled()) {
        const built = build();
        return { text: built.text, inputs: Object.keys(built.inputs) };
    }
    const dir = bundleCacheDir();
    const file = path.join(dir, `${buildKey(options, workingDir)}.json`);
    const cached = readEntry(file);
    if (cached !== undefined) {
        touchAndPrune(dir, file);
        return { text: cached.text, inputs: Object.keys(cached.inputs) };
    }
    const built = build();
    if (built.settled) writeEntry(dir, file, { inputs: built.inputs, text: built.text });
    return { text: built.text, inputs: Object.keys(built.inputs) };
}
