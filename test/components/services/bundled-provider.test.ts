// The bundles the service-registration providers reach state as (components/services/bundled-provider.ts):
// deterministic text with no path of this checkout, no module loaded when the bundle loads, one
// compile per provider process however many deserialized shims call it, and the shim running the
// bundled code rather than the modules this process loaded. No etcd needed: check() does no I/O.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as fc from "fast-check";
import { bundledProvider, bundleOf, packBundle, serializedProviderText, unpackBundle, withUnpackedBundles } from "../../../components/services/bundled-provider";
import { serviceRegistrationSetProvider, SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../../../components/services/service-registration-set";

const requireFromString: (code: string) => any = require("require-from-string");
const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

/** Every module the repository bundles as a provider: the `bundledProvider(require.resolve(...))` calls in components/ and router/. */
function bundledEntries(): string[] {
    const entries: string[] = [];
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const file = path.join(dir, e.name);
            if (e.isDirectory()) walk(file);
            else if (file.endsWith(".ts")) {
                for (const m of fs.readFileSync(file, "utf8").matchAll(/bundledProvider\(require\.resolve\("([^"]+)"\)\)/g)) entries.push(require.resolve(path.resolve(path.dirname(file), m[1])));
            }
        }
    };
    for (const dir of ["components", "router"]) walk(path.join(REPO_ROOT, dir));
    return entries;
}
const SET_ENTRY = require.resolve("../../../components/services/service-registration-set-provider");
const REGISTRY = "__coreosClusterBundledProviders";

describe("bundled providers", function () {
    this.timeout(30000);

    it("bundle the same text every time, naming no path of this checkout and loading no module up front", () => {
        const first = bundleOf(SET_ENTRY);
        expect(bundleOf(SET_ENTRY)).to.equal(first);
        const checkout = REPO_ROOT;
        expect(first).not.to.include(checkout);
        expect(first, "the repository's modules are inside").to.include("components/services/service-store.ts");
        expect(first.split("\n").filter((line) => /^\S.*\brequire\(/.test(line)), "modules required at load").to.deep.equal([]);
    });

    it("compile once per process, however many deserialized copies of the shim call them", async () => {
        const text = (await pulumi.runtime.serializeFunction(() => serviceRegistrationSetProvider, { allowSecrets: true })).text;
        const registry = () => ((globalThis as any)[REGISTRY] as Map<string, unknown> | undefined) ?? new Map();
        const news = { resourceName: "twice", services: [{ service: "web", scheme: "http", hosts: ["10.0.0.1:80"] }], connection: { endpoints: ["http://127.0.0.1:2379"] }, providerVersion: SERVICE_REGISTRATION_SET_PROVIDER_VERSION };
        await requireFromString(text).handler().check({}, news);
        const loaded = [...registry().values()];
        await requireFromString(text).handler().check({}, news);
        await serviceRegistrationSetProvider.check({}, news);
        expect([...registry().values()]).to.deep.equal(loaded);
        expect(loaded.some((p) => typeof (p as { create?: unknown }).create === "function")).to.equal(true);
    });

    it("hand the engine a written-out shim (no closure serializer) that runs the same bundle, compiled once", async () => {
        const text = serializedProviderText(serviceRegistrationSetProvider)!;
        expect(text, "deterministic").to.equal(serializedProviderText(bundledProvider(SET_ENTRY)));
        expect(text).to.include("exports.handler");
        const packed = /^const brotli = ("[^"]*");$/m.exec(text)?.[1];
        expect(packed, "the shim carries the bundle packed").to.be.a("string");
        expect(unpackBundle(JSON.parse(packed!)), "the bundle, byte for byte").to.equal(bundleOf(SET_ENTRY));
        expect(text.length, "packed: well under half the bundle's text").to.be.below(bundleOf(SET_ENTRY).length / 2);
        expect(withUnpackedBundles(text)).not.to.include(REPO_ROOT);
        expect(withUnpackedBundles(text), "what a scan of the shim sees: the bundle itself").to.include(bundleOf(SET_ENTRY));
        const news = { resourceName: "bad", services: [{ service: "web", scheme: "udp", hosts: ["10.0.0.1"] }], connection: { endpoints: ["http://127.0.0.1:2379"] } };
        const before = [...(((globalThis as any)[REGISTRY] as Map<string, unknown> | undefined) ?? new Map()).keys()];
        const fromText = await requireFromString(text).handler().check({}, news);
        expect(fromText.failures?.map((f: { reason: string }) => f.reason)).to.deep.equal((await serviceRegistrationSetProvider.check({}, news)).failures?.map((f) => f.reason));
        const after = [...((globalThis as any)[REGISTRY] as Map<string, unknown>).keys()];
        expect(after.length - before.length, "one compile shared with the in-process shim").to.be.at.most(1);
        expect(serializedProviderText({} as never), "only bundledProvider's providers have a text").to.equal(undefined);
    });

    it("leave __provider to the engine: no diff reads it (checks that reuse their own work compare it), and each exports all six operations", () => {
        // The packed text changes with the code, esbuild or the zlib Node was built with. Each diff()
        // compares its own named inputs (read in review, not provable here); this holds them to never
        // naming __provider, so a new packed text alone is no change. A check may compare it, to know that
        // the same code derived something from the same inputs before (components/services/checked-before.ts):
        // in such a bundle the name appears once, in checkedBefore, and only its check reaches that test.
        const entries = bundledEntries();
        expect(entries.length, "the providers found").to.be.at.least(18);
        const checksThatReuse = new Set(["local-machine-provider.ts", "local-prometheus-provider.ts"]);
        for (const entry of entries) {
            const name = path.basename(entry);
            expect(bundleOf(entry).split("__provider").length - 1, path.relative(REPO_ROOT, entry)).to.equal(checksThatReuse.has(name) ? 1 : 0);
            if (checksThatReuse.has(name)) {
                const provider = requireFromString(bundleOf(entry)).provider;
                expect(provider.check.toString(), name).to.match(/\b(planC|c)heckedBefore\(/);
                for (const op of ["diff", "create", "read", "update", "delete"]) expect(provider[op].toString(), `${name} ${op}`).not.to.match(/checkedBefore|CheckedBefore|PROVIDER_CODE|__provider/);
            }
            const exported = requireFromString(bundleOf(entry)).provider;
            for (const op of ["check", "diff", "create", "read", "update", "delete"]) expect(exported?.[op], `${path.relative(REPO_ROOT, entry)} ${op}`).to.be.a("function");
        }
    });

    it("unpack, for scans, every shim in state's JSON (each bundle once), and refuse a shim it cannot read", () => {
        const set = serializedProviderText(serviceRegistrationSetProvider)!;
        const guard = serializedProviderText(bundledProvider(require.resolve("../../../components/guards/member-count-guard-provider")))!;
        const state = JSON.stringify({ resources: [{ inputs: { __provider: set }, outputs: { __provider: set } }, { inputs: { __provider: guard } }] });
        const scanned = withUnpackedBundles(state);
        expect(scanned).to.include(bundleOf(SET_ENTRY)).and.to.include(bundleOf(require.resolve("../../../components/guards/member-count-guard-provider")));
        expect(scanned.split(bundleOf(SET_ENTRY)).length - 1, "each bundle once").to.equal(1);
        expect(withUnpackedBundles("no shim here")).to.equal("no shim here");
        expect(() => withUnpackedBundles(JSON.stringify(state)), "escaped twice").to.throw(/3 bundled-provider shim\(s\), but only 0/);
        expect(() => withUnpackedBundles(set.replace("const brotli", "const zipped")), "a changed shim").to.throw(/only 0 bundle/);
        // A shim an earlier version wrote (its bundle packed with raw DEFLATE), as older states still hold in outputs.
        const legacyCode = "exports.provider = { create() {} }; // the earlier bundle";
        const legacy = `// coreos-cluster bundled provider legacy.ts\nconst packed = ${JSON.stringify(require("zlib").deflateRawSync(Buffer.from(legacyCode), { level: 9 }).toString("base64"))};\n`;
        expect(withUnpackedBundles(JSON.stringify({ outputs: { __provider: legacy }, inputs: { __provider: set } }))).to.include(legacyCode).and.to.include(bundleOf(SET_ENTRY));
    });

    it("pack any text so that it unpacks to the same text, and the same text the same way", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary", maxLength: 2000 }), (code) => {
                const packed = packBundle(code);
                expect(packed).to.match(/^[A-Za-z0-9+/]*={0,2}$/);
                expect(packBundle(code)).to.equal(packed);
                expect(unpackBundle(packed)).to.equal(code);
            }),
        );
    });

    it("run the bundled code: its refusals name the resource and field, like the module's", async () => {
        const shim = bundledProvider(SET_ENTRY);
        const { provider: moduleProvider } = await import("../../../components/services/service-registration-set-provider");
        const news = { resourceName: "bad", services: [{ service: "web", scheme: "udp", hosts: ["10.0.0.1"] }], connection: { endpoints: ["http://127.0.0.1:2379"] } };
        const fromBundle = await shim.check({}, news);
        expect(fromBundle.failures?.map((f) => f.reason)).to.deep.equal((await moduleProvider.check!({}, news)).failures?.map((f) => f.reason));
        expect(fromBundle.failures?.[0].reason).to.match(/^ServiceRegistrationSet "bad": services\[0\]\.scheme/);
        // The shim's operations are the bundle's, not this process's modules.
        expect(shim.check).not.to.equal(moduleProvider.check);
    });

    it("say which bundle is broken when it exports no provider", () => {
        const broken = bundledProvider(require.resolve("../../../model/service-keys"));
        return broken.check({}, {}).then(
            () => expect.fail("a bundle without a provider export must be refused"),
            (err: Error) => expect(err.message).to.match(/bundled provider service-keys\.ts exports no "provider"/),
        );
    });
});
