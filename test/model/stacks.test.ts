import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { readStackFile } from "../../model/stack-config";
import { validateConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { CONFIG_KEYS } from "../../model/defaults";
import { ClusterConfig } from "../../model/types";

const ROOT = path.resolve(__dirname, "..", "..");

function stack(name: string): ClusterConfig {
    const result = validateConfig(readStackFile(name), name);
    expect(result.problems, `Pulumi.${name}.yaml problems`).to.deep.equal([]);
    return result.config!;
}

describe("stack files: Pulumi.<stack>.yaml validate cleanly and say what they promise", () => {
    it("dev: 3 members in one zone, 2 workers, small machines, external IPs, marked dev", () => {
        const c = stack("dev");
        expect(c.platform).to.equal("gcp");
        expect(c.isDev).to.equal(true);
        expect(c.etcd.count).to.equal(3);
        expect(new Set(planCluster(c).members.map((m) => m.zone)).size).to.equal(1);
        expect(c.workers).to.include({ min: 2, max: 2 });
        expect(c.etcd.machineType).to.equal("e2-small");
        expect(c.workers.machineType).to.equal("e2-medium");
        expect(c.externalIps).to.equal(true);
    });

    it("prod: 5 members over 3 zones, at least 3 workers, private, SSH from configured ranges only, protected", () => {
        const c = stack("prod");
        expect(c.environment).to.equal("prod");
        expect(c.isDev).to.equal(false);
        expect(c.etcd.count).to.equal(5);
        const zones = planCluster(c).members.map((m) => m.zone);
        expect(new Set(zones).size).to.equal(3);
        expect(c.workers.min).to.be.at.least(3);
        expect(c.externalIps).to.equal(false);
        expect(c.ssh.allowWorld).to.equal(false);
        expect(c.ssh.sourceRanges).to.deep.equal(["35.235.240.0/20"]);
        expect(c.etcd.protect).to.equal(true);
    });

    it("local: platform local, 3 members and 2 workers on loopback from 10.213.10.10, example services and units", () => {
        const c = stack("local");
        expect(c.platform).to.equal("local");
        expect(c.etcd.count).to.equal(3);
        expect(c.local).to.deep.equal({ firstAddress: "10.213.10.10", workers: 2, dataDir: ".local-machines" });
        const plan = planCluster(c);
        const ips = [...plan.members.map((m) => m.privateIp), ...plan.workers.map((w) => w.privateIp)];
        expect(ips).to.deep.equal(["10.213.10.10", "10.213.10.11", "10.213.10.12", "10.213.10.13", "10.213.10.14"]);
        expect(c.services.map((s) => s.scheme)).to.include.members(["http", "tcp"]);
        expect(c.services.find((s) => s.scheme === "tcp")!.hostPort).to.be.a("number");
        const template = c.fleetUnits.find((u) => u.name.includes("@."));
        expect(template?.instances).to.have.length.greaterThan(0);
    });

    it("every stack file sets only declared keys", () => {
        for (const name of ["dev", "prod", "local"]) {
            const doc = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${name}.yaml`), "utf8"));
            const declared = CONFIG_KEYS.map((k) => `coreos-cluster:${k.key}`);
            for (const key of Object.keys(doc.config)) expect(declared, `Pulumi.${name}.yaml`).to.include(key);
        }
    });
});

describe("Pulumi.yaml: project file and typed config schema", () => {
    const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));

    it("is project coreos-cluster on nodejs/typescript with main index.ts", () => {
        expect(project.name).to.equal("coreos-cluster");
        // startDynamicProviders: this repo's language host starts the dynamic-provider plugin with the program (docs/engine.md).
        expect(project.runtime).to.deep.equal({ name: "nodejs", options: { typescript: true, startDynamicProviders: true } });
        expect(project.main).to.equal("index.ts");
        expect(fs.existsSync(path.join(ROOT, project.main))).to.equal(true);
    });

    it("declares every key of the model, with the model's type, items, default and secrecy, and nothing else", () => {
        expect(Object.keys(project.config)).to.have.members(CONFIG_KEYS.map((k) => k.key));
        for (const spec of CONFIG_KEYS) {
            const entry = project.config[spec.key];
            expect(entry.type, spec.key).to.equal(spec.type);
            expect(entry.items, spec.key).to.deep.equal(spec.items ? { type: spec.items } : undefined);
            expect(entry.default, spec.key).to.deep.equal(spec.defaultValue);
            // Never `secret: true`: the CLI would then require the key in every stack (see Pulumi.yaml);
            // secret keys say so in their description and the program refuses plaintext values.
            expect(entry.secret, spec.key).to.equal(undefined);
            if (spec.secret) expect(entry.description, spec.key).to.match(/--secret/);
            expect(entry.description, spec.key).to.be.a("string").and.not.equal("");
        }
    });

    it("uses only types the Pulumi CLI accepts, and arrays say their item type", () => {
        for (const [key, entry] of Object.entries<Record<string, unknown>>(project.config)) {
            expect(["string", "integer", "boolean", "array", "object"], key).to.include(entry.type);
            if (entry.type === "array") expect(entry.items, key).to.have.property("type");
        }
    });

    it("its defaults, as a stack with no config, are a valid local stack", () => {
        const result = validateConfig({ platform: "local" }, "scratch");
        expect(result.problems).to.deep.equal([]);
    });
});

describe("docs/configuration.md", () => {
    it("documents every config key in its key table", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs", "configuration.md"), "utf8");
        for (const spec of CONFIG_KEYS) expect(doc, spec.key).to.include(`| \`${spec.key}\` |`);
    });
});
