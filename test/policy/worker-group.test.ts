import { expect } from "chai";
import { TYPES } from "../../policy/rules/resource-data";
import { workerGroupCapacityViolations } from "../../policy/rules/worker-group-capacity";
import { DEV, resource, runResourcePolicy, workerGroup } from "./policy-harness";

const NAME = "worker-group-keeps-capacity";
const SAFE = { type: "PROACTIVE", minimalAction: "REPLACE", maxSurgeFixed: 3, maxUnavailableFixed: 0 };

describe("policy: worker-group-keeps-capacity (mandatory)", () => {
    it("accepts a surge-first rolling update (max unavailable 0, surge 3 over 3 zones)", async () => {
        expect(workerGroupCapacityViolations(workerGroup(SAFE))).to.deep.equal([]);
        expect(await runResourcePolicy(DEV, NAME, workerGroup(SAFE))).to.deep.equal([]);
    });

    it("accepts a percentage surge", () => {
        expect(workerGroupCapacityViolations(workerGroup({ ...SAFE, maxSurgeFixed: undefined, maxSurgePercent: 50 }))).to.deep.equal([]);
    });

    it("rejects a group without an update policy (GCE's defaults take instances down)", async () => {
        const messages = await runResourcePolicy(DEV, NAME, workerGroup(undefined));
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("no updatePolicy");
    });

    it("rejects max unavailable above 0, fixed or percent, and an unset one", () => {
        expect(workerGroupCapacityViolations(workerGroup({ ...SAFE, maxUnavailableFixed: 1 }))[0]).to.contain("maxUnavailableFixed 1");
        expect(workerGroupCapacityViolations(workerGroup({ ...SAFE, maxUnavailableFixed: undefined, maxUnavailablePercent: 10 }))[0]).to.contain(
            "maxUnavailablePercent 10",
        );
        expect(workerGroupCapacityViolations(workerGroup({ ...SAFE, maxUnavailableFixed: undefined }))[0]).to.contain("unset");
    });

    it("rejects a zero surge and RECREATE replacement", () => {
        const noSurge = workerGroupCapacityViolations(workerGroup({ ...SAFE, maxSurgeFixed: 0 }));
        expect(noSurge).to.have.length(1);
        expect(noSurge[0]).to.contain("no surge");
        const recreate = workerGroupCapacityViolations(workerGroup({ ...SAFE, replacementMethod: "RECREATE" }));
        expect(recreate.join("\n")).to.contain("RECREATE");
    });

    it("rejects a regional fixed surge smaller than the number of zones (GCE refuses it)", () => {
        const messages = workerGroupCapacityViolations(workerGroup({ ...SAFE, maxSurgeFixed: 2 }));
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("spans 3 zones");
    });

    it("applies to zonal groups too, and to nothing else", () => {
        const zonal = resource(TYPES.instanceGroupManager, "zonal", { zone: "europe-west1-b", updatePolicy: { ...SAFE, maxUnavailableFixed: 2 } });
        expect(workerGroupCapacityViolations(zonal)).to.have.length(1);
        expect(workerGroupCapacityViolations(resource(TYPES.instance, "vm", {}))).to.deep.equal([]);
    });
});
