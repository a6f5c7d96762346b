// LocalFleetUnit's provider: validates with the fleet rules and writes unit files (no fleetd
// exists on the local platform); templates get one file per instance; delete removes them.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalFleetUnitInputs, LocalFleetUnitState, localFleetUnitProvider as provider } from "../../../components/local/local-fleet-unit";

const WEB = `[Unit]
Description=web %i

[Service]
ExecStart=/usr/bin/docker run --rm --name web-%i -p 80:80 nginx

[X-Fleet]
Conflicts=web@*.service
`;

describe("local platform: LocalFleetUnit", () => {
    let dir: string;
    beforeEach(() => (dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "local-fleet-")), "fleet-units")));
    afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

    const inputs = (extra: Partial<LocalFleetUnitInputs>): LocalFleetUnitInputs => ({
        name: "web@.service",
        content: WEB,
        instances: [1, 2],
        directory: dir,
        providerVersion: "test",
        ...extra,
    });

    it("writes a template and one file per instance, and says there is no fleetd", async () => {
        const good = inputs({});
        expect((await provider.check!({} as any, good)).failures).to.deep.equal([]);
        const { id, outs } = await provider.create!(good);
        const state = outs as LocalFleetUnitState;
        expect(id).to.equal(path.join(dir, "web@.service"));
        expect(state.paths).to.deep.equal(["web@.service", "web@1.service", "web@2.service"].map((f) => path.join(dir, f)));
        for (const p of state.paths) expect(fs.readFileSync(p, "utf8")).to.equal(WEB);
        expect(state.note).to.include("no fleetd on the local platform");
        expect(state.effectiveState).to.equal("launched");
    });

    it("writes options as unit file text; a template without instances stays inactive", async () => {
        const state = (await provider.create!(
            inputs({
                name: "sidekick@.service",
                content: undefined,
                instances: undefined,
                options: [
                    { section: "Service", name: "ExecStart", value: "/bin/sh -c 'echo hi'" },
                    { section: "X-Fleet", name: "MachineOf", value: "web@%i.service" },
                ],
            }),
        )).outs as LocalFleetUnitState;
        expect(state.paths).to.deep.equal([path.join(dir, "sidekick@.service")]);
        const text = fs.readFileSync(state.paths[0], "utf8");
        expect(text).to.include("[Service]\nExecStart=/bin/sh -c 'echo hi'");
        expect(text).to.include("[X-Fleet]\nMachineOf=web@%i.service");
        expect(state.effectiveState).to.equal("inactive");
    });

    it("rejects bad units in check and in create, writing nothing", async () => {
        const bad = [
            inputs({ name: "web service", instances: undefined }),
            inputs({ content: WEB.replace("Conflicts=", "Conflict=") }),
            inputs({ name: "plain.service", instances: [1] }),
            inputs({ content: `[Service]\nExecStart=${"x".repeat(2100)}\n` }),
        ];
        for (const unit of bad) {
            const failures = (await provider.check!({} as any, unit)).failures ?? [];
            expect(failures, unit.name).to.have.length.greaterThan(0);
            expect(failures[0].reason).to.include(`fleet unit ${unit.name}:`);
            let error: Error | undefined;
            await provider.create!(unit).catch((e) => (error = e));
            expect(error?.message).to.include(`fleet unit ${unit.name}:`);
        }
        expect(fs.existsSync(dir)).to.equal(false);
    });

    it("delete leaves a unit folder that still holds other files", async () => {
        const state = (await provider.create!(inputs({}))).outs as LocalFleetUnitState;
        fs.writeFileSync(path.join(dir, "other.service"), "[Service]\nExecStart=/bin/true\n");
        await provider.delete!(state.name, state);
        expect(fs.readdirSync(dir)).to.deep.equal(["other.service"]);
    });

    it("refuses to overwrite a unit file it did not write", async () => {
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "web@1.service"), "someone else's\n");
        let error: Error | undefined;
        await provider.create!(inputs({})).catch((e) => (error = e));
        expect(error?.message).to.include("already exists");
        expect(fs.readFileSync(path.join(dir, "web@1.service"), "utf8")).to.equal("someone else's\n");
    });

    it("update drops instances no longer listed; read and diff notice a removed file; delete removes all", async () => {
        const first = (await provider.create!(inputs({}))).outs as LocalFleetUnitState;
        const updated = (await provider.update!(first.name, first, inputs({ instances: [2, 3] }))).outs as LocalFleetUnitState;
        expect(updated.paths.map((p) => path.basename(p))).to.deep.equal(["web@.service", "web@2.service", "web@3.service"]);
        expect(fs.existsSync(path.join(dir, "web@1.service"))).to.equal(false);

        expect((await provider.diff!(updated.name, updated, inputs({ instances: [2, 3] }))).changes).to.equal(false);
        fs.rmSync(path.join(dir, "web@3.service"));
        const read = (await provider.read!(updated.name, updated)).props as LocalFleetUnitState;
        expect(read.paths.map((p) => path.basename(p))).to.deep.equal(["web@.service", "web@2.service"]);
        expect((await provider.diff!(read.name, read, inputs({ instances: [2, 3] }))).changes).to.equal(true);

        await provider.delete!(updated.name, updated);
        expect(fs.existsSync(dir), "the emptied unit folder is removed too").to.equal(false);
    });
});
