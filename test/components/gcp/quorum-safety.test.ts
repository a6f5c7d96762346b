// Quorum safety (issue 7): a change of the members' cloud-config, OS image or disk size can
// never replace an etcd member. Checked on the resource options the program registers
// (as the engine receives them, and as a stack transformation sees them), and by running
// the program before and after such a change and diffing what the members were given.
import { expect } from "chai";
import { readStackFile } from "../../../model/stack-config";
import { loadConfig } from "../../../model/validate";
import { ClusterConfig } from "../../../model/types";
import { MEMBER_IGNORED_CHANGES } from "../../../components/gcp/etcd-central-services";
import { GCE, ProgramRun, REPO_ROOT, byType, one, runProgram } from "../../support/mocks";

/** Property paths (Pulumi's syntax: a.b[0]["odd-key"]) of every leaf value. */
function leafPaths(value: unknown, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
    if (Array.isArray(value)) {
        value.forEach((v, i) => leafPaths(v, `${prefix}[${i}]`, out));
    } else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            const segment = /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? (prefix ? `${prefix}.${k}` : k) : `${prefix}[${JSON.stringify(k)}]`;
            leafPaths(v, segment, out);
        }
    } else {
        out.set(prefix, value);
    }
    return out;
}

function changedPaths(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
    const a = leafPaths(before);
    const b = leafPaths(after);
    return [...new Set([...a.keys(), ...b.keys()])].filter((p) => JSON.stringify(a.get(p)) !== JSON.stringify(b.get(p)));
}

function coveredBy(path: string, ignored: string[]): boolean {
    return ignored.some((i) => path === i || path.startsWith(`${i}.`) || path.startsWith(`${i}[`));
}

const memberWire = (run: ProgramRun) => run.wire.filter((w) => w.type === GCE.instance);

for (const stack of ["dev", "prod"]) {
    describe(`quorum safety on the ${stack} stack: members are never replaced by a config change`, function () {
        let run: ProgramRun;
        let config: ClusterConfig;

        before(async function () {
            // Loading and running the whole program under mocks takes a while on a busy machine.
            this.timeout(300_000);
            const raw = readStackFile(stack, REPO_ROOT);
            config = loadConfig(raw, stack);
            run = await runProgram({ stack, config: raw, fresh: stack === "dev" ? "all" : "program" });
        });

        it("registers every member with ignoreChanges on user-data, image and disk size (as the engine receives it)", () => {
            const members = memberWire(run);
            expect(members).to.have.length(config.etcd.count);
            for (const member of members) {
                expect(member.ignoreChanges, member.name).to.include.members(['metadata["user-data"]', "bootDisk.initializeParams.image", "bootDisk.initializeParams.size"]);
            }
        });

        it("sees the same options through a stack transformation", () => {
            const captured = run.options.filter((o) => o.type === GCE.instance);
            expect(captured).to.have.length(config.etcd.count);
            for (const member of captured) {
                expect(member.ignoreChanges).to.deep.equal([...MEMBER_IGNORED_CHANGES]);
                expect(member.protect ?? false).to.equal(config.etcd.protect);
            }
        });

        it("ignores only properties the members really set (no misspelt path)", () => {
            for (const member of byType(run.resources, GCE.instance)) {
                const paths = [...leafPaths(member.inputs).keys()];
                for (const ignored of MEMBER_IGNORED_CHANGES) {
                    expect(paths.some((p) => coveredBy(p, [ignored])), `${ignored} on ${member.name}`).to.equal(true);
                }
            }
        });

        it(`${stack === "prod" ? "protects" : "leaves unprotected (protectMembers: false)"} the members and their addresses`, () => {
            expect(config.etcd.protect).to.equal(stack === "prod");
            const memberNames = new Set(memberWire(run).map((w) => w.name));
            for (const member of memberWire(run)) {
                expect(member.protect, member.name).to.equal(config.etcd.protect);
                expect(member.object.deletionProtection, member.name).to.equal(config.etcd.protect);
            }
            const addresses = run.wire.filter((w) => w.type === GCE.address && memberNames.has(w.name));
            expect(addresses).to.have.length(config.etcd.count);
            for (const address of addresses) expect(address.protect, address.name).to.equal(config.etcd.protect);
        });
    });
}

describe("quorum safety: the prod stack before and after a cloud-config, image and disk-size change", function () {
    let before_: ProgramRun;
    let after: ProgramRun;

    before(async function () {
        // Loading and running the whole program under mocks takes a while on a busy machine.
        this.timeout(300_000);
        const raw = readStackFile("prod", REPO_ROOT);
        before_ = await runProgram({ stack: "prod", config: raw, fresh: "program" });
        after = await runProgram({
            stack: "prod",
            fresh: "program",
            config: {
                ...raw,
                osImage: "projects/kinvolk-public/global/images/family/flatcar-beta",
                etcdDiskSizeGb: Number(raw.etcdDiskSizeGb ?? 20) + 50,
                sshAuthorizedKeys: [
                    ...((raw.sshAuthorizedKeys as string[]) ?? []),
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb1DGK7e2zM4gtRNNvJ1tB6u0DsAsoSGJKLWGlmsP1d new-admin@example.com",
                ],
                rebootWindowStart: "Sat 03:00",
            },
        });
    });

    it("is a real change: every member's user-data, image and disk size differ", () => {
        for (const member of byType(after.resources, GCE.instance)) {
            const old = one(byType(before_.resources, GCE.instance).filter((m) => m.name === member.name)).inputs;
            expect(member.inputs.metadata["user-data"]).to.not.equal(old.metadata["user-data"]);
            expect(member.inputs.metadata["user-data"]).to.contain("new-admin@example.com");
            expect(member.inputs.bootDisk.initializeParams.image).to.not.equal(old.bootDisk.initializeParams.image);
            expect(member.inputs.bootDisk.initializeParams.size).to.not.equal(old.bootDisk.initializeParams.size);
        }
    });

    it("touches nothing on a member but the ignored properties, so no member is replaced or updated", () => {
        const members = byType(after.resources, GCE.instance);
        expect(members).to.have.length(5);
        for (const member of members) {
            const old = one(byType(before_.resources, GCE.instance).filter((m) => m.name === member.name));
            const ignored = one(memberWire(after).filter((w) => w.name === member.name)).ignoreChanges;
            const changed = changedPaths(old.inputs, member.inputs);
            expect(changed, member.name).to.not.be.empty;
            expect(changed.filter((p) => !coveredBy(p, ignored)), `${member.name}: changes not ignored`).to.deep.equal([]);
        }
        for (const address of byType(after.resources, GCE.address).filter((a) => a.inputs.addressType === "INTERNAL")) {
            const old = one(byType(before_.resources, GCE.address).filter((a) => a.name === address.name));
            expect(changedPaths(old.inputs, address.inputs), address.name).to.deep.equal([]);
        }
    });

    it("rolls the workers instead: a new template, created before the old one goes", () => {
        const oldTemplate = one(byType(before_.resources, GCE.template)).inputs;
        const newTemplate = one(byType(after.resources, GCE.template)).inputs;
        expect(newTemplate.metadata["user-data"]).to.not.equal(oldTemplate.metadata["user-data"]);
        const wire = one(after.wire.filter((w) => w.type === GCE.template));
        expect(wire.deleteBeforeReplace).to.equal(false);
        expect(wire.deleteBeforeReplaceDefined, "chosen explicitly, not left to a default").to.equal(true);
        expect(wire.object.namePrefix).to.equal(newTemplate.namePrefix);
        expect(wire.object.name).to.equal(undefined);
    });
});
