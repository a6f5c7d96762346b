// The FleetService resource as the engine receives it (SDK mocks): a tunnelled endpoint and the
// SSH tunnel are secrets, the provider version is an input, and the serialized provider is the
// bundle shim (no captured client or npm module).
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { FleetService, fleetServiceProvider } from "../../../components/fleet/fleet-service";

describe("FleetService resource", () => {
    it("marks a tunnelled endpoint and the SSH tunnel secret and carries its provider version", async () => {
        const registered: pulumi.runtime.MockResourceArgs[] = [];
        await pulumi.runtime.setMocks({
            newResource: (args) => { registered.push(args); return { id: `${args.name}-id`, state: args.inputs }; },
            call: () => ({}),
        }, "coreos-cluster", "fleet-service-test", false);
        const base = { service: "web", image: "nginx:1.27", containerPort: 80, count: 2, etcdEndpoints: "http://10.0.0.2:2379" };
        const tunnelled = new FleetService("tunnelled", { ...base, endpoint: "unix:///var/run/fleet.sock", sshTunnel: { host: "bastion", port: 22, username: "core", privateKey: "KEY" } });
        const direct = new FleetService("direct", { ...base, endpoint: "http://127.0.0.1:49153" });
        await new Promise<void>((resolve) => pulumi.all([tunnelled.urn, direct.urn]).apply(() => resolve()));
        const byName = (n: string) => registered.find((r) => r.name === n)!;
        expect(byName("tunnelled").type).to.equal("pulumi-nodejs:dynamic/coreos-cluster:FleetService");
        expect(pulumi.runtime.isRpcSecret(byName("tunnelled").inputs.endpoint)).to.equal(true);
        expect(pulumi.runtime.isRpcSecret(byName("tunnelled").inputs.sshTunnel)).to.equal(true);
        expect(pulumi.runtime.isRpcSecret(byName("direct").inputs.endpoint)).to.equal(false);
        expect(byName("direct").inputs.providerVersion).to.be.a("string");
    });

    it("serializes to the bundle shim, which carries the provider's code as text and works once deserialized", async () => {
        const serialized = await pulumi.runtime.serializeFunction(() => fleetServiceProvider, { allowSecrets: true });
        expect(serialized.containsSecrets).to.equal(false);
        expect(serialized.text).to.include("rolling update failed before anything old was stopped");
        const deserialized = require("require-from-string")(serialized.text).handler() as pulumi.dynamic.ResourceProvider;
        const r = await deserialized.check!({}, { endpoint: "http://127.0.6.31:1", service: "web", image: "nginx:1.27", containerPort: 80, count: 0, etcdEndpoints: "http://10.0.0.2:2379" });
        expect(r.failures!.map((f) => f.reason)).to.include('fleet service "web": count must be a whole number of instances, at least 1');
    });
});
