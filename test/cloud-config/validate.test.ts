import { expect } from "chai";
import * as zlib from "zlib";
import { formatIssue, Issue, validateCloudConfig } from "../../cloud-config";

const cc = (body: string): string => `#cloud-config\n${body}`;

function only(text: string): { errors: Issue[]; warnings: Issue[]; infos: Issue[]; all: Issue[] } {
    const result = validateCloudConfig(text);
    return { ...result, all: [...result.errors, ...result.warnings, ...result.infos] };
}

describe("cloud-config validator", () => {
    it("accepts a minimal valid config with no issues at all", () => {
        const text = cc(
            [
                "hostname: core-01",
                "ssh_authorized_keys:",
                "  - ssh-ed25519 AAAA user@host",
                "manage_etc_hosts: localhost",
                "coreos:",
                "  update:",
                "    reboot_strategy: etcd-lock",
                "  locksmith:",
                "    group: demo-etcd",
                "    window_start: 'Sun 04:00'",
                "  units:",
                "    - name: etcd-member.service",
                "      command: start",
                "      drop_ins:",
                "        - name: 20-x.conf",
                "          content: \"[Service]\\n\"",
                "write_files:",
                "  - path: /etc/motd",
                "    permissions: '0644'",
                "    owner: root:root",
                "    content: hello",
                "",
            ].join("\n"),
        );
        expect(only(text).all).to.deep.equal([]);
    });

    it("errors when the first line is not exactly #cloud-config", () => {
        const { errors } = only("hostname: x\n");
        expect(errors).to.have.length(1);
        expect(errors[0]).to.include({ line: 1, level: "error" });
        expect(errors[0].message).to.contain("#cloud-config");
        expect(only("#cloud-config  \nhostname: x\n").errors).to.have.length(1);
        expect(only("#!/bin/bash\necho hi\n").errors[0].message).to.contain('"#!/bin/bash"');
    });

    it("errors on YAML syntax with the line of the fault", () => {
        const { errors } = only(cc("hostname: x\ncoreos:\n  units: [a\n"));
        expect(errors.length).to.be.greaterThan(0);
        expect(errors[0].level).to.equal("error");
        expect(errors[0].message).to.match(/^YAML: /);
        expect(errors[0].line).to.be.within(4, 5);
        const duplicate = only(cc("hostname: a\nhostname: b\n")).errors;
        expect(duplicate[0]).to.include({ line: 3 });
    });

    it("errors when the document is not a mapping", () => {
        const { errors } = only(cc("- a\n- b\n"));
        expect(errors[0]).to.include({ line: 2, level: "error" });
        expect(errors[0].message).to.contain("mapping");
    });

    it("warns on unknown keys, at their line, naming the path", () => {
        const { warnings, errors } = only(cc("hostname: x\ncoreos:\n  etcd2:\n    name: a\n    bogus_key: 1\nfoo: bar\n"));
        expect(errors).to.deep.equal([]);
        const unknown = warnings.filter((w) => w.message.includes("unrecognized"));
        expect(unknown.map((w) => [w.line, w.message])).to.deep.equal([
            [6, 'coreos.etcd2.bogus_key: unrecognized key "bogus_key"'],
            [7, 'foo: unrecognized key "foo"'],
        ]);
    });

    it("warns on dashed keys and says the underscore form is required", () => {
        const { warnings, errors } = only(cc("coreos:\n  update:\n    reboot-strategy: etcd-lock\n"));
        expect(errors).to.deep.equal([]);
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.include({ line: 4, level: "warning" });
        expect(warnings[0].message).to.contain('"reboot_strategy"').and.contain("underscore form").and.contain("required");
        // The value under a dashed key is still checked.
        expect(only(cc("coreos:\n  update:\n    reboot-strategy: best-effort\n")).errors[0].message).to.contain("best-effort");
    });

    it("reports every dashed key of the 2016 seed example (which the product must not copy)", () => {
        const seed = cc(
            [
                "hostname: core-01",
                "coreos:",
                "  update:",
                "    reboot-strategy: off",
                "  etcd2:",
                "    name: core-01",
                "    initial-cluster-state: new",
                "  units:",
                "    - name: docker.service",
                "      command: start",
                "      drop-ins:",
                "        - name: 50-insecure-registry.conf",
                "          content: x",
                "write-files:",
                " - path: /etc/conf.d/nfs",
                "   permissions: '0644'",
                "",
            ].join("\n"),
        );
        const dashed = only(seed).warnings.filter((w) => w.message.includes("dashed key"));
        expect(dashed.map((w) => w.line)).to.deep.equal([5, 8, 12, 15]);
    });

    it("warns on wrong types: quoted integer, scalar for a list, string for a bool, int permissions", () => {
        const text = cc(
            [
                "ssh_authorized_keys: ssh-ed25519 AAAA", // 2
                "coreos:", // 3
                "  etcd2:", // 4
                "    heartbeat_interval: '100'", // 5
                "    debug: 'yes'", // 6
                "  units:", // 7
                "    - name: a.service", // 8
                "      enable: 'true'", // 9
                "write_files:", // 10
                "  - path: /etc/x", // 11
                "    permissions: 0644", // 12
                "",
            ].join("\n"),
        );
        const { warnings, errors } = only(text);
        expect(errors).to.deep.equal([]);
        const typed = warnings.filter((w) => w.message.includes("incorrect type"));
        expect(typed.map((w) => w.line)).to.deep.equal([2, 5, 6, 9, 12]);
        expect(typed[0].message).to.contain("ssh_authorized_keys").and.contain("want a list");
        expect(typed[1].message).to.contain("coreos.etcd2.heartbeat_interval").and.contain("want int");
        expect(typed[4].message).to.contain("write_files[0].permissions").and.contain("quoted string");
    });

    it("errors on invalid enum values: proxy, reboot_strategy, units[].command, encoding, manage_etc_hosts", () => {
        const text = cc(
            [
                "manage_etc_hosts: true_hosts", // 2
                "coreos:", // 3
                "  etcd2:", // 4
                "    proxy: maybe", // 5
                "  update:", // 6
                "    reboot_strategy: best-effort", // 7
                "  units:", // 8
                "    - name: a.service", // 9
                "      command: begin", // 10
                "write_files:", // 11
                "  - path: /etc/x", // 12
                "    encoding: zip", // 13
                "    content: abc", // 14
                "",
            ].join("\n"),
        );
        const { errors } = only(text);
        expect(errors.map((e) => e.line)).to.deep.equal([2, 5, 7, 10, 13]);
        expect(errors.every((e) => e.message.includes("invalid value"))).to.equal(true);
        expect(errors[1].message).to.contain("on, off, readonly");
        expect(errors[2].message).to.contain("best-effort was removed");
    });

    it("errors on write_files permissions that are not an octal mode string", () => {
        const bad = only(cc("write_files:\n  - path: /etc/x\n    permissions: '0999'\n  - path: /etc/y\n    permissions: rwx\n"));
        expect(bad.errors.map((e) => e.line)).to.deep.equal([4, 6]);
        expect(bad.errors[0].message).to.contain("^0?[0-7]{3,4}$");
        for (const ok of ["644", "0644", "1755", "01777"]) {
            expect(only(cc(`write_files:\n  - path: /etc/x\n    permissions: '${ok}'\n`)).all, ok).to.deep.equal([]);
        }
    });

    it("errors on write_files content that cannot be decoded with its encoding", () => {
        const gzB64 = zlib.gzipSync(Buffer.from("hello\n")).toString("base64");
        const good = cc(
            `write_files:\n  - path: /etc/a\n    encoding: b64\n    content: aGVsbG8K\n  - path: /etc/b\n    encoding: gzip+base64\n    content: ${gzB64}\n`,
        );
        expect(only(good).all).to.deep.equal([]);
        const bad = cc(
            "write_files:\n  - path: /etc/a\n    encoding: base64\n    content: '%%% not base64'\n" +
                "  - path: /etc/b\n    encoding: gz+b64\n    content: aGVsbG8K\n" +
                "  - path: /etc/c\n    encoding: gzip\n    content: plain text\n",
        );
        const { errors } = only(bad);
        expect(errors.map((e) => e.line)).to.deep.equal([5, 8, 11]);
        expect(errors[0].message).to.contain("write_files[0].content: cannot be decoded as base64");
        expect(errors[1].message).to.contain("cannot be decoded as gz+b64");
    });

    it("errors on write_files paths under /usr, however they are spelled", () => {
        for (const p of ["/usr/bin/fleetd", "/usr", "/./usr/lib/x", "//usr/share/x", "/opt/../usr/x"]) {
            const { errors } = only(cc(`write_files:\n  - path: ${p}\n    content: x\n`));
            expect(errors, p).to.have.length(1);
            expect(errors[0]).to.include({ line: 3, level: "error" });
            expect(errors[0].message).to.contain("read-only");
        }
        expect(only(cc("write_files:\n  - path: /usrlocal/x\n  - path: /opt/bin/x\n")).all).to.deep.equal([]);
    });

    it("warns that etcd2 and fleet are deprecated (expected for container-linux), not an error", () => {
        const { errors, warnings } = only(cc("coreos:\n  etcd2:\n    name: a\n  fleet:\n    public_ip: $private_ipv4\n  etcd:\n    name: x\n"));
        expect(errors).to.deep.equal([]);
        expect(warnings.map((w) => [w.line, w.message.split(":")[0]])).to.deep.equal([
            [3, "coreos.etcd2"],
            [5, "coreos.fleet"],
            [7, "coreos.etcd"],
        ]);
        expect(warnings.every((w) => w.message.includes("deprecated"))).to.equal(true);
    });

    it("reports write_files nested under coreos as info, and still checks its entries", () => {
        const { infos, errors, warnings } = only(cc("coreos:\n  write_files:\n    - path: /usr/x\n      content: y\n"));
        expect(infos).to.have.length(1);
        expect(infos[0]).to.include({ line: 3, level: "info" });
        expect(infos[0].message).to.contain("top level");
        expect(warnings).to.deep.equal([]);
        expect(errors.map((e) => e.line)).to.deep.equal([4]);
    });

    it("formats issues the way coreos-cloudinit prints them", () => {
        expect(formatIssue({ line: 7, level: "warning", message: "x: unrecognized key" })).to.equal("line 7: warning: x: unrecognized key");
    });

    it("accepts an empty config", () => {
        expect(only("#cloud-config\n").all).to.deep.equal([]);
    });
});
