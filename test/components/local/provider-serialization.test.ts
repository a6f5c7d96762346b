// The engine does not run the providers from this source: it stores each provider's text in state
// (the bundled shim of components/services/bundled-provider.ts), and the dynamic-provider plugin
// loads it with require-from-string in a plain node process (no ts-node) started in the program
// directory. Do exactly that here, so a bundle that needs something it cannot carry, or requires a
// module it cannot find there, fails this test instead of `pulumi up`.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProviderOperations, serializedProviderText, withUnpackedBundles } from "../../../components/services/bundled-provider";
import { clusterReadinessProvider } from "../../../components/local/cluster-readiness";
import { localFleetUnitProvider } from "../../../components/local/local-fleet-unit";
import { localMachineProvider } from "../../../components/local/local-machine";
import { requireEtcdBinaries } from "../../support/etcd-cluster";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

async function serialized(provider: ProviderOperations): Promise<string> {
    const text = serializedProviderText(provider);
    if (text === undefined) throw new Error("not a bundled provider");
    return text;
}

/** Runs `body` (JS, with `machine`, `fleet`, `readiness` providers and `dir` in scope) in a fresh node; returns its JSON result. */
function runDeserialized(texts: Record<string, string>, dir: string, body: string): any {
    for (const [name, text] of Object.entries(texts)) fs.writeFileSync(path.join(dir, `${name}.js`), text);
    const script = `
const requireFromString = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));
const fs = require("fs");
const load = (name) => requireFromString(fs.readFileSync(${JSON.stringify(dir)} + "/" + name + ".js", "utf8")).handler();
const machine = load("machine"), fleet = load("fleet"), readiness = load("readiness");
const dir = ${JSON.stringify(dir)};
(async () => { ${body} })().then((r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); },
  (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
`;
    const res = spawnSync(process.execPath, ["-e", script], { cwd: REPO_ROOT, encoding: "utf8", timeout: 90000 });
    if (res.status !== 0) throw new Error(`deserialized providers failed (${res.status}):\n${res.stderr}`);
    return JSON.parse(res.stdout);
}

describe("local platform: providers as the engine runs them (the stored text, plain node)", function () {
    this.timeout(120000);
    let dir: string;
    let texts: Record<string, string>;

    before(async () => {
        requireEtcdBinaries();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-serialized-"));
        texts = {
            machine: await serialized(localMachineProvider),
            fleet: await serialized(localFleetUnitProvider),
            readiness: await serialized(clusterReadinessProvider),
        };
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("carries no TypeScript, pulumi SDK or absolute repo paths in the serialized text", () => {
        for (const text of Object.values(texts).map(withUnpackedBundles)) {
            expect(text, "the bundle is scanned, not its packed form").to.include("exports.handler").and.to.include("var provider = {");
            expect(text).to.not.include("@pulumi/pulumi");
            expect(text).to.not.include(REPO_ROOT);
        }
    });

    it("boots, reads and deletes a real single-member machine, and validates units, from the deserialized code", () => {
        const userData = [
            "#cloud-config",
            "coreos:",
            "  etcd2:",
            "    name: serialized",
            "    listen_peer_urls: http://0.0.0.0:2380",
            "    listen_client_urls: http://0.0.0.0:2379",
            "    advertise_client_urls: http://$private_ipv4:2379",
            "    initial_advertise_peer_urls: http://$private_ipv4:2380",
            "    initial_cluster: serialized=http://$private_ipv4:2380",
            "  units:",
            "    - name: etcd2.service",
            "      command: start",
            "",
        ].join("\n");
        const result = runDeserialized(
            texts,
            dir,
            `
const inputs = { name: "serialized", role: "etcd", address: "127.0.8.60", userData: ${JSON.stringify(userData)}, root: dir + "/serialized", providerVersion: "t" };
const bad = await machine.check({}, { ...inputs, userData: "#cloud-config\\nfoo: [" });
const created = (await machine.create(inputs)).outs;
const ready = await readiness.create({ cluster: "s", memberClientUrls: [created.clientUrl], proxyUrls: [], pids: [created.pid], timeoutSeconds: 60, providerVersion: "t" });
const read = (await machine.read("serialized", created)).props;
await machine.delete("serialized", created);
const afterDelete = (await machine.read("serialized", created)).props;
const badUnit = await fleet.check({}, { name: "web", content: "[Service]\\nExecStart=/bin/true\\n", directory: dir + "/units", providerVersion: "t" });
const unit = (await fleet.create({ name: "ok.service", content: "[Service]\\nExecStart=/bin/true\\n", directory: dir + "/units", providerVersion: "t" })).outs;
const written = fs.existsSync(unit.paths[0]);
await fleet.delete("x", unit);
return { bad: bad.failures, created, ready: ready.outs.ready, read, afterDelete, rootLeft: fs.existsSync(inputs.root), badUnit: badUnit.failures, written, unitLeft: fs.existsSync(unit.paths[0]) };
`,
        );
        expect(result.bad?.[0]?.reason, JSON.stringify(result.bad)).to.include("machine serialized").and.include("not valid YAML");
        expect(result.created.running).to.equal(true);
        expect(result.created.clientUrl).to.equal("http://127.0.8.60:2379");
        expect(result.ready).to.equal(true);
        expect(result.read.pid).to.equal(result.created.pid);
        expect(result.afterDelete.running).to.equal(false);
        expect(result.rootLeft).to.equal(false);
        expect(result.badUnit[0].reason).to.include("fleet unit web:");
        expect(result.written).to.equal(true);
        expect(result.unitLeft).to.equal(false);
        expect(fs.existsSync(`/proc/${result.created.pid}`) && fs.readFileSync(`/proc/${result.created.pid}/cmdline`, "utf8").includes("etcd")).to.equal(false);
    });
});
