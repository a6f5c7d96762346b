// components/esbuild-cache.ts: a build is reused only while every input it read hashes the same.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bundleCacheDir, cachedBuild, cachedDerivation } from "../../components/esbuild-cache";

describe("esbuild output cache", () => {
    let dir: string;
    let saved: Record<string, string | undefined>;
    const options = () => ({ entryPoints: [path.join(dir, "src", "entry.ts")] as [string], bundle: true, platform: "node" as const, format: "cjs" as const, write: false, logLevel: "silent" as const });
    const age = (file: string, seconds: number) => {
        const then = new Date(Date.now() - seconds * 1000);
        fs.utimesSync(file, then, then);
    };
    const entries = () => fs.readdirSync(bundleCacheDir()).filter((f) => f.endsWith(".json"));
    const tamper = (text: string) => {
        for (const name of entries()) {
            const file = path.join(bundleCacheDir(), name);
            fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), text }));
        }
    };

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "esbuild-cache-"));
        fs.mkdirSync(path.join(dir, "src"));
        fs.writeFileSync(path.join(dir, "src", "entry.ts"), 'import { answer } from "./dep";\nexport const value: number = answer;\n');
        fs.writeFileSync(path.join(dir, "src", "dep.ts"), "export const answer = 41;\n");
        // Sources saved a minute ago: a build of files saved just now is not stored (see the last test).
        for (const f of ["entry.ts", "dep.ts"]) age(path.join(dir, "src", f), 60);
        saved = { COREOS_CLUSTER_CACHE: process.env.COREOS_CLUSTER_CACHE, COREOS_CLUSTER_BUNDLE_CACHE: process.env.COREOS_CLUSTER_BUNDLE_CACHE };
        process.env.COREOS_CLUSTER_CACHE = path.join(dir, "cache");
        delete process.env.COREOS_CLUSTER_BUNDLE_CACHE;
    });
    afterEach(() => {
        for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("builds once, then serves the stored text while no input changed (a marked entry proves the hit)", () => {
        const first = cachedBuild(options());
        expect(first).to.include("41");
        expect(entries()).to.have.length(1);
        tamper("// from the cache");
        expect(cachedBuild(options())).to.equal("// from the cache");
    });

    it("builds again when an imported file changes, and stores the new text", () => {
        cachedBuild(options());
        tamper("// stale");
        const dep = path.join(dir, "src", "dep.ts");
        fs.writeFileSync(dep, "export const answer = 42;\n");
        age(dep, 30); // an edit half a minute after the first build's sources
        const rebuilt = cachedBuild(options());
        expect(rebuilt).to.include("42").and.not.to.include("stale");
        expect(cachedBuild(options())).to.equal(rebuilt);
    });

    it("keys entries by the options: another build of the same entry is not served the first one's text", () => {
        cachedBuild(options());
        const minified = cachedBuild({ ...options(), minify: true });
        expect(entries()).to.have.length(2);
        expect(minified).to.not.equal(cachedBuild(options()));
    });

    it("is off with COREOS_CLUSTER_BUNDLE_CACHE=0, and a cache it cannot write only costs the build", () => {
        cachedBuild(options());
        tamper("// from the cache");
        process.env.COREOS_CLUSTER_BUNDLE_CACHE = "0";
        expect(cachedBuild(options())).to.include("41");
        delete process.env.COREOS_CLUSTER_BUNDLE_CACHE;
        fs.rmSync(path.join(dir, "cache"), { recursive: true, force: true });
        fs.writeFileSync(path.join(dir, "cache"), "a file where the cache folder would be");
        expect(cachedBuild(options())).to.include("41");
    });

    it("derives a value once per kind and text, then serves it from disk unless it is refused as damaged (off with COREOS_CLUSTER_BUNDLE_CACHE=0)", () => {
        const calls: string[] = [];
        const derive = (text: string) => {
            calls.push(text);
            return text.toUpperCase();
        };
        expect(cachedDerivation("upper", "abc", derive)).to.equal("ABC");
        expect(cachedDerivation("upper", "abc", derive), "from disk").to.equal("ABC");
        expect(calls).to.deep.equal(["abc"]);
        expect(cachedDerivation("upper", "abd", derive), "another text").to.equal("ABD");
        expect(cachedDerivation("other", "abc", (t) => `${t}!`), "another kind").to.equal("abc!");
        expect(entries()).to.have.length(3);
        // A damaged entry (its value no longer matches the digest stored with it) is derived again.
        const stored = entries().map((name) => path.join(bundleCacheDir(), name));
        for (const file of stored) fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/"derived":"([^"]*)"/, (_m, v: string) => `"derived":"${v}-damaged"`));
        expect(cachedDerivation("upper", "abd", derive), "a damaged value").to.equal("ABD");
        expect(calls).to.deep.equal(["abc", "abd", "abd"]);
        calls.splice(2);
        // So is one that `valid` refuses (and it is stored again).
        for (const name of entries()) fs.writeFileSync(path.join(bundleCacheDir(), name), JSON.stringify({ derived: "damaged", sha256: require("crypto").createHash("sha256").update("damaged").digest("hex") }));
        const upper = (d: string) => d === d.toUpperCase();
        expect(cachedDerivation("upper", "abc", derive, upper)).to.equal("ABC");
        expect(cachedDerivation("upper", "abc", derive, upper), "stored again").to.equal("ABC");
        expect(calls).to.deep.equal(["abc", "abd", "abc"]);
        process.env.COREOS_CLUSTER_BUNDLE_CACHE = "0";
        expect(cachedDerivation("upper", "abc", derive)).to.equal("ABC");
        expect(calls, "derived again with the cache off").to.deep.equal(["abc", "abd", "abc", "abc"]);
    });

    it("does not store a build whose input was saved during it or just before (the hash may be newer than the text)", () => {
        fs.writeFileSync(path.join(dir, "src", "dep.ts"), "export const answer = 43;\n"); // saved now
        expect(cachedBuild(options())).to.include("43");
        expect(fs.existsSync(bundleCacheDir()) ? entries() : [], "nothing stored").to.deep.equal([]);
        age(path.join(dir, "src", "dep.ts"), 60);
        cachedBuild(options());
        expect(entries(), "stored once the sources have settled").to.have.length(1);
    });
});
