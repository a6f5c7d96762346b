// On the local platform there is no fleetd: a FleetService's units are written as files by
// LocalFleetUnit, whose note says that neither they, the rolling update nor the sidekicks run.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { fleetServiceDeclarations, serviceTemplateOptions, sidekickTemplateOptions } from "../../../components/fleet/fleet-service-units";
import { check } from "../../../components/fleet/fleet-service-provider";
import { localFleetServiceSpec } from "../../../components/local/local-fleet-service";
import { localFleetUnitProvider, LOCAL_FLEET_UNIT_PROVIDER_VERSION } from "../../../components/local/local-fleet-unit";
import type { FleetServiceConfig } from "../../../model/types";

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

    // What the stack's fleetServices entry becomes locally must be the text GCE's FleetService pushes.
    const declarations: FleetServiceConfig[] = [
        { name: "hello", image: "nginxdemos/hello:0.4-plain-text", containerPort: 80, count: 2, scheme: "http" },
        { name: "queue", content: "[Unit]\nDescription=queue %i\n[Service]\nExecStart=/usr/bin/queue --instance %i\n", instancePort: 5672, count: 1, scheme: "tcp", hostPort: 5672, ttlSeconds: 60 },
    ];
    for (const declared of declarations) {
        it(`generates for ${declared.name} the same units the FleetService provider's check leads to`, async () => {
            const etcdEndpoints = "http://10.213.10.10:2379,http://10.213.10.11:2379";
            const local = localFleetServiceSpec({ service: declared, prefix: "/services", etcdEndpoints, directory: dir });
            const { name, ...rest } = declared;
            const checked = await check({}, { ...rest, service: name, endpoint: "unix:///var/run/fleet.sock", etcdEndpoints, prefix: "/services" });
            expect(checked.failures).to.deep.equal([]);
            const gce = checked.inputs as any;
            expect(serviceTemplateOptions(local)).to.deep.equal(serviceTemplateOptions(gce));
            expect(sidekickTemplateOptions(local)).to.deep.equal(sidekickTemplateOptions(gce));
        });
    }
});
