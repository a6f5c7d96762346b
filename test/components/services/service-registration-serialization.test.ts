// The provider as the engine sees it: serialized with the SDK's closure serializer (as
// pulumi.dynamic.Resource does), loaded back with require-from-string (as the dynamic-provider
// host does), then run against real etcd (127.0.5.50-52) secured as in production (mutual TLS,
// auth on: test/support/secure-etcd.ts), as the `deployer` identity. The serialized shim carries the
// provider's bundle (bundled-provider.ts). A captured module or client would break or bloat this
// text, and is caught here rather than on a user's `pulumi up`.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../../support/secure-etcd";
import { bundleOf, withUnpackedBundles } from "../../../components/services/bundled-provider";
import { ServiceRegistration, serviceRegistrationProvider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";

// The same loader the dynamic-provider host uses (a dependency of @pulumi/pulumi).
const requireFromString: (code: string) => any = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));

describe("ServiceRegistration provider through Pulumi's serialization (127.0.5.50-52)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let text: string;
    let containsSecrets: boolean;

    before(async () => {
        const serialized = await pulumi.runtime.serializeFunction(() => serviceRegistrationProvider, { allowSecrets: true });
        text = serialized.text;
        containsSecrets = serialized.containsSecrets;
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.5.50", enableV2: true });
        etcd = cluster.client("root");
    });
    after(async () => {
        etcd?.close();
        await cluster?.stop();
    });

    it("captures no module or client instance: the shim carries the provider's bundle, which requires npm modules only inside functions", () => {
        const topLevelRequires = text.split("\n").filter((line) => /^\S.*\brequire\(/.test(line));
        expect(topLevelRequires, "module captured at top level").to.deep.equal([]);
        for (const captured of ["__etcd3", "__ssh2", "__grpc", "__pulumi", "__http", "__net", "__fs"]) expect(text).not.to.include(`var ${captured}`);
        // Library internals would show up if a client or module object were serialized by value.
        for (const internal of ["ConnectionPool", "class Etcd3", "grpc.credentials", "ChannelCredentials", "class Client extends"]) expect(text).not.to.include(internal);
        const bundle = bundleOf(require.resolve("../../../components/services/service-registration-provider"));
        expect(text, "the bundle travels in the serialized text").to.include(JSON.stringify(bundle).slice(1, -1));
        const bundleTopLevelRequires = bundle.split("\n").filter((line) => /^\S.*\brequire\(/.test(line));
        expect(bundleTopLevelRequires, "a module required when the bundle loads").to.deep.equal([]);
        expect(bundle).to.include('require("etcd3")');
        expect(bundle).to.include('require("ssh2")');
        expect(bundle, "the SDK stays out of the provider's bundle").not.to.include('require("@pulumi/pulumi")');
        expect(containsSecrets).to.equal(false);
        expect(text.length, "serialized provider size").to.be.below(150_000);
    });

    it("the deserialized provider checks, creates, reads, updates and deletes against real etcd", async () => {
        const loaded = requireFromString(text).handler() as pulumi.dynamic.ResourceProvider;
        expect(loaded).to.not.equal(serviceRegistrationProvider);
        const connection = cluster.connection("deployer", { timeoutMs: 3000, retries: 1 });
        const checked = await loaded.check!({}, {
            resourceName: "serialized",
            connection,
            service: "serialized",
            scheme: "tcp",
            hosts: ["10.5.0.1:9000"],
            hostPort: 9000,
            mirrorToV2: true,
            providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION,
        });
        expect(checked.failures ?? []).to.deep.equal([]);
        expect(checked.inputs.prefix).to.equal("/services");

        const { id, outs } = await loaded.create(checked.inputs);
        expect(await etcd.getAll().prefix("/services/serialized/").strings()).to.deep.equal({
            "/services/serialized/scheme": "tcp",
            "/services/serialized/hosts/0": "10.5.0.1:9000",
            "/services/serialized/host_port": "9000",
        });
        const v2 = await cluster.v2("/services/serialized/host_port");
        expect(v2.body.node.value).to.equal("9000");

        const updated = await loaded.update!(id, outs, { ...checked.inputs, hosts: ["10.5.0.2:9000"] });
        expect((await loaded.read!(id, updated.outs)).props!.hosts).to.deep.equal(["10.5.0.2:9000"]);
        await loaded.delete!(id, updated.outs);
        expect(await etcd.getAll().prefix("/services/serialized/").keys()).to.deep.equal([]);
        expect(await etcd.get("/coreos-cluster/owners/services/serialized").string()).to.equal(null);
    });

    it("errors from the deserialized provider still name the resource and field", async () => {
        const loaded = requireFromString(text).handler() as pulumi.dynamic.ResourceProvider;
        const result = await loaded.check!({}, { resourceName: "broken", connection: cluster.connection("deployer"), service: "broken", scheme: "udp", hosts: [] });
        expect(result.failures).to.deep.equal([{ property: "scheme", reason: 'ServiceRegistration "broken": scheme "udp" must be "http" or "tcp"' }]);
    });

    it("the resource class sends the connection as a secret and a provider text holding no credential (SDK mocks)", async () => {
        const registered: { type: string; inputs: Record<string, any> }[] = [];
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    registered.push({ type: args.type, inputs: args.inputs });
                    return { id: "mock-id", state: args.inputs };
                },
                call: (args) => args.inputs,
            },
            "coreos-cluster",
            "service-registration-test",
            false,
        );
        const password = "mock-pass-31337";
        const privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jay1rZXktbWF0ZXJpYWwtdGhhdC1tdXN0LW5vdC1sZWFr\n-----END OPENSSH PRIVATE KEY-----";
        const resource = new ServiceRegistration("web", {
            connection: { endpoints: ["http://127.0.5.50:2379"], username: "root", password, sshTunnel: { host: "127.0.5.49", port: 22, username: "core", privateKey } },
            service: "web",
            scheme: "http",
            hosts: ["10.5.1.1:80"],
        });
        expect(await (resource.urn as any).promise()).to.match(/ServiceRegistration::web$/);
        expect(await (resource as any).connection.isSecret).to.equal(true);
        expect(registered).to.have.length(1);
        const [wire] = registered;
        expect(wire.type).to.equal("pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistration");
        // On the wire, a secret is an object tagged with the SDK's secret signature.
        expect(wire.inputs.connection).to.have.property("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270");
        expect(wire.inputs.providerVersion).to.equal(SERVICE_REGISTRATION_PROVIDER_VERSION);
        expect(wire.inputs.prefix).to.equal("/services");
        // The owner identity is fixed per resource (organization/project/stack/name), known at preview.
        expect(wire.inputs.ownerKey).to.equal("organization/coreos-cluster/service-registration-test/web");
        const providerText = withUnpackedBundles(String(wire.inputs.__provider));
        expect(providerText).to.include("exports.handler");
        expect(providerText).not.to.include(password);
        expect(providerText).not.to.include("bW9jay1rZXktbWF0ZXJpYWwtdGhhdC1tdXN0LW5vdC1sZWFr");
    });
});
