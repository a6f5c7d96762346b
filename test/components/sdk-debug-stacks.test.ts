// components/sdk-debug-stacks.ts: only the SDK's per-promise debug traces skip source maps.
import { expect } from "chai";
import { DeferredStack, plainStack, SDK_DEBUG_STACK_FILE, withPlainSdkDebugStacks } from "../../components/sdk-debug-stacks";

function site(file: string, text: string): NodeJS.CallSite {
    return { getFileName: () => file, toString: () => text } as unknown as NodeJS.CallSite;
}

describe("SDK debug stacks", () => {
    const debuggable = "/repo/node_modules/@pulumi/pulumi/runtime/debuggable.js";

    it("recognizes the SDK's debuggable.js, nothing else", () => {
        expect(SDK_DEBUG_STACK_FILE.test(debuggable)).to.equal(true);
        expect(SDK_DEBUG_STACK_FILE.test("/repo/components/debuggable.js")).to.equal(false);
    });

    it("formats the SDK's traces like V8, only when read as text, and hands every other error to the mapping formatter", () => {
        const mapped: string[] = [];
        const prepare = withPlainSdkDebugStacks((err) => (mapped.push(err.message), `mapped ${err.message}`));
        let formatted = 0;
        const counted = (file: string, text: string) => ({ getFileName: () => file, toString: () => (formatted++, text) }) as unknown as NodeJS.CallSite;
        const sdk = prepare(new Error(), [counted(debuggable, "debuggablePromise (debuggable.js:80:1)"), counted("/x.js", "f (/x.js:1:2)")]);
        expect(sdk).to.be.instanceOf(DeferredStack);
        expect(formatted, "nothing formatted before the text is asked for").to.equal(0);
        expect(`${sdk}`).to.equal("Error\n    at debuggablePromise (debuggable.js:80:1)\n    at f (/x.js:1:2)");
        expect(String(sdk)).to.equal(`${sdk}`);
        expect(formatted, "formatted once").to.equal(2);
        expect(prepare(new Error("boom"), [site("/repo/index.ts", "main (index.ts:3:4)")])).to.equal("mapped boom");
        expect(prepare(new Error("none"), [])).to.equal("mapped none");
        expect(mapped).to.deep.equal(["boom", "none"]);
        expect(plainStack(new TypeError("bad"), [])).to.equal("TypeError: bad");
        // Another error thrown inside debuggable.js keeps a plain string stack, as V8 would give it.
        expect(prepare(new TypeError("x is undefined"), [site(debuggable, "debuggablePromise (debuggable.js:81:1)")])).to.equal("TypeError: x is undefined\n    at debuggablePromise (debuggable.js:81:1)");
    });

    it("leaves real errors' stacks mapped once installed (ts-node's source-map-support stays in charge)", () => {
        require("../../components/sdk-debug-stacks").installPlainSdkDebugStacks();
        require("../../components/sdk-debug-stacks").installPlainSdkDebugStacks();
        const stack = new Error("here").stack ?? "";
        expect(stack).to.match(/sdk-debug-stacks\.test\.ts:\d+:\d+/);
    });

    it("still gives the SDK's leak report its stack text (the real debuggable.js, installed)", () => {
        require("../../components/sdk-debug-stacks").installPlainSdkDebugStacks();
        const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>; promiseDebugString(p: Promise<unknown>): string };
        const p = Promise.resolve(1);
        void debuggable.debuggablePromise(p, "a test's promise");
        // By shape: the wrapper installed first in this process may come from another load of the module.
        const stored = Object.getOwnPropertyDescriptor(p, "_debugStackTrace")!.value;
        expect(stored, "not formatted when the promise is made").not.to.be.a("string");
        expect(stored.constructor.name).to.equal(DeferredStack.name);
        const report = debuggable.promiseDebugString(p);
        expect(report).to.match(/CONTEXT\(\d+\): a test's promise\nSTACK_TRACE:\nError\n {4}at (Object\.)?debuggablePromise \(.*debuggable\.js:\d+:\d+\)\n {4}at /);
        expect(report).to.match(/sdk-debug-stacks\.test\.(ts|js):\d+:\d+/);
    });
});
