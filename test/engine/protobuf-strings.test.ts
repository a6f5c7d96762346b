// scripts/engine/protobuf-strings.js: the SDK's protobuf strings through Node's UTF-8 coder. Each
// case runs in a fresh node process, as the engine starts the runner and the provider, so the
// patch never touches this process's SDK: the same engine messages must come out byte for byte as
// google-protobuf's own coder writes them, and read back to the same values.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fc from "fast-check";
import * as path from "path";
import { REPO_ROOT } from "../support/engine";

const PATCH = path.join(REPO_ROOT, "scripts", "engine", "protobuf-strings.js");
const SDK_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [REPO_ROOT] }));

/** Runs `body` in a fresh node (with the patch installed first when `patched`); stdin is `input`, stdout parsed as JSON. */
function runNode(body: string, patched: boolean, input = "", env: Record<string, string> = {}): any {
    const script = `${patched ? `require(${JSON.stringify(PATCH)}).install();\n` : ""}${body}`;
    const res = childProcess.spawnSync(process.execPath, ["-e", script], { cwd: REPO_ROOT, input, encoding: "utf8", timeout: 60000, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0) throw new Error(`node exited ${res.status}:\n${res.stderr}`);
    return JSON.parse(res.stdout.trim().split("\n").pop()!);
}

/**
 * For each input object: a CheckRequest and a DiffRequest of the provider protocol carrying it as
 * olds and news (the messages that carry a dynamic resource's inputs), serialized (base64), and
 * each read back to JavaScript.
 */
const ENCODE_AND_DECODE = `
const sdk = ${JSON.stringify(SDK_DIR)};
const providerPb = require(require.resolve("./proto/provider_pb.js", { paths: [sdk] }));
const { Struct } = require(require.resolve("google-protobuf/google/protobuf/struct_pb.js", { paths: [sdk] }));
const inputs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = inputs.map((props) => {
    const check = new providerPb.CheckRequest();
    check.setUrn("urn:pulumi:local::coreos-cluster::pulumi-nodejs:dynamic:Resource::" + (props.name ?? ""));
    check.setOlds(Struct.fromJavaScript(props));
    check.setNews(Struct.fromJavaScript(props));
    const diff = new providerPb.DiffRequest();
    diff.setId(String(props.name ?? ""));
    diff.setOlds(Struct.fromJavaScript(props));
    diff.setNews(Struct.fromJavaScript(props));
    diff.setIgnorechangesList([String(props.name ?? "")]);
    const checkBytes = check.serializeBinary();
    const diffBytes = diff.serializeBinary();
    const checkBack = providerPb.CheckRequest.deserializeBinary(checkBytes);
    const diffBack = providerPb.DiffRequest.deserializeBinary(diffBytes);
    return {
        check: Buffer.from(checkBytes).toString("base64"),
        diff: Buffer.from(diffBytes).toString("base64"),
        back: { urn: checkBack.getUrn(), olds: checkBack.getOlds().toJavaScript(), news: diffBack.getNews().toJavaScript(), id: diffBack.getId(), ignore: diffBack.getIgnorechangesList() },
    };
});
const jspb = require(require.resolve("google-protobuf", { paths: [sdk] }));
console.log(JSON.stringify({ patched: jspb.BinaryReader.prototype[Symbol.for("coreos-cluster.protobuf-strings")] === true, out }));`;

/** Property values as a dynamic resource's inputs hold them: text of every plane, nested, in lists. */
const text = fc.string({ unit: fc.oneof(fc.constantFrom("a", "\n", "\0", "é", "ß", "€", "中", "😀", "𝄞"), fc.string({ unit: "grapheme", maxLength: 3 }), fc.string({ unit: "binary", maxLength: 3 })), maxLength: 40 });
const inputsArb = fc.record({
    name: text,
    userData: fc.array(text, { maxLength: 20 }).map((lines) => lines.join("\n")),
    hosts: fc.array(text, { maxLength: 5 }),
    nested: fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.array(text, { maxLength: 3 })), { maxKeys: 5 }),
});

describe("engine plugins: the SDK's protobuf strings through Node's UTF-8 coder (scripts/engine/protobuf-strings.js)", function () {
    this.timeout(120000);

    it("writes every engine message byte for byte as google-protobuf does, and reads it back the same", () => {
        const inputs = fc.sample(inputsArb, { numRuns: 150, seed: 25 });
        // Large strings too: a worker's user-data and a packed provider bundle.
        inputs.push({ name: "worker-0", userData: `#cloud-config\n${"écrire ☃ 😀 ".repeat(5000)}`, hosts: ["10.213.10.20:80"], nested: { __provider: "x".repeat(35000) } });
        const payload = JSON.stringify(inputs);
        const shipped = runNode(ENCODE_AND_DECODE, false, payload);
        const patched = runNode(ENCODE_AND_DECODE, true, payload);
        expect(shipped.patched).to.equal(false);
        expect(patched.patched).to.equal(true);
        expect(patched.out.length).to.equal(inputs.length);
        patched.out.forEach((o: any, i: number) => {
            expect(o.check, `CheckRequest of input ${i}`).to.equal(shipped.out[i].check);
            expect(o.diff, `DiffRequest of input ${i}`).to.equal(shipped.out[i].diff);
            expect(o.back).to.deep.equal(shipped.out[i].back);
            expect(o.back.olds).to.deep.equal(JSON.parse(JSON.stringify(inputs[i])));
        });
    });

    it("reads what google-protobuf's own writer wrote, and google-protobuf reads what it writes", () => {
        // One process, two copies of the library: the shipped one and a patched one.
        const result = runNode(
            `
const file = require.resolve("google-protobuf", { paths: [${JSON.stringify(SDK_DIR)}] });
const shipped = require(file);
delete require.cache[file];
const patchedCopy = require(file);
require(${JSON.stringify(PATCH)}).patch(patchedCopy);
const strings = JSON.parse(require("fs").readFileSync(0, "utf8"));
const write = (jspb, s) => { const w = new jspb.BinaryWriter(); w.writeString(1, s); w.writeString(2, ""); return w.getResultBuffer(); };
const read = (jspb, bytes) => { const r = new jspb.BinaryReader(bytes); const got = []; while (r.nextField() && !r.isEndGroup()) got.push(r.readString()); return got; };
console.log(JSON.stringify(strings.map((s) => ({ s, acrossWrite: read(patchedCopy, write(shipped, s)), acrossRead: read(shipped, write(patchedCopy, s)) }))));`,
            false,
            JSON.stringify(fc.sample(fc.string({ unit: "binary", maxLength: 200 }), { numRuns: 300, seed: 7 })),
        );
        for (const r of result) {
            expect(r.acrossWrite).to.deep.equal([r.s, ""]);
            expect(r.acrossRead).to.deep.equal([r.s, ""]);
        }
    });

    it("writes a lone surrogate, which protobuf forbids, as U+FFFD (valid UTF-8) where google-protobuf wrote invalid bytes", () => {
        const result = runNode(
            `
const jspb = require(require.resolve("google-protobuf", { paths: [${JSON.stringify(SDK_DIR)}] }));
const w = new jspb.BinaryWriter();
w.writeString(1, "a\\ud800b");
console.log(JSON.stringify(Buffer.from(w.getResultBuffer()).toString("hex")));`,
            true,
        );
        expect(result).to.equal("0a0561efbfbd62");
    });

    it("patches the SDK's copy when the SDK loads it, unless COREOS_CLUSTER_FAST_PROTOBUF_STRINGS=0", () => {
        const probe = `
require(require.resolve("@pulumi/pulumi", { paths: [${JSON.stringify(REPO_ROOT)}] }));
const jspb = require.cache[require.resolve("google-protobuf", { paths: [${JSON.stringify(SDK_DIR)}] })].exports;
console.log(JSON.stringify(jspb.BinaryReader.prototype[Symbol.for("coreos-cluster.protobuf-strings")] === true));`;
        expect(runNode(probe, true)).to.equal(true);
        expect(runNode(probe, true, "", { COREOS_CLUSTER_FAST_PROTOBUF_STRINGS: "0" })).to.equal(false);
        expect(runNode(probe, false)).to.equal(false);
    });
});
