// The SDK's debug-only stack traces, formatted without source maps.
//
// Why: @pulumi/pulumi records `new Error().stack` for every promise it makes (runtime/debuggable.js:
// one per input and output property of every resource), only to print it if that promise leaks at
// exit. Under ts-node (how `pulumi up` runs this program) Error.prepareStackTrace is
// source-map-support's, which maps every frame through a source map as the stack is read: the
// largest single cost of evaluating this program (docs/performance.md, "Where program evaluation's
// time went"): a GCE resource has dozens of properties, so the SDK formats dozens of mapped stacks
// per resource.
//
// This keeps every other error's stack exactly as before (mapped). Only the errors the SDK creates
// inside debuggablePromise get V8's plain format (frames of the transpiled JavaScript, same
// functions and files), and only a leaked-promise report ever prints them. So they are not even
// formatted until then: their `stack` is a DeferredStack, which the report's template string turns
// into the same text (formatting ten call sites per promise was still the largest part left).
const INSTALLED = Symbol.for("coreos-cluster.sdkDebugStacks");

/** The file whose `new Error().stack` is the SDK's per-promise debug trace. */
export const SDK_DEBUG_STACK_FILE = /[\\/]@pulumi[\\/]pulumi[\\/]runtime[\\/]debuggable\.js$/;

type PrepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => unknown;

/** V8's own format: "Error: message" then "    at <frame>" lines. */
export function plainStack(err: Error, frames: NodeJS.CallSite[]): string {
    const head = `${err.name}${err.message ? `: ${err.message}` : ""}`;
    return frames.length === 0 ? head : `${head}\n    at ${frames.join("\n    at ")}`;
}

/** A stack formatted only when it is turned into text (the SDK's leak report: `${p._debugStackTrace}`). */
export class DeferredStack {
    private text?: string;
    constructor(
        private readonly err: Error,
        private frames: NodeJS.CallSite[] | undefined,
    ) {}

    toString(): string {
        if (this.text === undefined) {
            this.text = plainStack(this.err, this.frames ?? []);
            this.frames = undefined;
        }
        return this.text;
    }
}

/** A prepareStackTrace that defers the SDK's debug traces (plain format) and hands every other error to `mapped`. */
export function withPlainSdkDebugStacks(mapped: PrepareStackTrace): PrepareStackTrace {
    return function prepareStackTrace(err, frames) {
        const top = frames[0]?.getFileName();
        if (top !== undefined && top !== null && SDK_DEBUG_STACK_FILE.test(top)) {
            // Only the SDK's own `new Error().stack` is deferred; anything else thrown in there keeps a string.
            return Object.getPrototypeOf(err) === Error.prototype && err.message === "" ? new DeferredStack(err, frames) : plainStack(err, frames);
        }
        return mapped(err, frames);
    };
}

/**
 * Installs the above over the current Error.prepareStackTrace, once per process. Nothing to do when
 * none is installed (compiled JavaScript without source-map-support): V8's format is already cheap.
 */
export function installPlainSdkDebugStacks(): void {
    const current = Error.prepareStackTrace as PrepareStackTrace | undefined;
    if (current === undefined || (current as { [INSTALLED]?: boolean })[INSTALLED]) return;
    const wrapped = withPlainSdkDebugStacks(current);
    Object.defineProperty(wrapped, INSTALLED, { value: true });
    Error.prepareStackTrace = wrapped as typeof Error.prepareStackTrace;
}
