import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { StackFileError, decodeConfigValue, parseStackFile, readPulumiConfig, readStackFile } from "../../model/stack-config";
import { validateConfig } from "../../model/validate";

function stackText(config: Record<string, unknown>): string {
    return YAML.stringify({ config });
}

describe("model/stack-config: reading Pulumi.<stack>.yaml", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-config-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("returns this project's keys without their namespace and ignores other namespaces", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:etcdCount": 5, "coreos-cluster:zones": ["a-b"], "gcp:project": "x" }));
        expect(raw).to.deep.equal({ etcdCount: 5, zones: ["a-b"] });
    });

    it("normalizes top-level scalars as the engine does: quoted numbers and booleans decode by the key's type", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:etcdCount": "5", "coreos-cluster:isDev": "true", "coreos-cluster:etcdVersion": "v3.5.17", "coreos-cluster:region": 12 }));
        expect(raw).to.deep.equal({ etcdCount: 5, isDev: true, etcdVersion: "v3.5.17", region: "12" });
    });

    it("keeps values that do not decode, so the validator names the key", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:etcdCount": "three", "coreos-cluster:etcdCont": 3 }));
        expect(raw).to.deep.equal({ etcdCount: "three", etcdCont: "3" });
        const keys = validateConfig(raw, "dev").problems.map((p) => p.key);
        expect(keys).to.include.members(["coreos-cluster:etcdCount", "coreos-cluster:etcdCont"]);
    });

    it("keeps nested values as typed in the file (a quoted host_port stays a string and is refused)", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:services": [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: "5432" }] }));
        expect((raw.services as Array<Record<string, unknown>>)[0].host_port).to.equal("5432");
        const problem = validateConfig({ ...raw, platform: "local" }, "dev").problems.find((p) => p.key === "coreos-cluster:services[0].host_port");
        expect(problem?.message).to.match(/must be an integer port/);
    });

    it("keeps encrypted values as {secure} objects", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:etcdPassword": { secure: "v1:abc" } }));
        expect(raw).to.deep.equal({ etcdPassword: { secure: "v1:abc" } });
    });

    it("reads a stack file from a folder and names the file when it cannot", () => {
        fs.writeFileSync(path.join(dir, "Pulumi.t1.yaml"), stackText({ "coreos-cluster:clusterName": "t1" }));
        expect(readStackFile("t1", dir)).to.deep.equal({ clusterName: "t1" });
        expect(() => readStackFile("missing", dir)).to.throw(StackFileError, /Pulumi\.missing\.yaml: ENOENT/);
        expect(() => readStackFile("../etc/passwd", dir)).to.throw(StackFileError, /not a stack name/);
    });

    it("refuses broken YAML, duplicate keys and keys without a namespace with the file named", () => {
        expect(() => parseStackFile("config:\n  coreos-cluster:etcdCount: [3\n", "Pulumi.bad.yaml")).to.throw(StackFileError, /Pulumi\.bad\.yaml is not valid YAML/);
        expect(() => parseStackFile("config:\n  coreos-cluster:etcdCount: 3\n  coreos-cluster:etcdCount: 5\n", "Pulumi.dup.yaml")).to.throw(StackFileError, /not valid YAML/);
        expect(() => parseStackFile("config:\n  etcdCount: 3\n", "Pulumi.ns.yaml")).to.throw(StackFileError, /"etcdCount" has no namespace; write it as coreos-cluster:etcdCount/);
        expect(() => parseStackFile("- a\n- b\n", "Pulumi.list.yaml")).to.throw(StackFileError, /must be a YAML mapping/);
    });

    it("marks a secret stored in plaintext, and the validator refuses it without echoing it", () => {
        const raw = parseStackFile(stackText({ "coreos-cluster:etcdUsername": "root", "coreos-cluster:etcdPassword": "plain-pw-123" }));
        const problems = validateConfig({ ...raw, platform: "local" }, "dev").problems;
        expect(problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:etcdPassword"]);
        expect(problems[0].message).to.match(/stored in plaintext.*pulumi config set --secret etcdPassword/);
        expect(JSON.stringify(problems)).to.not.include("plain-pw-123");
        const tunnel = parseStackFile(stackText({ "coreos-cluster:sshTunnel": { host: "10.213.10.10", username: "u", privateKey: { secure: "v1:x" } } }));
        expect(validateConfig({ ...tunnel, platform: "local" }, "dev").problems).to.deep.equal([]);
    });

    it("treats a file without config as an empty stack", () => {
        expect(parseStackFile("encryptionsalt: v1:xyz\n")).to.deep.equal({});
    });
});

describe("model/stack-config: reading config inside a Pulumi program", () => {
    afterEach(() => pulumi.runtime.setAllConfig({}));

    it("decodes the engine's strings by type and ignores other namespaces", () => {
        pulumi.runtime.setAllConfig(
            {
                "coreos-cluster:etcdCount": "5",
                "coreos-cluster:isDev": "false",
                "coreos-cluster:zones": JSON.stringify(["europe-west1-b", "europe-west1-c"]),
                "coreos-cluster:services": JSON.stringify([{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: 5432 }]),
                "coreos-cluster:fleetMetadata": JSON.stringify({ tier: "x" }),
                "coreos-cluster:etcdPassword": "pw",
                "coreos-cluster:etcdCont": "3",
                "gcp:project": "elsewhere",
            },
            ["coreos-cluster:etcdPassword"],
        );
        expect(readPulumiConfig()).to.deep.equal({
            etcdCount: 5,
            isDev: false,
            zones: ["europe-west1-b", "europe-west1-c"],
            services: [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: 5432 }],
            fleetMetadata: { tier: "x" },
            etcdPassword: "pw",
            etcdCont: "3",
        });
    });

    it("refuses etcdPassword or sshTunnel that the engine did not hold as secrets", () => {
        pulumi.runtime.setAllConfig({ "coreos-cluster:etcdUsername": "root", "coreos-cluster:etcdPassword": "pw-in-the-clear", "coreos-cluster:platform": "local" }, []);
        const problems = validateConfig(readPulumiConfig(), "dev").problems;
        expect(problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:etcdPassword"]);
        expect(JSON.stringify(problems)).to.not.include("pw-in-the-clear");
        pulumi.runtime.setAllConfig({ "coreos-cluster:etcdUsername": "root", "coreos-cluster:etcdPassword": "pw", "coreos-cluster:platform": "local" }, ["coreos-cluster:etcdPassword"]);
        expect(validateConfig(readPulumiConfig(), "dev").problems).to.deep.equal([]);
    });

    it("leaves undecodable values as strings for the validator to name", () => {
        pulumi.runtime.setAllConfig({ "coreos-cluster:etcdCount": "3.5", "coreos-cluster:zones": "[not json" });
        const raw = readPulumiConfig();
        expect(raw).to.deep.equal({ etcdCount: "3.5", zones: "[not json" });
        const problems = validateConfig(raw, "dev").problems.map((p) => p.key);
        expect(problems).to.include.members(["coreos-cluster:etcdCount", "coreos-cluster:zones"]);
    });

    it("decodes each declared type", () => {
        expect(decodeConfigValue("etcdCount", " 7 ")).to.equal(7);
        expect(decodeConfigValue("etcdCount", "007")).to.equal("007");
        expect(decodeConfigValue("externalIps", "true")).to.equal(true);
        expect(decodeConfigValue("externalIps", "yes")).to.equal("yes");
        expect(decodeConfigValue("lbHttpPorts", "[80]")).to.deep.equal([80]);
        expect(decodeConfigValue("clusterName", "123")).to.equal("123");
    });
});
