// coreos-cluster:fleetServices: templated fleet services declared in the stack. Validation is
// pure; each refusal names exactly its key and nothing else is reported.
import { expect } from "chai";
import { validateConfig } from "../../model/validate";
import { readStackFile } from "../../model/stack-config";
import { gcpRaw, localRaw } from "./raw-configs";
import * as fs from "fs";
import * as path from "path";
import YAML from "yaml";

const API = { name: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 3 };
const UNIT_TEXT = "[Unit]\nDescription=api %i\n\n[Service]\nExecStart=/usr/bin/api --port 8080 --instance %i\n";

interface Case {
    what: string;
    raw: Record<string, unknown>;
    stack?: string;
    key: string;
    message: RegExp;
}

const withServices = (fleetServices: unknown[], more: Record<string, unknown> = {}) => gcpRaw({ fleetServices, ...more });

const cases: Case[] = [
    { what: "a name that is no DNS label", raw: withServices([{ ...API, name: "Api_1" }]), key: "fleetServices[0].name", message: /"Api_1" is not a valid service name/ },
    { what: "a missing name", raw: withServices([{ ...API, name: undefined }]), key: "fleetServices[0].name", message: /is required and must be a string/ },
    { what: "a duplicate name", raw: withServices([API, { ...API, image: "nginx:1.28" }]), key: "fleetServices[1].name", message: /duplicate fleet service "api" \(also fleetServices\[0\]\)/ },
    { what: "a name also declared in services (ownership)", raw: withServices([{ ...API, name: "redis" }]), key: "fleetServices[0].name", message: /"redis" is also declared in coreos-cluster:services\[1\].*either announced by its fleet sidekicks or registered from services, not both/ },
    {
        what: "a name whose template instance a fleet unit already declares",
        raw: withServices([API], { fleetUnits: [{ name: "api@.service", instances: [7], content: "[Service]\nExecStart=/bin/true\n" }] }),
        key: "fleetServices[0].name",
        message: /would push api@\.service and api_presence@\.service, but fleetUnits\[0\] already declares the unit api@\.service/,
    },
    {
        what: "a name whose sidekick unit a fleet unit already declares",
        raw: withServices([API], { fleetUnits: [{ name: "api_presence@2.service", content: "[Service]\nExecStart=/bin/true\n" }] }),
        key: "fleetServices[0].name",
        message: /already declares the unit api_presence@2\.service/,
    },
    { what: "both image and content", raw: withServices([{ ...API, content: UNIT_TEXT, instancePort: 8080 }]), key: "fleetServices[0]", message: /exactly one of image .* and content/ },
    { what: "neither image nor content", raw: withServices([{ name: "api", count: 1 }]), key: "fleetServices[0]", message: /exactly one of image .* and content/ },
    { what: "an image without containerPort", raw: withServices([{ ...API, containerPort: undefined }]), key: "fleetServices[0].containerPort", message: /the port the image listens on/ },
    { what: "content without instancePort", raw: withServices([{ name: "api", content: UNIT_TEXT, count: 1 }]), key: "fleetServices[0].instancePort", message: /the port each instance listens on/ },
    { what: "containerPort with content", raw: withServices([{ name: "api", content: UNIT_TEXT, instancePort: 8080, containerPort: 80, count: 1 }]), key: "fleetServices[0].containerPort", message: /applies to image only/ },
    { what: "instancePort with an image", raw: withServices([{ ...API, instancePort: 8080 }]), key: "fleetServices[0].instancePort", message: /applies to content only/ },
    { what: "a port out of range", raw: withServices([{ ...API, containerPort: 70000 }]), key: "fleetServices[0].containerPort", message: /an integer 1-65535\), got number 70000/ },
    { what: "an image reference with a space", raw: withServices([{ ...API, image: "nginx latest" }]), key: "fleetServices[0].image", message: /not a docker image reference/ },
    { what: "content with a syntax error", raw: withServices([{ name: "api", content: "ExecStart=/bin/true\n", instancePort: 8080, count: 1 }]), key: "fleetServices[0].content", message: /unit file syntax: line 1/ },
    { what: "content with an [X-Fleet] combination fleet refuses", raw: withServices([{ name: "api", content: `${UNIT_TEXT}[X-Fleet]\nGlobal=true\nMachineOf=db.service\n`, instancePort: 8080, count: 1 }]), key: "fleetServices[0].content", message: /Global cannot be used with MachineOf/ },
    { what: "count 0", raw: withServices([{ ...API, count: 0 }]), key: "fleetServices[0].count", message: /1-100, got number 0/ },
    { what: "count above 100", raw: withServices([{ ...API, count: 101 }]), key: "fleetServices[0].count", message: /1-100, got number 101/ },
    { what: "a fractional count", raw: withServices([{ ...API, count: 2.5 }]), key: "fleetServices[0].count", message: /whole number of instances/ },
    { what: "a missing count", raw: withServices([{ ...API, count: undefined }]), key: "fleetServices[0].count", message: /whole number of instances/ },
    { what: "an unknown scheme", raw: withServices([{ ...API, scheme: "udp" }]), key: "fleetServices[0].scheme", message: /must be "http" or "tcp", got the string "udp"/ },
    { what: "tcp without hostPort", raw: withServices([{ ...API, scheme: "tcp" }]), key: "fleetServices[0].hostPort", message: /is required for a tcp service/ },
    { what: "http with hostPort", raw: withServices([{ ...API, hostPort: 7000 }]), key: "fleetServices[0].hostPort", message: /applies to tcp services only/ },
    { what: "a hostPort another service's host_port holds", raw: withServices([{ ...API, scheme: "tcp", hostPort: 6379 }]), key: "fleetServices[0].hostPort", message: /port 6379 is the hostPort of fleet service "api" here and also the host_port of service "redis" \(services\[1\]\.host_port\)/ },
    { what: "two fleet services on one hostPort", raw: withServices([{ ...API, scheme: "tcp", hostPort: 7000 }, { ...API, name: "api2", scheme: "tcp", hostPort: 7000 }]), key: "fleetServices[1].hostPort", message: /port 7000 is the hostPort of fleet service "api2" here and also the hostPort of fleet service "api" \(fleetServices\[0\]\.hostPort\)/ },
    { what: "a hostPort that is an HTTP port", raw: withServices([{ ...API, scheme: "tcp", hostPort: 80 }]), key: "fleetServices[0].hostPort", message: /also a load-balanced HTTP port \(lbHttpPorts\[0\]\)/ },
    { what: "a hostPort that is the health check's", raw: withServices([{ ...API, scheme: "tcp", hostPort: 10256 }]), key: "fleetServices[0].hostPort", message: /also the worker health check \(healthCheckPort\)/ },
    { what: "a reserved hostPort", raw: withServices([{ ...API, scheme: "tcp", hostPort: 2379 }]), key: "fleetServices[0].hostPort", message: /also the etcd client port \(etcd client \(port 2379\)\)/ },
    { what: "a TTL below 3 s", raw: withServices([{ ...API, ttlSeconds: 2 }]), key: "fleetServices[0].ttlSeconds", message: /3-3600/ },
    { what: "a zero wait timeout", raw: withServices([{ ...API, waitTimeoutSeconds: 0 }]), key: "fleetServices[0].waitTimeoutSeconds", message: /1-3600/ },
    { what: "an unknown field (typo)", raw: withServices([{ ...API, replicas: 3 }]), key: "fleetServices[0].replicas", message: /unknown field "replicas"/ },
    { what: "an item that is not an object", raw: withServices(["api"]), key: "fleetServices[0]", message: /must be an object/ },
    { what: "a list that is not a list", raw: gcpRaw({ fleetServices: { name: "api" } }), key: "fleetServices", message: /must be a list of objects/ },
    // The way in, as for fleetUnits: fleet has no authentication and answers only on the members.
    {
        what: "a GCE stack with fleet services but no way to fleet's API",
        raw: gcpRaw({ sshTunnel: {}, services: [], fleetUnits: [], fleetServices: [API] }),
        key: "sshTunnel",
        message: /declares 1 fleet service\(s\) but gives the provider no way to fleet's API/,
    },
    {
        what: "fleet services on GCE Flatcar without a pinned fleet release",
        raw: gcpRaw({ osFlavor: "flatcar", fleetUnits: [], fleetRelease: {}, fleetServices: [API] }),
        key: "fleetRelease",
        message: /required when fleetUnits or fleetServices are pushed to Flatcar machines/,
    },
];

describe("model/validate: coreos-cluster:fleetServices refusals name exactly their key", () => {
    for (const c of cases) {
        it(`refuses ${c.what} (coreos-cluster:${c.key})`, () => {
            const result = validateConfig(c.raw, c.stack ?? "dev");
            expect(result.config).to.equal(undefined);
            expect(result.problems.map((p) => p.key), JSON.stringify(result.problems, null, 1)).to.deep.equal([`coreos-cluster:${c.key}`]);
            expect(result.problems.map((p) => p.message).join("\n")).to.match(c.message);
        });
    }

    it("names both units when fleetUnits and fleetServices lack a way in", () => {
        const result = validateConfig(gcpRaw({ sshTunnel: {}, services: [], fleetServices: [API] }), "dev");
        expect(result.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:sshTunnel"]);
        expect(result.problems[0].message).to.contain("2 fleet unit(s) and 1 fleet service(s)");
    });
});

describe("model/validate: coreos-cluster:fleetServices accepted", () => {
    it("maps the image form with scheme http by default, and changes nothing else", () => {
        const without = validateConfig(gcpRaw(), "dev");
        const withApi = validateConfig(gcpRaw({ fleetServices: [API] }), "dev");
        expect(withApi.problems).to.deep.equal([]);
        expect(withApi.config!.fleetServices).to.deep.equal([{ name: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 3, scheme: "http" }]);
        expect({ ...withApi.config!, fleetServices: [] }).to.deep.equal(without.config);
        expect(without.config!.fleetServices).to.deep.equal([]);
    });

    it("maps the content form with tcp, hostPort, TTL and wait bound", () => {
        const spec = { name: "queue", content: UNIT_TEXT, instancePort: 8080, count: 100, scheme: "tcp", hostPort: 5672, ttlSeconds: 60, waitTimeoutSeconds: 600 };
        const result = validateConfig(gcpRaw({ fleetServices: [spec] }), "dev");
        expect(result.problems).to.deep.equal([]);
        expect(result.config!.fleetServices).to.deep.equal([spec]);
    });

    it("needs neither a tunnel nor a fleet release on the local platform (the units become files)", () => {
        const result = validateConfig(localRaw({ fleetServices: [API], fleetRelease: {} }), "local");
        expect(result.problems).to.deep.equal([]);
        expect(result.config!.fleetServices.map((s) => s.name)).to.deep.equal(["api"]);
    });

    it("the shipped local stack declares one image-based service that no other key claims", () => {
        const config = validateConfig(readStackFile("local"), "local").config!;
        expect(config.fleetServices).to.deep.equal([{ name: "demo", image: "nginxdemos/hello:0.4-plain-text", containerPort: 80, count: 2, scheme: "http" }]);
        expect(config.services.map((s) => s.name)).to.not.include("demo");
        // Nor the example consumer stack, which registers its own service in the same cluster.
        const consumer = YAML.parse(fs.readFileSync(path.join(__dirname, "../../examples/app-stack/Pulumi.local.yaml"), "utf8")).config;
        expect(consumer["coreos-app-example:service"]).to.not.equal("demo");
    });
});
