// The FleetService's pure parts: the rolling-update plan, the generated units, the ownership rule.
import { expect } from "chai";
import { planServiceWrite } from "../../../model/service-write-plan";
import { execArgv, serviceTemplateOptions, sidekickMarker, sidekickTemplateOptions, FleetServiceSpec } from "../../../components/fleet/fleet-service-units";
import { nextInstanceNumbers, ObservedInstance, observeInstances, planRoll } from "../../../components/fleet/rolling-update";
import { check } from "../../../components/fleet/fleet-service-provider";

const spec: FleetServiceSpec = { service: "web", prefix: "/services", scheme: "http", image: "nginx:1.27", containerPort: 80, ttlSeconds: 30, etcdEndpoints: "http://10.0.0.2:2379" };
const healthy = (n: string, hash = "T", side = "S"): ObservedInstance => ({ n, hash, running: true, sidekick: true, sidekickHash: side, sidekickRunning: true });
const target = { count: 3, templateHash: "T", sidekickHash: "S" };

describe("FleetService rolling update plan", () => {
    it("numbers new instances after the highest, whatever the gaps", () => {
        expect(nextInstanceNumbers([], 2)).to.deep.equal(["1", "2"]);
        expect(nextInstanceNumbers(["2", "9", "10", "x"], 3)).to.deep.equal(["11", "12", "13"]);
    });

    it("rolls a whole new generation when the unit file changed, retiring every old instance", () => {
        const plan = planRoll(["1", "2", "3"].map((n) => healthy(n, "OLD")), target);
        expect(plan).to.deep.equal({ keep: [], start: ["4", "5", "6"], retire: ["1", "2", "3"], noop: false });
    });

    it("does nothing when the wanted instances run, and scales without rolling when only the count changed", () => {
        expect(planRoll(["4", "5", "6"].map((n) => healthy(n)), target).noop).to.equal(true);
        expect(planRoll(["4", "5"].map((n) => healthy(n)), target)).to.deep.include({ keep: ["4", "5"], start: ["6"], retire: [] });
        expect(planRoll(["4", "5", "6", "7"].map((n) => healthy(n)), target)).to.deep.include({ keep: ["5", "6", "7"], start: [], retire: ["4"] });
    });

    it("after an interruption: a finished new generation is kept (only the old one retires); strays are retired", () => {
        const afterStep3 = [...["1", "2", "3"].map((n) => healthy(n, "OLD")), ...["4", "5", "6"].map((n) => healthy(n))];
        expect(planRoll(afterStep3, target)).to.deep.include({ keep: ["4", "5", "6"], start: [], retire: ["1", "2", "3"] });
        const halfStarted = [...["1", "2", "3"].map((n) => healthy(n, "OLD")), { ...healthy("4"), sidekickRunning: false }, { ...healthy("5"), running: false }];
        expect(planRoll(halfStarted, target)).to.deep.include({ keep: [], start: ["6", "7", "8"], retire: ["1", "2", "3", "4", "5"] });
    });

    it("observes instances from units and /state: running means fleet's record and every state of that file agree", () => {
        const units = [
            { name: "web@.service", hash: "T" }, { name: "web@1.service", hash: "T", currentState: "launched" }, { name: "web_presence@1.service", hash: "S", currentState: "launched" },
            { name: "web@2.service", hash: "T", currentState: "launched" }, { name: "webby@1.service", hash: "X" },
        ];
        const states = [
            { name: "web@1.service", hash: "T", systemdActiveState: "active" }, { name: "web_presence@1.service", hash: "S", systemdActiveState: "active" },
            { name: "web@2.service", hash: "OLD", systemdActiveState: "active" }, // a deleted predecessor's lingering state
        ];
        expect(observeInstances("web", units, states)).to.deep.equal([
            { n: "1", hash: "T", running: true, sidekick: true, sidekickHash: "S", sidekickRunning: true },
            { n: "2", hash: "T", running: false, sidekick: false, sidekickHash: undefined, sidekickRunning: false },
        ]);
    });
});

describe("FleetService units and ownership", () => {
    it("generates the service template and a sidekick bound to its instance's machine", () => {
        const main = serviceTemplateOptions(spec);
        expect(main.find((o) => o.name === "ExecStart")!.value).to.equal("/usr/bin/docker run --rm --name web-%i -p 80 nginx:1.27");
        const side = sidekickTemplateOptions(spec);
        expect(side.filter((o) => o.section === "X-Fleet")).to.deep.equal([{ section: "X-Fleet", name: "MachineOf", value: "web@%i.service" }]);
        expect(side.find((o) => o.name === "BindsTo")!.value).to.equal("web@%i.service");
        const argv = execArgv(side.find((o) => o.name === "ExecStart")!.value, "7");
        expect(argv.slice(0, 2)).to.deep.equal(["/bin/bash", "-c"]);
        expect(argv[2]).to.include("etcdctl lease grant 30").and.include("/services/web/hosts/7 $COREOS_PRIVATE_IPV4:$port").and.include("sleep 10");
        expect(argv[2]).to.not.match(/%i|\$\$/);
    });

    it("a declared registration refuses a fleet-announced service (the sidekicks' marker), naming it", () => {
        const marker = sidekickMarker(spec);
        const plan = planServiceWrite(
            { owner: "/services/web@set:org/proj/stack/services", definition: { service: "web", scheme: "http", hosts: ["10.0.0.5:80"], prefix: "/services" }, ownedBefore: [], mirrorToV2: false, mirroredBefore: [], adopt: false },
            { keys: { "/services/web/hosts/4": "10.0.0.9:32768" }, markerValue: marker.value, markerModRevision: "7" },
        );
        expect(plan.refusal).to.match(/^\/services\/web is already registered by another owner \(fleet:\/services\/web at \/coreos-cluster\/owners\/services\/web\)/);
    });

    it("check refuses a service the program also declares, and bad input, naming the service and the key", async () => {
        const base = { endpoint: "http://127.0.6.30:1", service: "web", image: "nginx:1.27", containerPort: 80, count: 2, etcdEndpoints: "http://10.0.0.2:2379" };
        expect((await check({}, base)).failures).to.deep.equal([]);
        const reasons = async (news: Record<string, unknown>) => (await check({}, { ...base, ...news })).failures!.map((f) => f.reason).join("\n");
        expect(await reasons({ declaredServices: ["api", "web"] })).to.match(/fleet service "web": service is also declared as a ServiceRegistration\/ServiceRegistrationSet service/);
        expect(await reasons({ count: 0 })).to.match(/fleet service "web": count must be a whole number/);
        expect(await reasons({ content: "[Service]\nExecStart=/bin/web\n" })).to.match(/give exactly one of image/);
        expect(await reasons({ scheme: "tcp" })).to.match(/hostPort is required when scheme is tcp/);
        expect(await reasons({ service: "Web_1" })).to.match(/fleet service "Web_1": service "Web_1" is not a valid service name/);
        expect(await reasons({ etcdEndpoints: "10.0.0.2:2379" })).to.match(/etcdEndpoints must be comma-separated/);
    });
});
