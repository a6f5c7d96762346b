// components/sdk-debug-stacks.ts: the SDK's per-promise debug traces capture no frames unless
// PULUMI_DEBUG_PROMISE_LEAKS (the only thing that prints them) is on; everything else the SDK does
// with those promises is unchanged.
import { expect } from "chai";
import { DebuggableModule, installDebuggableShortcut, installSdkStackShortcuts, withoutStackFrames } from "../../components/sdk-debug-stacks";

interface LeakReport {
    leakedPromises(): [Set<Promise<unknown>>, string];
    promiseDebugString(p: Promise<unknown>): string;
}

const frameLines = (stack: unknown) => String(stack).split("\n").filter((l) => l.startsWith("    at ")).length;

describe("SDK debug stacks", () => {
    it("captures no frames for the wrapped call, and restores the limit, after a throw too", () => {
        const seen: unknown[] = [];
        const original = <T>(p: Promise<T>): Promise<T> => {
            seen.push(new Error().stack);
            return p;
        };
        const limit = Error.stackTraceLimit;
        void withoutStackFrames(original)(Promise.resolve(1), "ctx");
        expect(frameLines(seen[0])).to.equal(0);
        expect(Error.stackTraceLimit).to.equal(limit);
        const throwing = withoutStackFrames(() => {
            throw new TypeError("inside");
        });
        expect(() => throwing(Promise.resolve(1), "ctx")).to.throw(TypeError, "inside");
        expect(Error.stackTraceLimit, "restored after a throw").to.equal(limit);
    });

    it("leaves a promise the SDK cannot annotate to the SDK untouched, so its error keeps its frames", () => {
        const frozen = Object.freeze(Promise.resolve(1));
        const sdk = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule;
        const error = (() => {
            try {
                void withoutStackFrames(sdk.debuggablePromise)(frozen, "a frozen promise");
            } catch (err) {
                return err as Error;
            }
            return undefined;
        })();
        expect(error, "the SDK refuses to annotate a frozen promise").to.be.instanceOf(TypeError);
        expect(frameLines(error!.stack)).to.be.greaterThan(0);
    });

    it("wraps once, and not at all when leak debugging is on (the stacks are printed then)", () => {
        const original = <T>(p: Promise<T>) => p;
        const debugging: DebuggableModule = { debugPromiseLeaks: true, debuggablePromise: original };
        installDebuggableShortcut(debugging);
        expect(debugging.debuggablePromise).to.equal(original);
        const quiet: DebuggableModule = { debugPromiseLeaks: false, debuggablePromise: original };
        installDebuggableShortcut(quiet);
        const wrapped = quiet.debuggablePromise;
        expect(wrapped).to.not.equal(original);
        installDebuggableShortcut(quiet);
        expect(quiet.debuggablePromise, "a second install keeps the first wrapper").to.equal(wrapped);
    });

    it("on the real SDK: no frames recorded, the same leak tracking and report", async () => {
        const sdk = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule & LeakReport;
        expect(sdk.debugPromiseLeaks, "this test runs without PULUMI_DEBUG_PROMISE_LEAKS").to.equal(false);
        installSdkStackShortcuts();
        const installedOnce = sdk.debuggablePromise;
        installSdkStackShortcuts();
        expect(sdk.debuggablePromise).to.equal(installedOnce);
        // The leak candidates are process-wide: other tests' are set aside and put back.
        const store = (require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<Promise<unknown>> } }).getStore();
        const others = store.leakCandidates;
        store.leakCandidates = new Set();
        try {
            const never = new Promise<number>(() => undefined);
            const resolved = Promise.resolve(2);
            void sdk.debuggablePromise(never, "a test's never-resolving promise");
            await sdk.debuggablePromise(resolved, "a test's resolved promise");
            expect(frameLines(Object.getOwnPropertyDescriptor(never, "_debugStackTrace")!.value)).to.equal(0);
            expect(sdk.promiseDebugString(never)).to.match(/^CONTEXT\(\d+\): a test's never-resolving promise\nSTACK_TRACE:\nError$/);
            expect(store.leakCandidates.has(never), "the unresolved promise is a leak candidate").to.equal(true);
            expect(store.leakCandidates.has(resolved), "the resolved one is not").to.equal(false);
            const [leaked, message] = sdk.leakedPromises();
            expect(leaked.has(never)).to.equal(true);
            expect(message).to.match(/detected that \d+ promises? (was|were) still active/);
        } finally {
            store.leakCandidates = others;
        }
    });

    it("leaves other errors' stacks mapped (ts-node's source-map-support stays in charge)", () => {
        installSdkStackShortcuts();
        const stack = new Error("here").stack ?? "";
        expect(stack).to.match(/sdk-debug-stacks\.test\.ts:\d+:\d+/);
    });
});
