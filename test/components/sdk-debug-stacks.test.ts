// components/sdk-debug-stacks.ts: the SDK's per-promise debug traces capture no frames unless
// PULUMI_DEBUG_PROMISE_LEAKS (the only thing that prints them) is on; everything else the SDK does
// with those promises is unchanged.
import { expect } from "chai";
import { DebuggableModule, installSdkStackShortcuts, withoutUnreadStacks } from "../../components/sdk-debug-stacks";

interface LeakState {
    leakedPromises(): [Set<Promise<unknown>>, string];
    promiseDebugString(p: Promise<unknown>): string;
}

describe("SDK debug stacks", () => {
    const frameLines = (stack: unknown) => String(stack).split("\n").filter((l) => l.startsWith("    at ")).length;

    it("captures no frames while leak debugging is off, all of them while it is on, and restores the limit", () => {
        const flags = { debugPromiseLeaks: false };
        const seen: unknown[] = [];
        const original = <T>(p: Promise<T>): Promise<T> => {
            seen.push(new Error().stack);
            return p;
        };
        const wrapped = withoutUnreadStacks(flags, original);
        const limit = Error.stackTraceLimit;
        void wrapped(Promise.resolve(1), "ctx");
        expect(frameLines(seen[0])).to.equal(0);
        expect(Error.stackTraceLimit).to.equal(limit);
        flags.debugPromiseLeaks = true;
        void wrapped(Promise.resolve(1), "ctx");
        expect(frameLines(seen[1])).to.be.greaterThan(0);
        flags.debugPromiseLeaks = false;
        const throwing = withoutUnreadStacks(flags, () => {
            throw new TypeError("inside");
        });
        expect(() => throwing(Promise.resolve(1), "ctx")).to.throw(TypeError, "inside");
        expect(Error.stackTraceLimit, "restored after a throw too").to.equal(limit);
    });

    it("on the real SDK: no frames recorded, leak tracking unchanged; with PULUMI_DEBUG_PROMISE_LEAKS's flag on, mapped frames as upstream", async () => {
        installSdkStackShortcuts();
        installSdkStackShortcuts();
        const sdk = require("@pulumi/pulumi/runtime/debuggable") as DebuggableModule & LeakState;
        const before = sdk.debugPromiseLeaks;
        try {
            sdk.debugPromiseLeaks = false;
            sdk.leakedPromises();
            const never = new Promise<number>(() => undefined);
            const resolved = Promise.resolve(2);
            void sdk.debuggablePromise(never, "a test's never-resolving promise");
            await sdk.debuggablePromise(resolved, "a test's resolved promise");
            expect(frameLines(Object.getOwnPropertyDescriptor(never, "_debugStackTrace")!.value)).to.equal(0);
            const [leaked, message] = sdk.leakedPromises();
            expect([...leaked], "the unresolved promise is still a leak candidate, the resolved one is not").to.deep.equal([never]);
            expect(message).to.match(/detected that 1 promise was still active/);

            sdk.debugPromiseLeaks = true;
            const debugged = new Promise<number>(() => undefined);
            void sdk.debuggablePromise(debugged, "a debugged promise");
            const report = sdk.promiseDebugString(debugged);
            expect(report).to.match(/CONTEXT\(\d+\): a debugged promise\nSTACK_TRACE:\nError\n {4}at /);
            // Mapped by ts-node's source-map-support: this file's own TypeScript name and lines.
            expect(report).to.match(/sdk-debug-stacks\.test\.ts:\d+:\d+/);
            sdk.debugPromiseLeaks = false;
            sdk.leakedPromises();
        } finally {
            sdk.debugPromiseLeaks = before;
        }
    });

    it("leaves other errors' stacks mapped (ts-node's source-map-support stays in charge)", () => {
        installSdkStackShortcuts();
        const stack = new Error("here").stack ?? "";
        expect(stack).to.match(/sdk-debug-stacks\.test\.ts:\d+:\d+/);
    });
});
