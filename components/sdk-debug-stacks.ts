// The SDK's stack traces, kept cheap: its per-promise debug traces and its per-resource source
// positions (components/sdk-source-positions.ts).
//
// Why: @pulumi/pulumi wraps every promise it makes (one per input and output property of every
// resource) in `debuggablePromise` (runtime/debuggable.js), which records `new Error().stack` on it.
// That text is read in one place only: the leaked-promise report at exit, and only when
// PULUMI_DEBUG_PROMISE_LEAKS is set (without it the report counts the leaks and asks for a re-run
// with the variable). Capturing and formatting those stacks anyway was the largest single cost of
// evaluating this program (docs/performance.md, "Where program evaluation's time went"): a GCE
// resource has dozens of properties, and under ts-node every frame was mapped through a source map.
//
// So, unless PULUMI_DEBUG_PROMISE_LEAKS is set (the SDK reads it once, when it loads), the SDK's
// debuggablePromise runs with no frames to capture (Error.stackTraceLimit 0 for that call only);
// everything else it does (the leak candidates, the exit check, the count in its report) is
// unchanged. With the variable set nothing is wrapped, so a leak investigation gets full, mapped
// stacks exactly as upstream gives them. A promise the SDK cannot annotate (a frozen one a program
// passes as an input) also goes through untouched, so the error it throws keeps its frames.
import { loadedSourceMapSupport, withMappedSdkSourcePositions } from "./sdk-source-positions";

const INSTALLED = Symbol.for("coreos-cluster.sdkStackShortcuts");

type PrepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => unknown;

/** What is used of @pulumi/pulumi/runtime/debuggable.js. */
export interface DebuggableModule {
    debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
    debugPromiseLeaks: boolean;
}

/** `original`, capturing no stack frames (for a promise it can annotate). */
export function withoutStackFrames(original: DebuggableModule["debuggablePromise"]): DebuggableModule["debuggablePromise"] {
    return function debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T> {
        if (!Object.isExtensible(p)) return original(p, ctx);
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return original(p, ctx);
        } finally {
            Error.stackTraceLimit = limit;
        }
    };
}

function installed(fn: unknown): boolean {
    return typeof fn === "function" && (fn as { [INSTALLED]?: boolean })[INSTALLED] === true;
}

function mark<T extends object>(fn: T): T {
    Object.defineProperty(fn, INSTALLED, { value: true });
    return fn;
}

/** Wraps the module's debuggablePromise as above, once, unless its leak debugging is on. */
export function installDebuggableShortcut(sdk: DebuggableModule): void {
    if (!sdk.debugPromiseLeaks && !installed(sdk.debuggablePromise)) sdk.debuggablePromise = mark(withoutStackFrames(sdk.debuggablePromise));
}

/**
 * Installs both shortcuts, once per process: the SDK's debuggablePromise as above, and, when
 * ts-node's source-map-support formats stacks, the cheaper mapping of the SDK's source positions.
 */
export function installSdkStackShortcuts(): void {
    installDebuggableShortcut(require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule);
    const current = Error.prepareStackTrace as PrepareStackTrace | undefined;
    const support = loadedSourceMapSupport();
    if (current === undefined || installed(current) || support === undefined) return;
    Error.prepareStackTrace = mark(withMappedSdkSourcePositions(current, support)) as typeof Error.prepareStackTrace;
}
