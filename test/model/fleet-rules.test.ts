import { expect } from "chai";
import fc from "fast-check";
import {
    fleetUnitSpecProblems, instanceName, isInstanceName, isTemplateName, optionLineProblems, parseUnitFile,
    UnitFileSyntaxError, unitFileText, unitNameProblems, xFleetProblems, expandSpecifiers, splitFleetValues,
} from "../../model/fleet-rules";
import type { FleetUnitOption } from "../../model/types";

const xf = (pairs: Array<[string, string]>): FleetUnitOption[] => pairs.map(([name, value]) => ({ section: "X-Fleet", name, value }));

describe("fleet rules: unit names", () => {
    it("accepts the names fleet accepts", () => {
        for (const ok of ["web.service", "web@.service", "web@1.service", "a:b_c-d.e.socket", "x.timer", "data.mount", "y@.target"]) {
            expect(unitNameProblems(ok), ok).to.deep.equal([]);
        }
    });
    it("refuses an empty name", () => {
        expect(unitNameProblems("")).to.deep.equal(["unit name is empty"]);
    });
    it("counts the 256-character limit exactly", () => {
        expect(unitNameProblems(`${"a".repeat(248)}.service`)).to.deep.equal([]); // 256
        expect(unitNameProblems(`${"a".repeat(249)}.service`).join()).to.match(/at most 256/); // 257
    });
    it("names each problem", () => {
        expect(unitNameProblems("web app.service").join()).to.match(/invalid characters " "/);
        expect(unitNameProblems("@web.service").join()).to.match(/must not start with "@"/);
        expect(unitNameProblems("web.conf").join()).to.match(/must end with one of/);
        expect(unitNameProblems("web").join()).to.match(/must end with one of/);
        expect(unitNameProblems("a@b@.service").join()).to.match(/more than one "@"/);
        expect(unitNameProblems(".service").join()).to.match(/nothing before its suffix/);
    });
    it("allows templates only for .path .service .socket .target .timer", () => {
        for (const s of ["path", "service", "socket", "target", "timer"]) expect(unitNameProblems(`t@.${s}`)).to.deep.equal([]);
        for (const s of ["mount", "device", "swap", "slice", "scope", "automount", "busname", "snapshot"]) {
            expect(unitNameProblems(`t@.${s}`).join(), s).to.match(/template unit/);
            expect(unitNameProblems(`t.${s}`), s).to.deep.equal([]);
        }
    });
    it("tells templates from instances and builds instance names", () => {
        expect(isTemplateName("web@.service")).to.equal(true);
        expect(isTemplateName("web@1.service")).to.equal(false);
        expect(isTemplateName("web.service")).to.equal(false);
        expect(isInstanceName("web@1.service")).to.equal(true);
        expect(instanceName("web@.service", 3)).to.equal("web@3.service");
        expect(instanceName("a.b@.socket", "x")).to.equal("a.b@x.socket");
        expect(() => instanceName("web.service", 1)).to.throw(/not a template/);
    });
});

describe("fleet rules: unit file syntax", () => {
    it("parses sections, comments, whitespace and continuations", () => {
        const text = [
            "# a comment", "; another", "[Unit]", "Description = My Apache Frontend ", "After=docker.service", "",
            "[Service]", "ExecStart=/usr/bin/docker run \\", "  # skipped inside a continuation", "  --rm coreos/apache",
            "ExecStop=/usr/bin/docker stop apache1", "[X-Fleet]", "Conflicts=apache@*.service",
        ].join("\n");
        expect(parseUnitFile(text)).to.deep.equal([
            { section: "Unit", name: "Description", value: "My Apache Frontend" },
            { section: "Unit", name: "After", value: "docker.service" },
            { section: "Service", name: "ExecStart", value: "/usr/bin/docker run  --rm coreos/apache" },
            { section: "Service", name: "ExecStop", value: "/usr/bin/docker stop apache1" },
            { section: "X-Fleet", name: "Conflicts", value: "apache@*.service" },
        ]);
    });
    it("keeps '=' inside values and handles CRLF", () => {
        expect(parseUnitFile("[X-Fleet]\r\nMachineMetadata=region=us-west\r\n")).to.deep.equal([
            { section: "X-Fleet", name: "MachineMetadata", value: "region=us-west" },
        ]);
    });
    it("lists every bad line with its number", () => {
        try {
            parseUnitFile("Description=x\n[Unit]\nnot an option\n[Broken\n");
            expect.fail("should throw");
        } catch (e) {
            expect(e).to.be.instanceOf(UnitFileSyntaxError);
            const problems = (e as UnitFileSyntaxError).problems;
            expect(problems).to.have.length(3);
            expect(problems[0]).to.match(/line 1: option "Description" comes before any \[Section\]/);
            expect(problems[1]).to.match(/line 3: expected/);
            expect(problems[2]).to.match(/line 4: malformed section header/);
        }
    });
    it("round-trips options through unit file text (property)", () => {
        const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/);
        const value = fc.stringMatching(/^[^\s\\#;][^\r\n\\]{0,40}[^\s\\]$|^$/);
        const option = fc.record({ section: fc.constantFrom("Unit", "Service", "X-Fleet", "Install"), name: token, value });
        fc.assert(fc.property(fc.array(option, { maxLength: 12 }), (opts) => {
            const parsed = parseUnitFile(unitFileText(opts));
            // unitFileText groups by section in order of first appearance, like fleet does
            const order = [...new Set(opts.map((o) => o.section))];
            const grouped = order.flatMap((s) => opts.filter((o) => o.section === s));
            expect(parsed).to.deep.equal(grouped);
        }));
    });
});

describe("fleet rules: [X-Fleet] options", () => {
    it("accepts the valid combinations", () => {
        expect(xFleetProblems(xf([["Conflicts", "apache@*.service"], ["MachineMetadata", "region=us-west"]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["Global", "true"], ["Conflicts", "x.service"], ["MachineMetadata", "role=worker"]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["MachineID", "abc123"], ["MachineMetadata", "a=b"]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["MachineOf", "web@%i.service"], ["Global", "false"]]))).to.deep.equal([]);
    });
    it("rejects each combination fleet rejects", () => {
        const cases: Array<[Array<[string, string]>, RegExp]> = [
            [[["MachineID", "m1"], ["MachineOf", "a.service"]], /MachineID cannot be used with MachineOf/],
            [[["MachineID", "m1"], ["Conflicts", "a*"]], /MachineID cannot be used with Conflicts/],
            [[["MachineID", "m1"], ["Global", "yes"]], /MachineID cannot be used with Global/],
            [[["MachineID", "m1"], ["Replaces", "a.service"]], /MachineID cannot be used with Replaces/],
            [[["Global", "on"], ["MachineOf", "a.service"]], /Global cannot be used with MachineOf/],
            [[["Global", "1"], ["Replaces", "a.service"]], /Global cannot be used with Replaces/],
            [[["Conflicts", "a*"], ["Replaces", "b.service"]], /Conflicts cannot be used with Replaces/],
            [[["X-ConditionMachineID", "m1"], ["X-Conflicts", "a*"]], /MachineID cannot be used with Conflicts/],
        ];
        for (const [pairs, re] of cases) {
            const problems = xFleetProblems(xf(pairs));
            expect(problems, JSON.stringify(pairs)).to.have.length(1);
            expect(problems[0]).to.match(re);
        }
    });
    it("treats Global as set only when its last value is true/yes/1/on/t, and refuses values that are neither", () => {
        for (const t of ["true", "YES", "1", "on", "t"]) expect(xFleetProblems(xf([["Global", t], ["Replaces", "a.service"]]))).to.have.length(1);
        for (const f of ["false", "no", "0", "off", "F"]) expect(xFleetProblems(xf([["Global", f], ["Replaces", "a.service"]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["Global", "true"], ["Global", "false"], ["Replaces", "a.service"]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["Global", "ture"]])).join()).to.match(/Global=ture is neither true/);
    });
    it("requires MachineMetadata to be key=value (space separated, quotes group)", () => {
        expect(xFleetProblems(xf([["MachineMetadata", "region=us-west \"disk=ssd\""]]))).to.deep.equal([]);
        expect(xFleetProblems(xf([["MachineMetadata", "region"]])).join()).to.match(/"region" must be key=value/);
        expect(xFleetProblems(xf([["MachineMetadata", "=x"]])).join()).to.match(/must be key=value/);
        expect(xFleetProblems(xf([["MachineMetadata", "a=b=c"]])).join()).to.match(/must be key=value/);
        expect(splitFleetValues(" a=b  \"c=d\" e ")).to.deep.equal(["a=b", "c=d", "e"]);
    });
    it("refuses unknown [X-Fleet] keys and peers that match a conflict", () => {
        expect(xFleetProblems(xf([["MachineMetdata", "a=b"]])).join()).to.match(/MachineMetdata is not an option fleet knows/);
        expect(xFleetProblems(xf([["MachineOf", "web@1.service"], ["Conflicts", "web@*.service"]])).join()).to.match(/unresolvable/);
        expect(xFleetProblems(xf([["MachineOf", "web@%i.service"], ["Conflicts", "web@2.service"]]), "side@2.service").join()).to.match(/unresolvable/);
        expect(expandSpecifiers("%n %N %p %i", "web@3.service")).to.equal("web@3.service web@3 web 3");
    });
    it("ignores options outside [X-Fleet]", () => {
        expect(xFleetProblems([{ section: "Service", name: "Global", value: "maybe" }])).to.deep.equal([]);
    });
});

describe("fleet rules: option lines", () => {
    it("allows lines up to 2047 bytes and refuses 2048, counting UTF-8 bytes", () => {
        const line = (n: number) => [{ section: "Service", name: "ExecStart", value: "x".repeat(n - "ExecStart=".length) }];
        expect(optionLineProblems(line(2047))).to.deep.equal([]);
        expect(optionLineProblems(line(2048)).join()).to.match(/\[Service\] ExecStart: option line is 2048 bytes/);
        const multibyte = [{ section: "Unit", name: "Description", value: "é".repeat(1020) }]; // 12 + 2040 bytes
        expect(optionLineProblems(multibyte).join()).to.match(/2052 bytes/);
    });
    it("refuses values with line breaks and empty names or sections", () => {
        expect(optionLineProblems([{ section: "Service", name: "ExecStart", value: "a\nb" }]).join()).to.match(/line break/);
        expect(optionLineProblems([{ section: "", name: "A", value: "b" }]).join()).to.match(/section/);
        expect(optionLineProblems([{ section: "Unit", name: "", value: "b" }]).join()).to.match(/not a valid key/);
    });
});

describe("fleet rules: a whole unit declaration", () => {
    const content = "[Service]\nExecStart=/bin/true\n";
    it("accepts a plain unit and a template with instances", () => {
        expect(fleetUnitSpecProblems({ name: "a.service", content })).to.deep.equal([]);
        expect(fleetUnitSpecProblems({ name: "a@.service", content, desiredState: "launched", instances: [1, "two"] })).to.deep.equal([]);
        expect(fleetUnitSpecProblems({ name: "a@.service", content })).to.deep.equal([]);
    });
    it("refuses a template set to launched or loaded without instances", () => {
        expect(fleetUnitSpecProblems({ name: "a@.service", content, desiredState: "launched" }).join()).to.match(/template unit "a@.service" cannot be launched/);
        expect(fleetUnitSpecProblems({ name: "a@.service", content, desiredState: "loaded" }).join()).to.match(/cannot be loaded/);
    });
    it("refuses instances on a non-template, duplicate or malformed instances, both or neither of content/options", () => {
        expect(fleetUnitSpecProblems({ name: "a.service", content, instances: [1] }).join()).to.match(/only for template units/);
        expect(fleetUnitSpecProblems({ name: "a@.service", content, instances: [1, "1"] }).join()).to.match(/listed twice/);
        expect(fleetUnitSpecProblems({ name: "a@.service", content, instances: ["a b"] }).join()).to.match(/instance "a b"/);
        expect(fleetUnitSpecProblems({ name: "a.service", content, options: [] }).join()).to.match(/exactly one of content/);
        expect(fleetUnitSpecProblems({ name: "a.service" }).join()).to.match(/exactly one of content/);
        expect(fleetUnitSpecProblems({ name: "a.service", content: "# nothing\n" }).join()).to.match(/no options/);
        expect(fleetUnitSpecProblems({ name: "a.service", content, desiredState: "running" as never }).join()).to.match(/desiredState "running"/);
    });
    it("reports syntax, X-Fleet and line problems together", () => {
        const bad = `oops\n[Service]\nExecStart=${"x".repeat(3000)}\n[X-Fleet]\nGlobal=true\nMachineOf=b.service\n`;
        const problems = fleetUnitSpecProblems({ name: "bad name.service", content: bad });
        expect(problems.join("\n")).to.match(/invalid characters/).and.match(/content line 1/).and.match(/under 2048 bytes/).and.match(/Global cannot be used with MachineOf/);
    });
});
