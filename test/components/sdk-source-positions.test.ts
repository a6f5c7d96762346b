// components/sdk-source-positions.ts: the SDK's per-resource stacks come out exactly as
// source-map-support formats them, from its own pieces, and the shortcut steps aside otherwise.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as esbuild from "esbuild";
import * as pulumi from "@pulumi/pulumi";
import { formatMappedStack, isSdkCallsitesStack, loadedSourceMapSupport, SourceMapSupport, withMappedSdkSourcePositions } from "../../components/sdk-source-positions";
import { installSdkStackShortcuts } from "../../components/sdk-debug-stacks";

type PrepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => unknown;

/** source-map-support's own prepareStackTrace, as ts-node installed it. */
function sourceMapHook(): PrepareStackTrace {
    const shared = (globalThis as Record<symbol, { errorPrepareStackTraceHook?: { installedValue: PrepareStackTrace } } | undefined>)[Symbol.for("source-map-support/sharedData")];
    const hook = shared?.errorPrepareStackTraceHook?.installedValue;
    if (!hook) throw new Error("ts-node's source-map-support is not installed in this test process");
    return hook;
}

/** The raw call sites of a stack captured here, with every frame. */
function framesHere(): { err: Error; frames: NodeJS.CallSite[] } {
    const saved = Error.prepareStackTrace;
    const limit = Error.stackTraceLimit;
    try {
        Error.stackTraceLimit = Number.POSITIVE_INFINITY;
        Error.prepareStackTrace = (_e, frames) => frames;
        const err = new Error();
        return { err, frames: err.stack as unknown as NodeJS.CallSite[] };
    } finally {
        Error.prepareStackTrace = saved;
        Error.stackTraceLimit = limit;
    }
}

class Shapes {
    static fromStatic() {
        return framesHere();
    }
    viaMethod() {
        return framesHere();
    }
}
class Built {
    captured = framesHere();
}

/**
 * Frames in JavaScript whose source map carries names (minified identifiers): source-map-support then
 * names a frame after its caller's mapped position, which TypeScript's own maps (no names) never exercise.
 */
function namedMapFrames(dir: string): { err: Error; frames: NodeJS.CallSite[] } {
    const source = "export function outerWithLongName(capture: () => unknown) {\n    function innerWithLongName() {\n        return capture();\n    }\n    return innerWithLongName();\n}\n";
    const { code } = esbuild.transformSync(source, { loader: "ts", format: "cjs", minifyIdentifiers: true, sourcemap: "inline", sourcefile: path.join(dir, "named-original.ts") });
    const file = path.join(dir, "named.js");
    fs.writeFileSync(file, code);
    return (require(file) as { outerWithLongName(capture: () => unknown): { err: Error; frames: NodeJS.CallSite[] } }).outerWithLongName(framesHere);
}

/** Stacks of many shapes: functions, methods, constructors, async frames, eval, built-ins between frames. */
async function sampleStacks(dir: string): Promise<Array<{ err: Error; frames: NodeJS.CallSite[] }>> {
    const deep = (n: number): { err: Error; frames: NodeJS.CallSite[] } => (n === 0 ? framesHere() : deep(n - 1));
    const afterAwait = async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return framesHere();
    };
    const named = function namedExpression() {
        return framesHere();
    };
    return [
        framesHere(),
        deep(5),
        Shapes.fromStatic(),
        new Shapes().viaMethod(),
        new Built().captured,
        named(),
        [0].map(() => framesHere())[0],
        await afterAwait(),
        await Promise.all([afterAwait()]).then(([s]) => s),
        // eslint-disable-next-line no-eval
        eval("(() => framesHere())()") as { err: Error; frames: NodeJS.CallSite[] },
        { ...framesHere(), err: new Error("with a message") },
        namedMapFrames(dir),
    ];
}

describe("SDK source positions", () => {
    const support = loadedSourceMapSupport() as SourceMapSupport;

    it("finds ts-node's source-map-support, already loaded", () => {
        expect(support, "ts-node registered it for this test run").to.not.equal(undefined);
        expect(support.mapSourcePosition).to.be.a("function");
    });

    it("formats every shape of stack exactly as source-map-support does", async () => {
        const reference = sourceMapHook();
        // The minified file must still be there when its frames are formatted (its map is read then).
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sdk-source-positions-"));
        try {
            const stacks = await sampleStacks(dir);
            const toText = (support.wrapCallSite(stacks[0].frames[0]) as unknown as { toString(this: unknown): string }).toString;
            let mappedToTypeScript = 0;
            let namedByMap = 0;
            for (const { err, frames } of stacks) {
                const expected = reference(err, frames) as string;
                expect(formatMappedStack(support, toText, err, frames)).to.equal(expected);
                if (/sdk-source-positions\.test\.ts:\d+:\d+/.test(expected)) mappedToTypeScript++;
                if (/at innerWithLongName \(.*named-original\.ts:3:\d+\)/.test(expected)) namedByMap++;
            }
            expect(mappedToTypeScript, "the stacks went through source maps (this file's .ts lines)").to.equal(stacks.length);
            expect(namedByMap, "a frame named from its caller's mapped position (the minified stack)").to.equal(1);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("gives the SDK's Resource.callsites() the same positions with and without the shortcut", () => {
        installSdkStackShortcuts();
        const installed = Error.prepareStackTrace;
        const reference = sourceMapHook();
        expect(installed, "installed over source-map-support").to.not.equal(reference);
        const callsites = () => JSON.stringify((pulumi.Resource as unknown as { callsites(): unknown[] }).callsites());
        const both = (): [string, string] => {
            const out: string[] = [];
            try {
                for (const prepare of [reference, installed]) {
                    Error.prepareStackTrace = prepare as typeof Error.prepareStackTrace;
                    out.push(callsites());
                }
            } finally {
                Error.prepareStackTrace = installed;
            }
            return [out[0], out[1]];
        };
        const inMethod = new (class {
            run() {
                return both();
            }
        })().run();
        for (const [withoutShortcut, withShortcut] of [both(), inMethod, [0].map(() => both())[0]]) {
            expect(withShortcut).to.equal(withoutShortcut);
            expect(withShortcut).to.match(/sdk-source-positions\.test\.ts","line":\d+/);
        }
    });

    it("recognizes only the SDK's callsites stacks", () => {
        const site = (file: string | null, fn: string | null) => ({ getFileName: () => file, getFunctionName: () => fn }) as unknown as NodeJS.CallSite;
        expect(isSdkCallsitesStack([site("/r/node_modules/@pulumi/pulumi/resource.js", "callsites")])).to.equal(true);
        expect(isSdkCallsitesStack([site("/r/node_modules/@pulumi/pulumi/resource.js", "stackTrace")])).to.equal(false);
        expect(isSdkCallsitesStack([site("/r/components/resource.js", "callsites")])).to.equal(false);
        expect(isSdkCallsitesStack([site(null, null)])).to.equal(false);
        expect(isSdkCallsitesStack([])).to.equal(false);
    });

    it("is taken for the SDK's stacks, and steps aside for good when its first one differs from source-map-support's", () => {
        const reference = sourceMapHook();
        const frames = realSdkFrames();
        const err = new Error();
        expect(isSdkCallsitesStack(frames), "the SDK's own Resource.callsites() stack").to.equal(true);
        let lookups = 0;
        const counted = (shift: number): SourceMapSupport => ({
            wrapCallSite: support.wrapCallSite,
            mapSourcePosition: (p) => (lookups++, { ...support.mapSourcePosition(p), line: support.mapSourcePosition(p).line + shift }),
        });

        const right = withMappedSdkSourcePositions(reference, counted(0));
        expect(right(err, frames)).to.equal(reference(err, frames));
        expect(lookups, "formatted by the shortcut").to.be.greaterThan(0);
        lookups = 0;
        expect(right(err, frames)).to.equal(reference(err, frames));
        expect(lookups, "and still after the first stack was verified").to.be.greaterThan(0);

        lookups = 0;
        const wrong = withMappedSdkSourcePositions(reference, counted(1));
        expect(wrong(err, frames), "a mismatch hands back source-map-support's text").to.equal(reference(err, frames));
        expect(lookups, "tried once").to.be.greaterThan(0);
        lookups = 0;
        expect(wrong(err, frames)).to.equal(reference(err, frames));
        expect(lookups, "off after the mismatch").to.equal(0);
    });

    it("leaves errors other than a plain Error to source-map-support (its header rules for Node's own errors stay its own)", () => {
        const reference = sourceMapHook();
        const frames = realSdkFrames();
        let lookups = 0;
        const counting: SourceMapSupport = { wrapCallSite: support.wrapCallSite, mapSourcePosition: (p) => (lookups++, support.mapSourcePosition(p)) };
        const nodeError = (() => {
            try {
                path.resolve(123 as unknown as string);
            } catch (err) {
                return err as Error;
            }
            throw new Error("path.resolve(123) did not throw");
        })();
        const shortcut = withMappedSdkSourcePositions(reference, counting);
        const text = shortcut(nodeError, frames) as string;
        expect(text).to.equal(reference(nodeError, frames));
        expect(lookups, "not taken").to.equal(0);
    });

    it("is never tried under any prepareStackTrace but source-map-support's hook", () => {
        const frames = realSdkFrames();
        let lookups = 0;
        const counting: SourceMapSupport = { wrapCallSite: support.wrapCallSite, mapSourcePosition: (p) => (lookups++, support.mapSourcePosition(p)) };
        const other: PrepareStackTrace = (_e, f) => `other ${f.length}`;
        expect(withMappedSdkSourcePositions(other, counting)(new Error(), frames)).to.equal(`other ${frames.length}`);
        expect(lookups).to.equal(0);
    });
});

/** The call sites of the SDK's own Resource.callsites() stack, captured as it reads them. */
function realSdkFrames(): NodeJS.CallSite[] {
    const saved = Error.prepareStackTrace;
    let captured: NodeJS.CallSite[] = [];
    try {
        Error.prepareStackTrace = (_e, frames) => ((captured = frames), "");
        (pulumi.Resource as unknown as { callsites(): unknown[] }).callsites();
    } finally {
        Error.prepareStackTrace = saved;
    }
    return captured;
}
