// Rendered text proves itself (issue 22): coreos-cloudinit reads user-data as YAML 1.1 (go-yaml,
// a port of libyaml), this project reads it as YAML 1.2. Every rendering must read the same
// under both, and the check that says so (cloud-config/yaml-agreement.ts) must catch each way
// they can differ. libyaml itself is asked too, through Debian's python3-yaml.

import { expect } from "chai";
import fc from "fast-check";
import * as path from "path";
import YAML from "yaml";
import { renderMachines, RenderedMachine, yamlDisagreement } from "../../cloud-config";
import { substituteAddresses } from "../../cloud-config/inspect";
import { needsDoubleQuotes, stringifyCloudConfig } from "../../cloud-config/render-common";
import { LONE_SURROGATE } from "../../cloud-config/value-safety";
import { validateCloudConfig } from "../../cloud-config/validate";
import { readBothVersions } from "../../cloud-config/yaml-agreement";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { readStackFile } from "../../model/stack-config";
import { ClusterConfig, ConfigValidationError, OsFlavor } from "../../model/types";
import { gcpConfig, localConfig, planFor, prodConfig } from "./fixtures";
import { hostileTail, libyamlRead } from "./hostile-strings";

const ROOT = path.resolve(__dirname, "..", "..");
const FLAVORS: OsFlavor[] = ["flatcar", "container-linux"];
const RAW_LINE_BREAKS = /[\u0085\u2028\u2029]/;

function withFlavor(config: ClusterConfig, flavor: OsFlavor): ClusterConfig {
    return { ...config, os: { ...config.os, flavor } };
}

function stackRenderings(): Array<{ label: string; machine: RenderedMachine }> {
    const out: Array<{ label: string; machine: RenderedMachine }> = [];
    for (const stack of ["dev", "prod", "local"]) {
        for (const flavor of FLAVORS) {
            const config = withFlavor(loadConfig(readStackFile(stack, ROOT), stack), flavor);
            for (const machine of renderMachines(config, planCluster(config))) out.push({ label: `${stack} ${flavor} ${machine.fileName}`, machine });
        }
    }
    for (const flavor of FLAVORS) {
        const config = withFlavor(prodConfig(), flavor);
        for (const machine of renderMachines(config, planFor(config))) out.push({ label: `fixture-prod ${flavor} ${machine.fileName}`, machine });
    }
    return out;
}

function hasLoneSurrogate(value: unknown): boolean {
    if (typeof value === "string") return LONE_SURROGATE.test(value);
    if (Array.isArray(value)) return value.some(hasLoneSurrogate);
    return value !== null && typeof value === "object" && Object.values(value).some(hasLoneSurrogate);
}

function refusal(run: () => unknown): ConfigValidationError {
    try {
        run();
    } catch (err) {
        if (err instanceof ConfigValidationError) return err;
        throw err;
    }
    throw new Error("expected a ConfigValidationError, got a rendering");
}

describe("YAML 1.1 and YAML 1.2 read every rendering alike", () => {
    const renderings = stackRenderings();

    it("rendered dev, prod and local user-data (both flavors) parse identically under YAML 1.1 and 1.2", () => {
        expect(renderings.length).to.be.greaterThan(20);
        for (const { label, machine } of renderings) {
            const text = machine.userData;
            expect(RAW_LINE_BREAKS.test(text), label).to.equal(false);
            for (const version of ["1.1", "1.2"] as const) {
                const docs = YAML.parseAllDocuments(text, { version });
                expect(docs, `${label} ${version}`).to.have.length(1);
                expect([...docs[0].errors, ...docs[0].warnings].map((e) => e.message), `${label} ${version}`).to.deep.equal([]);
            }
            const yaml12 = YAML.parse(text, { version: "1.2" });
            expect(YAML.parse(text, { version: "1.1" }), label).to.deep.equal(yaml12);
            // What coreos-cloudinit parses: the text after its address substitution.
            const addresses = { privateIpv4: "10.0.0.2", publicIpv4: "" };
            expect(YAML.parse(substituteAddresses(text, addresses), { version: "1.1" }), label).to.deep.equal(
                JSON.parse(JSON.stringify(yaml12), (_k, v) => (typeof v === "string" ? substituteAddresses(v, addresses) : v)),
            );
            expect(yamlDisagreement(text), label).to.equal(undefined);
        }
    });

    it("libyaml (the C library go-yaml ports) reads the same documents as YAML 1.2", function () {
        const read = libyamlRead(renderings.map((r) => r.machine.userData));
        if (!read) throw new Error("libyaml is not available: /usr/bin/python3 with python3-yaml (scripts/install-system-deps.sh installs it)");
        read.reads.forEach((r, i) => {
            expect(r, `${renderings[i].label} (${read.loader})`).to.deep.equal({ value: YAML.parse(renderings[i].machine.userData) });
        });
    });
});

describe("readBothVersions hands the validator the document it read (one parse fewer per machine)", () => {
    // Agreeing texts that are not valid cloud-config: the verdict, lines included, must not depend on who parsed.
    const invalidButAgreeing = [
        "#cloud-config\nhostname: a\nunknown_key: 1\n",
        "#cloud-config\n\ncoreos:\n  units:\n    - name: a.service\n      command: dance\n      runtime: maybe\n",
        "#cloud-config\nwrite_files:\n  - path: relative/path\n    permissions: 999\n    content: x\n",
        "#cloud\nssh_authorized_keys: not-a-list\n",
        "#cloud-config\n- a\n- b\n",
    ];

    it("gives the same verdict as validating the text alone, for every rendering and for invalid texts", () => {
        const verdicts = (text: string) => {
            const { disagreement, agreed } = readBothVersions(text);
            expect(disagreement, text.slice(0, 80)).to.equal(undefined);
            const alone = validateCloudConfig(text);
            expect(validateCloudConfig(text, agreed), text.slice(0, 80)).to.deep.equal(alone);
            return alone;
        };
        for (const { machine } of stackRenderings()) expect(verdicts(machine.userData).errors).to.deep.equal([]);
        for (const text of invalidButAgreeing) {
            const { errors, warnings } = verdicts(text);
            expect(errors.length + warnings.length, text).to.be.greaterThan(0);
        }
    });

    it("hands out no document when the readers differ", () => {
        const { disagreement, agreed } = readBothVersions("#cloud-config\nhostname: on\n");
        expect(disagreement?.path).to.equal("hostname");
        expect(agreed).to.equal(undefined);
    });
});

describe("yamlDisagreement: every way the two readers can differ", () => {
    const cases: Array<[string, string, RegExp, string | undefined]> = [
        ["a raw U+2028 (a line break to YAML 1.1)", "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA ops\u2028  - ssh-ed25519 EVIL evil\n", /raw U\+2028/, "coreos-cluster:sshAuthorizedKeys[0]"],
        ["a raw NEL", "#cloud-config\nhostname: a\u0085b\n", /raw U\+0085/, "coreos-cluster:clusterName"],
        ["a raw U+2029 in a unit", "#cloud-config\ncoreos:\n  units:\n    - name: x.service\n      content: |\n        [Service]\n        Environment=\"ETCD_DISCOVERY=a\u2029b\"\n", /raw U\+2029/, "coreos-cluster:etcdDiscoveryUrl"],
        ["a raw control character", "#cloud-config\nhostname: a\u0007b\n", /raw U\+0007/, "coreos-cluster:clusterName"],
        ["a 1.1 boolean", "#cloud-config\ncoreos:\n  etcd2:\n    proxy: on\n", /YAML 1\.1 \(coreos-cloudinit\) reads true, YAML 1\.2 reads "on"/, undefined],
        ["a 1.1 octal", "#cloud-config\nwrite_files:\n  - path: /x\n    permissions: 0644\n", /reads 420, YAML 1\.2 reads 644/, undefined],
        ["a 1.2 octal", "#cloud-config\nhostname: 0o17\n", /reads "0o17", YAML 1\.2 reads 15/, "coreos-cluster:clusterName"],
        ["a sexagesimal number", "#cloud-config\ncoreos:\n  locksmith:\n    window_start: 04:00\n", /reads 240/, "coreos-cluster:rebootWindowStart"],
        ["a 1.1 timestamp", "#cloud-config\nhostname: 2001-12-14\n", /YAML 1\.1 \(coreos-cloudinit\) reads "2001-12-14T00:00:00\.000Z"/, "coreos-cluster:clusterName"],
        ["a merge key", "#cloud-config\na: &x\n  b: 1\nc:\n  <<: *x\n", /YAML 1\.1/, undefined],
        ["two documents", "#cloud-config\nhostname: a\n---\nhostname: b\n", /reads 2 documents/, undefined],
        ["an escaped lone surrogate (go-yaml refuses the text)", '#cloud-config\nhostname: "a\\ud800b"\n', /lone UTF-16 surrogate/, "coreos-cluster:clusterName"],
        ["a literal block starting with a tab (libyaml stops there)", "#cloud-config\nssh_authorized_keys:\n  - |-\n    \tx\n    y\n", /first line starts with a tab/, "coreos-cluster:sshAuthorizedKeys[0]"],
        ["a literal block whose leading blank line holds a tab (libyaml stops there)", "#cloud-config\nhostname: |\n \t\n  x\n", /leading blank lines hold spaces or tabs/, "coreos-cluster:clusterName"],
        ["a duplicate key", "#cloud-config\nhostname: a\nhostname: b\n", /YAML 1\.1: Map keys must be unique/, "coreos-cluster:clusterName"],
        ["a backslash before $private_ipv4 in a quoted scalar", '#cloud-config\nhostname: "a\\\\$private_ipv4"\n', /after the \$private_ipv4\/\$public_ipv4 substitution: YAML 1\.1: Invalid escape sequence/, "coreos-cluster:clusterName"],
        ["an empty $public_ipv4 that leaves a null", "#cloud-config\nhostname: $public_ipv4\n", /YAML 1\.1 \(coreos-cloudinit\) reads null, YAML 1\.2 reads ""/, "coreos-cluster:clusterName"],
        ["a substitution that leaves a number", "#cloud-config\nhostname: 1$public_ipv4\n", /reads 1, YAML 1\.2 reads "1"/, "coreos-cluster:clusterName"],
    ];
    for (const [what, text, message, configKey] of cases) {
        it(`catches ${what}${configKey ? `, naming ${configKey}` : ""}`, () => {
            const found = yamlDisagreement(text);
            expect(found, what).to.not.equal(undefined);
            expect(found!.message).to.match(message);
            expect(found!.configKey).to.equal(configKey);
        });
    }

    it("names the path of the first difference", () => {
        expect(yamlDisagreement("#cloud-config\nwrite_files:\n  - path: /a\n  - path: /b\n    permissions: 0644\n")!.path).to.equal("write_files[1].permissions");
        expect(yamlDisagreement("#cloud-config\nssh_authorized_keys:\n  - a\n  - b\u2028c\n")!.path).to.equal("ssh_authorized_keys[1]");
        expect(yamlDisagreement("#cloud-config\ncoreos:\n  units:\n    - name: a\n      content: |\n        x\u2028y\n")!.path).to.equal("coreos.units[0].content");
    });

    it("the renderer before issue 22 gave libyaml a second SSH key behind a U+2028; the check refuses that text", function () {
        const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@example.com";
        const hostile = `${key}\u2028  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvil evil@attacker`;
        // The old stringify call, as it was in render-common.ts.
        const old = "#cloud-config\n" + YAML.stringify({ ssh_authorized_keys: [hostile] }, { version: "1.1", blockQuote: "literal", lineWidth: 0 });
        expect(YAML.parse(old, { version: "1.1" }).ssh_authorized_keys).to.have.length(1);
        const found = yamlDisagreement(old)!;
        expect(found.path).to.equal("ssh_authorized_keys[0]");
        expect(found.configKey).to.equal("coreos-cluster:sshAuthorizedKeys[0]");
        // Today's stringify escapes it: one key (with a U+2028 in its comment) for every reader.
        const now = stringifyCloudConfig({ ssh_authorized_keys: [hostile] });
        expect(now).to.contain("\\u2028");
        expect(yamlDisagreement(now)).to.equal(undefined);
        const read = libyamlRead([old, now]);
        if (!read) throw new Error("libyaml is not available: /usr/bin/python3 with python3-yaml (scripts/install-system-deps.sh installs it)");
        expect((read.reads[0] as { value: { ssh_authorized_keys: string[] } }).value.ssh_authorized_keys, "libyaml on the old text").to.have.length(2);
        expect(read.reads[1]).to.deep.equal({ value: { ssh_authorized_keys: [hostile] } });
    });
});

describe("stringifyCloudConfig writes any string so both YAML versions (and libyaml) read it back", () => {
    // Short strings of the characters that decide a scalar's style: blanks, breaks, indicators.
    const styleChars = fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "a", "-", "#", ":", "|", ">", "'", '"', "\\", "\u2028", "\u00a0", "%", "!", "&", "*", "?", ",", "[", "{"), maxLength: 12 });
    const value = fc.oneof(hostileTail, styleChars, fc.string({ unit: "binary", maxLength: 20 }), fc.constantFrom("on", "0o17", "1_000", "0X1F", "<<", "=", "2001-12-14", "1:20", "", " x", "x ", "multi\nline\n", "a\n\u2028b\n", "\n\n"));
    // Values holding $private_ipv4 / $public_ipv4 are refused before any stringify (build.ts), for the substitution above.
    const document = fc.record({
        hostname: value,
        ssh_authorized_keys: fc.array(value, { minLength: 1, maxLength: 3 }),
        write_files: fc.array(fc.record({ path: value, content: value }), { maxLength: 2 }),
        coreos: fc.record({ units: fc.array(fc.record({ name: value, content: value }), { maxLength: 2 }) }),
    }).filter((doc) => !/\$(?:private|public)_ipv4/.test(JSON.stringify(doc)));

    it("YAML 1.1 and 1.2 read back exactly the strings written, and yamlDisagreement finds nothing", () => {
        fc.assert(
            fc.property(document, (doc) => {
                if (hasLoneSurrogate(doc)) {
                    // No YAML 1.1 reader accepts one, escaped or not: refused (build.ts names the key first).
                    expect(() => stringifyCloudConfig(doc)).to.throw(/lone UTF-16 surrogate/);
                    return;
                }
                const text = stringifyCloudConfig(doc);
                expect(RAW_LINE_BREAKS.test(text)).to.equal(false);
                expect(yamlDisagreement(text)).to.equal(undefined);
                expect(YAML.parse(text, { version: "1.1" })).to.deep.equal(doc);
                expect(YAML.parse(text, { version: "1.2" })).to.deep.equal(doc);
            }),
            { numRuns: 400, seed: 22 },
        );
    });

    it("libyaml reads back the same strings", function () {
        const docs = fc.sample(document.filter((d) => !hasLoneSurrogate(d)), { numRuns: 500, seed: 22 });
        const read = libyamlRead(docs.map(stringifyCloudConfig));
        if (!read) throw new Error("libyaml is not available: /usr/bin/python3 with python3-yaml (scripts/install-system-deps.sh installs it)");
        const wrong = docs.filter((doc, i) => JSON.stringify(read.reads[i]) !== JSON.stringify({ value: doc }));
        // Short messages: a counterexample can be thousands of characters long.
        expect(wrong.length, `${wrong.length} of ${docs.length} read otherwise by ${read.loader}, e.g. ${JSON.stringify(wrong[0])?.slice(0, 300)}`).to.equal(0);
    });

    it("quotes exactly what needs it: the usual values stay plain, as in the goldens", () => {
        for (const plain of ["coreos-dev-etcd-0", "http://$private_ipv4:2379", "/opt/bin/fleet-install", "etcd-lock", "2h", "Sun 04:00", "10.213.10.10", "role=worker,zone=local-a"]) {
            expect(needsDoubleQuotes(plain), plain).to.equal(false);
        }
        for (const quoted of ["on", "off", "yes", "0644", "0o17", "0X1F", "1_000", "1e3", ".inf", "<<", "=", "~", "", "04:00", "a\u2028b", "a\u0085b", "\ufeffx"]) {
            expect(needsDoubleQuotes(quoted), JSON.stringify(quoted)).to.equal(true);
        }
    });
});

describe("config values that cannot stay on one line are refused by the renderer, naming the key", () => {
    const cases: Array<[string, ClusterConfig, string, OsFlavor[]?]> = [
        ["an SSH key with a U+2028 and a second key", gcpConfig({ ssh: { authorizedKeys: ["ssh-ed25519 AAAA ops\u2028  - ssh-ed25519 EVIL evil"] } }), "coreos-cluster:sshAuthorizedKeys[0]"],
        ["an SSH key with a line feed", prodConfig({ ssh: { authorizedKeys: ["ssh-ed25519 AAAA ops", "ssh-ed25519 BBBB dev\nssh-ed25519 EVIL"] } }), "coreos-cluster:sshAuthorizedKeys[1]"],
        ["a discovery URL with a NEL", gcpConfig({ etcd: { discoveryUrl: "https://discovery.example.test/x\u0085ExecStart=/bin/evil" } }), "coreos-cluster:etcdDiscoveryUrl"],
        ["a discovery URL with $private_ipv4", gcpConfig({ etcd: { discoveryUrl: "https://discovery.example.test/\\$private_ipv4" } }), "coreos-cluster:etcdDiscoveryUrl"],
        ["a health check path with a U+2029", localConfig({ healthCheck: { port: 10256, path: "/healthz\u2029x" } }), "coreos-cluster:healthCheckPath"],
        ["a services prefix with a carriage return", localConfig({ servicesPrefix: "/services\rExecStart=/bin/evil" }), "coreos-cluster:servicesPrefix"],
        ["a reboot window with a tab", prodConfig({ updates: { rebootStrategy: "etcd-lock", windowStart: "Sun\t04:00", windowLength: "2h" } }), "coreos-cluster:rebootWindowStart"],
        ["a fleet release version that is a path", gcpConfig({ fleet: { release: { version: "v1.0.0/../../etc", url: "https://example.test/f.tar.gz", sha256: "ab".repeat(32) } } }), "coreos-cluster:fleetRelease.version", ["flatcar"]],
    ];
    for (const [what, config, key, flavors = FLAVORS] of cases) {
        it(`${what}: refused naming ${key}`, () => {
            for (const flavor of flavors) {
                const err = refusal(() => renderMachines(withFlavor(config, flavor), planFor(config)));
                expect(err.problems.map((p) => p.key), `${what} (${flavor})`).to.deep.equal([key]);
            }
        });
    }

    it("container-linux refuses a quote, backslash or % coreos-cloudinit would paste unescaped; flatcar quotes them", () => {
        for (const url of ['https://discovery.example.test/a"b', "https://discovery.example.test/a\\b", "https://discovery.example.test/a%2Fb"]) {
            const config = gcpConfig({ etcd: { discoveryUrl: url } });
            const err = refusal(() => renderMachines(withFlavor(config, "container-linux"), planFor(config)));
            expect(err.problems.map((p) => p.key), url).to.deep.equal(["coreos-cluster:etcdDiscoveryUrl"]);
            expect(err.message).to.contain("coreos.etcd2.discovery");
            const machines = renderMachines(withFlavor(config, "flatcar"), planFor(config));
            const member = YAML.parse(machines[0].userData);
            const dropIn = member.coreos.units.find((u: { name: string }) => u.name === "etcd-member.service").drop_ins[0].content as string;
            expect(dropIn.split("\n").filter((l) => l.startsWith("Environment=\"ETCD_DISCOVERY="))).to.deep.equal([
                `Environment="ETCD_DISCOVERY=${url.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%")}"`,
            ]);
        }
    });
});
