// The program under mocks with coreos-cluster:fleetServices: on GCE each declared service is one
// FleetService after the cluster, reaching fleet exactly as the FleetUnits do (secret endpoint and
// tunnel); on the local platform it is unit files written by LocalFleetUnit, no FleetService, and
// the stack's notAppliedLocally says what fleet would have done.
import { expect } from "chai";
import * as path from "path";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { planCluster } from "../../../model/plan";
import { fleetServiceDeclarations } from "../../../components/fleet/fleet-service-units";
import { localFleetServiceSpec } from "../../../components/local/local-fleet-service";
import { ProgramRun, REPO_ROOT, SECRET_SIG, SECRET_SIG_KEY, one, runProgram, urnOf } from "../../support/mocks";
import { newOpenSshPrivateKey } from "../../../model/ssh-key";

const FLEET_SERVICE = "pulumi-nodejs:dynamic/coreos-cluster:FleetService";
/** Paths where `needle` appears in a serialized value outside a secret wrapper. */
function plaintext(value: unknown, needle: string, at = ""): string[] {
    if (typeof value === "string") return value.includes(needle) ? [at || "(root)"] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => plaintext(v, needle, `${at}[${i}]`));
    if (value !== null && typeof value === "object") {
        if ((value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG) return [];
        return Object.entries(value).flatMap(([k, v]) => plaintext(v, needle, `${at}.${k}`));
    }
    return [];
}

const QUEUE_UNIT = "[Unit]\nDescription=queue %i\n\n[Service]\nExecStart=/usr/bin/queue --port 5672 --instance %i\n";

describe("program on GCE under mocks: fleetServices", function () {
    const privateKey = newOpenSshPrivateKey();
    const tunnel = { host: "203.0.113.7", port: 2222, username: "core", privateKey };
    const fleetEndpoint = "http://10.10.0.2:49153";
    const fleetServices = [
        { name: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 3 },
        { name: "queue", content: QUEUE_UNIT, instancePort: 5672, count: 2, scheme: "tcp", hostPort: 5673, ttlSeconds: 60, waitTimeoutSeconds: 120 },
    ];
    let run: ProgramRun;
    let clientUrls: string[];

    before(async function () {
        this.timeout(300_000);
        const raw = { ...Object.fromEntries(Object.entries(readStackFile("dev", REPO_ROOT))), sshTunnel: tunnel, fleetEndpoint, fleetRelease: { sha256: "7e57".repeat(16) }, fleetServices };
        clientUrls = planCluster(loadConfig(raw, "dev")).clientUrls;
        run = await runProgram({ stack: "dev", config: raw, fresh: "all" });
    });

    const inputsOf = (name: string) => one(run.resources.filter((r) => r.name === name)).inputs;

    it("registers one FleetService per declared service, named <cluster>-fleet-service-<name>", () => {
        const services = run.resources.filter((r) => r.type === FLEET_SERVICE);
        expect(services.map((r) => r.name).sort()).to.deep.equal(["coreos-dev-fleet-service-api", "coreos-dev-fleet-service-queue"]);
        expect(run.resources.filter((r) => r.type.includes("LocalFleet"))).to.deep.equal([]);
    });

    it("passes the declaration through: service, image or content, count, scheme, ports, TTL, wait bound", () => {
        expect(inputsOf("coreos-dev-fleet-service-api")).to.include({ service: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 3 });
        expect(inputsOf("coreos-dev-fleet-service-api")).to.not.have.property("hostPort");
        expect(inputsOf("coreos-dev-fleet-service-queue")).to.include({
            service: "queue", content: QUEUE_UNIT, instancePort: 5672, count: 2, scheme: "tcp", hostPort: 5673, ttlSeconds: 60, waitTimeoutSeconds: 120,
        });
    });

    it("gives the sidekicks the members' client URLs, the stack's prefix and the declared services (ownership)", () => {
        for (const name of ["coreos-dev-fleet-service-api", "coreos-dev-fleet-service-queue"]) {
            const inputs = inputsOf(name);
            expect(inputs.etcdEndpoints, name).to.equal(clientUrls.join(","));
            expect(inputs.etcdEndpoints).to.match(/^https:\/\/10\.10\.0\.\d+:2379(,https:\/\/10\.10\.0\.\d+:2379)+$/);
            expect(inputs.prefix, name).to.equal("/services");
            expect(inputs.declaredServices, name).to.deep.equal(["web", "redis"]);
        }
    });

    it("reaches fleet as the FleetUnits do: the tunnelled endpoint and the tunnel only as secrets", () => {
        for (const name of ["coreos-dev-fleet-service-api", "coreos-dev-fleet-service-queue"]) {
            expect(inputsOf(name).endpoint).to.equal(fleetEndpoint);
            expect(inputsOf(name).sshTunnel).to.deep.equal(tunnel);
            const wire = one(run.wire.filter((w) => w.name === name)).object as Record<string, any>;
            expect(wire.endpoint[SECRET_SIG_KEY], "endpoint sent as a secret").to.equal(SECRET_SIG);
            expect(wire.sshTunnel[SECRET_SIG_KEY], "tunnel sent as a secret").to.equal(SECRET_SIG);
            expect(plaintext(wire, fleetEndpoint), "endpoint outside a secret").to.deep.equal([]);
            expect(plaintext(wire, privateKey), "key outside a secret").to.deep.equal([]);
        }
    });

    it("waits for the cluster, like every provider", async () => {
        const cluster = one(run.options.filter((o) => o.type === "coreos-cluster:index:GcpCluster")).resource;
        const gateUrn = await urnOf(one(run.options.filter((o) => o.type === "command:remote:Command")).resource);
        for (const name of ["coreos-dev-fleet-service-api", "coreos-dev-fleet-service-queue"]) {
            expect(one(run.options.filter((o) => o.name === name)).dependsOn, name).to.include(cluster);
            expect(one(run.wire.filter((w) => w.name === name)).dependencies, name).to.include(gateUrn);
        }
    });

    it("exports notAppliedLocally as null: everything applies on GCE", () => {
        expect(run.outputs).to.have.property("notAppliedLocally", null);
    });
});

describe("program under mocks: the local stack's fleetServices", function () {
    let run: ProgramRun;
    const raw = readStackFile("local", REPO_ROOT);
    const config = loadConfig(raw, "local");
    const unitsDir = path.resolve(config.local.dataDir, "fleet-units");

    before(async function () {
        this.timeout(300_000);
        run = await runProgram({ stack: "local", config: raw, fresh: "program" });
    });

    it("registers no FleetService, but a LocalFleetService writing both templates and instances 1..count", () => {
        expect(run.resources.filter((r) => r.type === FLEET_SERVICE)).to.deep.equal([]);
        expect(one(run.resources.filter((r) => r.type === "coreos-cluster:index:LocalFleetService")).name).to.equal("local-fleet-service-demo");
        const units = run.resources.filter((r) => r.name.startsWith("local-fleet-service-demo-"));
        expect(units.map((u) => u.inputs.name).sort()).to.deep.equal(["demo@.service", "demo_presence@.service"]);
        for (const unit of units) {
            expect(unit.inputs.instances, unit.name).to.deep.equal(["1", "2"]);
            expect(unit.inputs.directory, unit.name).to.equal(unitsDir);
        }
    });

    it("writes exactly the units the FleetService provider would push to GCE for this declaration", () => {
        const demo = config.fleetServices[0];
        const spec = localFleetServiceSpec({ service: demo, prefix: config.servicesPrefix, etcdEndpoints: planCluster(config).clientUrls.join(","), directory: unitsDir });
        const expected = fleetServiceDeclarations(spec, demo.count);
        for (const decl of expected) {
            const unit = one(run.resources.filter((r) => r.name === `local-fleet-service-demo-${decl.name}`));
            expect(unit.inputs.options, decl.name).to.deep.equal(decl.options);
        }
        const sidekick = one(run.resources.filter((r) => r.name === "local-fleet-service-demo-demo_presence@.service")).inputs.options;
        expect(sidekick).to.deep.include({ section: "Service", name: "Environment", value: "ETCDCTL_ENDPOINTS=https://10.213.10.10:2379,https://10.213.10.11:2379,https://10.213.10.12:2379" });
        // Mutual TLS as the sidekick identity, from the worker's fetched bundle.
        expect(sidekick).to.deep.include({ section: "Service", name: "Environment", value: "ETCDCTL_CERT=/etc/coreos-cluster/tls/sidekick.pem" });
        expect(sidekick).to.deep.include({ section: "Unit", name: "X-FleetService", value: "/services/demo" });
    });

    it("says in the stack's notAppliedLocally that neither fleet, the rolling update nor the sidekicks run here", () => {
        const note: string = run.outputs.notAppliedLocally.fleetServices.demo;
        expect(note).to.contain("demo@.service, demo_presence@.service").and.contain(unitsDir);
        expect(note).to.match(/no fleetd on the local platform.*no rolling update.*no sidekick announces \/services\/demo\/hosts\/<n>/);
        expect(Object.keys(run.outputs.notAppliedLocally.machines)).to.have.length(config.etcd.count + config.local.workers);
    });
});
