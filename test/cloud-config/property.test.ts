// Property tests: for any cluster shape the planner accepts, every rendered machine is
// valid, lists every member, and both flavors agree on the etcd environment.

import { expect } from "chai";
import { rebootStrategyFor } from "../../model/reboot-strategy";
import fc from "fast-check";
import YAML from "yaml";
import { buildMachineModels, etcdEnvironmentOf, fleetEnvironmentOf, renderMachines, renderModel, validateCloudConfig } from "../../cloud-config";
import { planCluster } from "../../model/plan";
import { ClusterConfig, OsFlavor, RebootStrategy } from "../../model/types";
import { gcpConfig, localConfig } from "./fixtures";

const REGION = "europe-west1";
const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);

const shape = fc.record({
    platform: fc.constantFrom<"gcp" | "local">("gcp", "local"),
    name: fc.stringMatching(/^[a-z][a-z0-9-]{0,14}[a-z0-9]$/),
    count: fc.constantFrom(1, 3, 5, 7),
    zones: fc.subarray(["b", "c", "d"], { minLength: 1 }),
    flavor: fc.constantFrom<OsFlavor>("flatcar", "container-linux"),
    discovery: fc.boolean(),
    strategy: fc.constantFrom<RebootStrategy>("etcd-lock", "reboot", "off"),
    window: fc.boolean(),
    metadata: fc.dictionary(token.filter((k) => !["role", "zone", "region", "cluster"].includes(k)), token, { maxKeys: 3 }),
    localWorkers: fc.integer({ min: 0, max: 3 }),
    externalIps: fc.boolean(),
});

type Shape = typeof shape extends fc.Arbitrary<infer T> ? T : never;

function configOf(s: Shape): ClusterConfig {
    const common = {
        name: s.name,
        etcd: { count: s.count, ...(s.discovery ? { discoveryUrl: "https://discovery.example.test/token" } : {}) },
        os: { flavor: s.flavor },
        fleet: { metadata: s.metadata },
        externalIps: s.platform === "gcp" && s.externalIps,
        updates: { rebootStrategy: s.strategy, ...(s.window ? { windowStart: "Sun 04:00", windowLength: "1h30m" } : {}) },
    };
    const zones = s.zones.map((z) => `${REGION}-${z}`);
    return s.platform === "gcp"
        ? gcpConfig({ ...common, gcp: { region: REGION, zones } } as never)
        : localConfig({ ...common, gcp: { region: REGION, zones }, local: { firstAddress: "10.213.10.10", workers: s.localWorkers, dataDir: ".x" } } as never);
}

describe("cloud-config properties", () => {
    it("any valid cluster shape renders valid, complete user-data for every machine", () => {
        fc.assert(
            fc.property(shape, (s) => {
                const config = configOf(s);
                const plan = planCluster(config);
                const machines = renderMachines(config, plan);
                const expectedWorkers = config.platform === "gcp" ? 1 : s.localWorkers;
                expect(machines.filter((m) => m.role === "etcd")).to.have.length(s.count);
                expect(machines.filter((m) => m.role === "worker")).to.have.length(expectedWorkers);
                for (const m of machines) {
                    expect(validateCloudConfig(m.userData).errors).to.deep.equal([]);
                    expect(m.userData).to.not.contain("public_ipv4");
                    const env = etcdEnvironmentOf(m.userData);
                    // Every etcd URL is https, and a worker runs no etcd of its own: its gateway dials every member's client port.
                    expect(m.userData).to.not.match(/http:\/\/[^\s"]*:23(79|80)/);
                    if (m.role === "worker") {
                        expect(env).to.deep.equal({});
                        expect(m.userData).to.contain(`Environment="ETCD_GATEWAY_ENDPOINTS=${plan.members.map((x) => `${x.privateIp}:2379`).join(",")}"`);
                    } else if (s.discovery) {
                        expect(env.ETCD_DISCOVERY).to.be.a("string");
                        expect(env).to.not.have.property("ETCD_INITIAL_CLUSTER");
                    } else {
                        expect(env.ETCD_INITIAL_CLUSTER.split(",").map((e) => e.split("=")[0])).to.deep.equal(plan.members.map((x) => x.name));
                    }
                    expect(env).to.not.have.property("ETCD_PROXY");
                    const metadata = fleetEnvironmentOf(m.userData).FLEET_METADATA;
                    expect(metadata.startsWith(`role=${m.role},`)).to.equal(true);
                    expect(metadata).to.contain(`cluster=${s.name}`);
                    for (const [k, v] of Object.entries(s.metadata)) expect(metadata).to.contain(`,${k}=${v}`);
                    const doc = YAML.parse(m.userData);
                    // Workers never take locksmith's lock (model/reboot-strategy.ts).
                    expect(doc.coreos.update.reboot_strategy).to.equal(rebootStrategyFor(m.role, s.strategy));
                }
            }),
            { numRuns: 30 },
        );
    });

    it("both flavors of any machine share one etcd environment", () => {
        fc.assert(
            fc.property(shape, (s) => {
                const config = configOf(s);
                for (const model of buildMachineModels(config, planCluster(config)).filter((m) => m.role === "etcd")) {
                    const { ETCD_IMAGE_TAG, ETCD_ENABLE_V2, ...flatcar } = etcdEnvironmentOf(renderModel(model, "flatcar"));
                    expect(ETCD_IMAGE_TAG).to.match(/^v3\.[45]\./);
                    expect(ETCD_ENABLE_V2).to.equal("true");
                    expect(flatcar).to.deep.equal(etcdEnvironmentOf(renderModel(model, "container-linux")));
                }
            }),
            { numRuns: 25 },
        );
    });
});
