// On the local platform there is no fleetd: a FleetService's units are written as files by
// LocalFleetUnit, whose note says that neither they, the rolling update nor the sidekicks run.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fleetServiceDeclarations } from "../../../components/fleet/fleet-service-units";
import { localFleetUnitProvider, LOCAL_FLEET_UNIT_PROVIDER_VERSION } from "../../../components/local/local-fleet-unit";

describe("FleetService on the local platform", () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-service-local-")); });
    afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

    it("writes the service and sidekick units and says honestly that nothing runs or rolls them", async () => {
        const decls = fleetServiceDeclarations({ service: "web", prefix: "/services", scheme: "http", image: "nginx:1.27", containerPort: 80, ttlSeconds: 30, etcdEndpoints: "http://10.213.10.1:2379" }, 2);
        const notes: string[] = [];
        for (const d of decls) {
            const inputs = { ...d, directory: dir, providerVersion: LOCAL_FLEET_UNIT_PROVIDER_VERSION };
            expect((await localFleetUnitProvider.check!({}, inputs)).failures).to.deep.equal([]);
            notes.push((await localFleetUnitProvider.create(inputs)).outs.note);
        }
        expect(fs.readdirSync(dir).sort()).to.deep.equal(["web@.service", "web@1.service", "web@2.service", "web_presence@.service", "web_presence@1.service", "web_presence@2.service"]);
        for (const note of notes) expect(note).to.match(/no fleetd on the local platform.*FleetService \/services\/web: its rolling update and its presence sidekicks' etcd registration do not run locally/);
        expect(fs.readFileSync(path.join(dir, "web_presence@1.service"), "utf8")).to.include("MachineOf=web@%i.service");
    });
});
