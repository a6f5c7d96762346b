// FleetUnit over a unix socket, through a real sshd tunnel, from the provider as the engine
// stores it (the bundled shim), and with its secrets marked as the engine receives them.
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FleetUnit, fleetUnitProvider, FleetUnitState } from "../../../components/fleet/fleet-unit";
import { bundledProvider, bundleOf, serializedProviderText, withUnpackedBundles } from "../../../components/services/bundled-provider";
import { FleetConformanceServer } from "../../support/fleet-conformance-server";
import { startSshd, TestSshd } from "../../support/sshd";
import { failureOf } from "../../support/failure-of";

const content = "[Service]\nExecStart=/usr/bin/docker run --rm api\n[X-Fleet]\nMachineMetadata=role=worker\n";
const fast = { pollIntervalMs: 10, retryDelayMs: 5, retries: 1, requestTimeoutMs: 3000, waitTimeoutSeconds: 10 };

async function lifecycle(provider: pulumi.dynamic.ResourceProvider, news: Record<string, unknown>, server: FleetConformanceServer): Promise<void> {
    const checked = await provider.check!({}, { ...fast, ...news });
    expect(checked.failures).to.deep.equal([]);
    const inputs = checked.inputs as FleetUnitState;
    const created = await provider.create(inputs);
    const running = (created.outs.unitNames as string[]).filter((u) => !u.includes("@."));
    expect(running.length).to.be.greaterThan(0);
    for (const u of running) expect(server.unit(u)).to.deep.include({ currentState: "launched" });
    const read = await provider.read!(created.id, created.outs);
    expect(read.props.options).to.deep.equal(inputs.options);
    await provider.delete!(created.id, created.outs);
    expect(server.unitNames()).to.deep.equal([]);
}


/**
 * check, create, read and delete of one unit from the provider text in `providerFile`, in a fresh
 * node process the way the engine's provider host runs it: no ts-node preloaded, the program's
 * directory as the working directory, the text loaded with require-from-string.
 */
async function lifecycleInFreshNode(providerFile: string, host: string, unit: string, opts: { unset?: string[] } = {}): Promise<void> {
    const server = await FleetConformanceServer.start({ host, tickMs: 5 });
    const script = `
        const provider = require("require-from-string")(require("fs").readFileSync(${JSON.stringify(providerFile)}, "utf8")).handler();
        (async () => {
            const { inputs, failures } = await provider.check({}, ${JSON.stringify({ ...fast, endpoint: server.endpoint, name: unit, content })});
            if (failures.length) throw new Error(JSON.stringify(failures));
            const created = await provider.create(inputs);
            const read = await provider.read(created.id, created.outs);
            await provider.delete(created.id, read.props);
            console.log(JSON.stringify({ id: created.id, unitNames: created.outs.unitNames, readId: read.id }));
        })().catch((e) => { console.error(e.stack || e.message); process.exit(1); });`;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: "" };
    for (const name of opts.unset ?? []) delete env[name];
    const child = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, ["-e", script], { cwd: path.resolve(__dirname, "..", "..", ".."), env });
        let out = "", err = "";
        p.stdout.on("data", (c: Buffer) => (out += c));
        p.stderr.on("data", (c: Buffer) => (err += c));
        p.on("exit", (code: number | null) => resolve({ code, out, err }));
    });
    try {
        expect(child.code, child.err).to.equal(0);
        expect(JSON.parse(child.out.trim().split("\n").pop()!)).to.deep.equal({ id: unit, unitNames: [unit], readId: unit });
        expect(server.requests.filter((r) => r.method === "PUT").map((r) => r.path)).to.deep.equal([`/fleet/v1/units/${unit}`]);
        expect(server.unitNames()).to.deep.equal([]);
    } finally {
        await server.close();
    }
}

describe("FleetUnit transports", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-unit-")); });
    afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

    it("talks to fleet over a unix socket endpoint", async () => {
        const server = await FleetConformanceServer.start({ socketPath: path.join(dir, "fleet.sock"), tickMs: 5 });
        try {
            await lifecycle(fleetUnitProvider, { endpoint: server.endpoint, name: "api.service", content }, server);
        } finally {
            await server.close();
        }
    });

    describe("through a real sshd tunnel", function () {
        this.timeout(60000);
        let sshd: TestSshd;
        before(async () => { sshd = await startSshd({ host: "127.0.6.10" }); });
        after(async () => { if (sshd) await sshd.stop(); });
        const tunnel = () => ({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey });

        it("reaches a TCP endpoint that only the bastion can see", async () => {
            const server = await FleetConformanceServer.start({ host: "127.0.6.11", tickMs: 5 });
            try {
                await lifecycle(fleetUnitProvider, { endpoint: server.endpoint, sshTunnel: tunnel(), name: "api.service", content }, server);
            } finally {
                await server.close();
            }
        });

        it("reaches fleet's unix socket on the bastion (direct-streamlocal)", async () => {
            const server = await FleetConformanceServer.start({ socketPath: path.join(dir, "fleet.sock"), tickMs: 5 });
            try {
                await lifecycle(fleetUnitProvider, { endpoint: server.endpoint, sshTunnel: tunnel(), name: "api.service", content }, server);
            } finally {
                await server.close();
            }
        });

        it("keeps the tunnelled endpoint, the bastion and the key out of errors", async () => {
            const server = await FleetConformanceServer.start({ host: "127.0.6.12", tickMs: 5 });
            const endpoint = server.endpoint;
            const provider = fleetUnitProvider;
            const inputs = (await provider.check!({}, { ...fast, endpoint, sshTunnel: tunnel(), name: "api.service", content })).inputs as FleetUnitState;
            const secrets = [endpoint, endpoint.replace("http://", ""), sshd.host, ...sshd.privateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))];
            try {
                const wrongKey = await failureOf(provider.create({ ...inputs, sshTunnel: { ...tunnel(), privateKey: sshd.unauthorizedPrivateKey } }));
                expect(wrongKey.message).to.match(/^fleet unit "api.service": create failed: fleet API \(through SSH tunnel\): could not open the SSH tunnel/);
                for (const s of [...secrets, ...sshd.unauthorizedPrivateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))]) {
                    expect(wrongKey.message).to.not.include(s);
                }
                expect(server.requests).to.deep.equal([]);
            } finally {
                await server.close();
            }
            const unreachable = await failureOf(provider.create(inputs)); // fleet gone behind a working tunnel
            expect(unreachable.message).to.match(/fleet API \(through SSH tunnel\): GET \/units\/api.service failed after 2 attempts/);
            for (const s of secrets) expect(unreachable.message).to.not.include(s);
        });
    });

    it("works from the provider as the engine stores it: a shim carrying the bundle, nothing captured", async () => {
        const provider = fleetUnitProvider;
        const text = serializedProviderText(provider)!;
        expect(text, "the bundled provider's shim (no closure serializer)").to.include("coreos-cluster bundled provider fleet-unit-provider.ts");
        expect(withUnpackedBundles(text), "no path of this checkout").to.not.include(path.resolve(__dirname, "..", "..", ".."));
        expect(text, "deterministic").to.equal(serializedProviderText(bundledProvider(require.resolve("../../../components/fleet/fleet-unit-provider"))));
        const bundle = bundleOf(require.resolve("../../../components/fleet/fleet-unit-provider"));
        expect(bundle.split("\n").filter((line) => /^\S.*\brequire\(/.test(line)), "modules required when the bundle loads").to.deep.equal([]);
        const serialized = { text };

        const requireFromString = require("require-from-string");
        const deserialized = requireFromString(serialized.text).handler() as pulumi.dynamic.ResourceProvider;
        expect(deserialized).to.not.equal(provider);
        const server = await FleetConformanceServer.start({ host: "127.0.6.13", tickMs: 5 });
        try {
            await lifecycle(deserialized, { endpoint: server.endpoint, name: "api@.service", content, instances: ["a", "b"] }, server);
        } finally {
            await server.close();
        }
    });

    it("keeps states written before the bundle working: their stored shim loads this module from disk and runs it", async function () {
        this.timeout(60000);
        // The provider text a FleetUnit state of provider 1.2.0 holds (the SDK's closure serialization of
        // the shim class then shipped): it require()s components/fleet/fleet-unit from the program's
        // directory (COREOS_CLUSTER_ROOT unset: found from there, as under `pulumi up`) and calls the
        // functions that module still exports.
        await lifecycleInFreshNode(path.join(__dirname, "fixtures", "fleet-unit-shim-1.2.0.js"), "127.0.6.15", "old.service", { unset: ["COREOS_CLUSTER_ROOT"] });
    });

    it("runs create/read/delete from the serialized text in a fresh node process, as the engine's provider host does", async function () {
        this.timeout(60000);
        const providerFile = path.join(dir, "provider.js");
        fs.writeFileSync(providerFile, serializedProviderText(fleetUnitProvider)!);
        await lifecycleInFreshNode(providerFile, "127.0.6.14", "api.service");
    });

    it("marks a tunnelled endpoint and the SSH tunnel secret on the resource", async () => {
        await pulumi.runtime.setMocks({
            newResource: (args) => { registered.push(args); return { id: `${args.name}-id`, state: args.inputs }; },
            call: () => ({}),
        }, "coreos-cluster", "fleet-test", false);
        const registered: pulumi.runtime.MockResourceArgs[] = [];
        const seenOptions: pulumi.CustomResourceOptions[] = [];
        const capture = (a: pulumi.ResourceTransformationArgs) => { seenOptions.push(a.opts as pulumi.CustomResourceOptions); return undefined; };
        const tunnelled = new FleetUnit("tunnelled", { endpoint: "unix:///var/run/fleet.sock", sshTunnel: { host: "bastion", port: 22, username: "core", privateKey: "KEY" }, name: "a.service", content }, { transformations: [capture] });
        const direct = new FleetUnit("direct", { endpoint: "http://127.0.0.1:49153", name: "b.service", content }, { transformations: [capture] });
        await new Promise<void>((resolve) => pulumi.all([tunnelled.urn, direct.urn]).apply(() => resolve()));
        const byName = (n: string) => registered.find((r) => r.name === n)!;
        expect(pulumi.runtime.isRpcSecret(byName("tunnelled").inputs.endpoint)).to.equal(true);
        expect(pulumi.runtime.isRpcSecret(byName("tunnelled").inputs.sshTunnel)).to.equal(true);
        expect(pulumi.runtime.isRpcSecret(byName("direct").inputs.endpoint)).to.equal(false);
        expect(byName("direct").inputs.providerVersion).to.be.a("string");
        expect(seenOptions[0].additionalSecretOutputs).to.include.members(["endpoint", "sshTunnel"]);
        expect(seenOptions[1].additionalSecretOutputs).to.not.include("endpoint");
    });
});
