// The SDK's per-resource source positions, mapped through the same source maps without cloning
// every call site.
//
// Why: for every resource, @pulumi/pulumi's `Resource.callsites()` reads `new Error().stack` with no
// frame limit and parses file:line:column out of each line (the resource's source position and the
// stack trace sent to the engine). Under ts-node, Error.prepareStackTrace is source-map-support's:
// before formatting a frame it clones it into an object of some thirty closures. For the large
// config that was about 20 MiB of the heap its evaluation promoted, and 2.5x the time per stack
// (docs/performance.md, "Where program evaluation's time went", fourth pass).
//
// This formats those stacks, and only those, with source-map-support's own pieces: its source-map
// lookup (`mapSourcePosition`, same caches, same ts-node handlers) and its own line formatter (the
// `toString` of a call site it wrapped), applied to a light view of each frame instead of a clone.
// Frames the view does not cover (native, eval, async, no file) go through its `wrapCallSite` as
// before. It is used only while the installed prepareStackTrace is source-map-support's own hook,
// and the first stack of each process is formatted both ways: if the texts differ, this stays off.
import * as path from "path";

type PrepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => unknown;

interface Position {
    source: string;
    line: number;
    column: number;
    name?: string | null;
}

interface WrapState {
    nextPosition: Position | null;
    curPosition: Position | null;
}

/** What is used of @cspotcode/source-map-support (ts-node's copy, already loaded). */
export interface SourceMapSupport {
    wrapCallSite(frame: NodeJS.CallSite, state?: WrapState): NodeJS.CallSite;
    mapSourcePosition(position: { source: string; line: number; column: number }): Position;
}

interface SharedData {
    emptyCacheBetweenOperations?: boolean;
    errorPrepareStackTraceHook?: { enabled: boolean; installedValue: unknown };
}

/** The file of the SDK's `Resource.callsites()`. */
const SDK_RESOURCE_FILE = /[\\/]@pulumi[\\/]pulumi[\\/]resource\.js$/;

export function isSdkCallsitesStack(frames: NodeJS.CallSite[]): boolean {
    const top = frames[0];
    if (top === undefined) return false;
    const file = top.getFileName();
    return typeof file === "string" && SDK_RESOURCE_FILE.test(file) && top.getFunctionName() === "callsites";
}

/** A wrapped frame as source-map-support's clone presents it: the mapped position, the rest read from the frame. */
class MappedFrame {
    constructor(
        private readonly frame: NodeJS.CallSite,
        private readonly position: Position,
        private readonly next: Position | null,
    ) {}
    isNative(): boolean {
        return false;
    }
    isEval(): boolean {
        return false;
    }
    isAsync(): boolean {
        return false;
    }
    getScriptNameOrSourceURL(): string {
        return this.position.source;
    }
    getFileName(): string {
        return this.position.source;
    }
    getLineNumber(): number {
        return this.position.line;
    }
    getColumnNumber(): number {
        return this.position.column + 1;
    }
    getFunctionName(): string | null {
        return (this.next !== null && this.next.name) || this.frame.getFunctionName();
    }
    isConstructor(): boolean {
        return this.frame.isConstructor();
    }
    isToplevel(): boolean {
        return this.frame.isToplevel();
    }
    getTypeName(): string | null {
        return this.frame.getTypeName();
    }
    getMethodName(): string | null {
        return this.frame.getMethodName();
    }
}

/** Always 0 on the Node versions this project runs on; kept so the arithmetic is source-map-support's own. */
const HEADER_LENGTH = /^v(10\.1[6-9]|10\.[2-9][0-9]|10\.[0-9]{3,}|1[2-9]\d*|[2-9]\d|\d{3,}|11\.11)/.test(process.version) ? 0 : 62;

/**
 * The stack text source-map-support's prepareStackTrace gives, for a plain Error: the same loop
 * (last frame first, each frame's name may come from its caller's mapped position).
 */
export function formatMappedStack(support: SourceMapSupport, toText: (this: unknown) => string, err: Error, frames: NodeJS.CallSite[]): string {
    const state: WrapState = { nextPosition: null, curPosition: null };
    const lines: string[] = new Array(frames.length);
    for (let i = frames.length - 1; i >= 0; i--) {
        const frame = frames[i];
        const source = frame.isNative() ? undefined : frame.getFileName() || frame.getScriptNameOrSourceURL();
        // Eval and async frames are left to source-map-support: the view does not present their origin or promise index.
        if (source && !source.startsWith("wasm://") && !frame.isEval() && !frame.isAsync()) {
            // As source-map-support reads them (a frame with a file has both).
            const line = frame.getLineNumber() as number;
            let column = (frame.getColumnNumber() as number) - 1;
            if (line === 1 && column > HEADER_LENGTH) column -= HEADER_LENGTH; // frame.isEval() is false here
            const position = support.mapSourcePosition({ source, line, column });
            state.curPosition = position;
            lines[i] = `\n    at ${toText.call(new MappedFrame(frame, position, state.nextPosition))}`;
        } else {
            lines[i] = `\n    at ${String(support.wrapCallSite(frame, state))}`;
        }
        state.nextPosition = state.curPosition;
    }
    return Error.prototype.toString.call(err) + lines.join("");
}

/** ts-node's source-map-support when it is already loaded (whether its hook is the installed one is checked per stack); else undefined. */
export function loadedSourceMapSupport(): SourceMapSupport | undefined {
    try {
        const tsNode = path.dirname(require.resolve("ts-node/package.json"));
        const file = require.resolve("@cspotcode/source-map-support", { paths: [tsNode] });
        // Never a second copy: it would add its handlers to the shared ones.
        return require.cache[file] ? (require(file) as SourceMapSupport) : undefined;
    } catch {
        return undefined;
    }
}

function sharedData(): SharedData | undefined {
    return (globalThis as Record<symbol, SharedData | undefined>)[Symbol.for("source-map-support/sharedData")];
}

/**
 * A prepareStackTrace that formats the SDK's callsites stacks as above and hands every other error
 * (and those, whenever the shortcut does not apply) to `mapped`.
 */
export function withMappedSdkSourcePositions(mapped: PrepareStackTrace, support: SourceMapSupport): PrepareStackTrace {
    let toText: ((this: unknown) => string) | undefined;
    let verified = false;
    let off = false;
    return function prepareStackTrace(err, frames) {
        if (off || !isSdkCallsitesStack(frames) || Object.getPrototypeOf(err) !== Error.prototype) return mapped(err, frames);
        const shared = sharedData();
        const hook = shared?.errorPrepareStackTraceHook;
        if (!hook || !hook.enabled || hook.installedValue !== mapped || shared?.emptyCacheBetweenOperations) return mapped(err, frames);
        // source-map-support's line formatter, from a clone it made of the top frame (it has a file).
        toText ??= (support.wrapCallSite(frames[0], { nextPosition: null, curPosition: null }) as unknown as { toString(this: unknown): string }).toString;
        const text = formatMappedStack(support, toText, err, frames);
        if (!verified) {
            const reference = mapped(err, frames);
            verified = true;
            if (reference !== text) {
                off = true;
                return reference;
            }
        }
        return text;
    };
}
