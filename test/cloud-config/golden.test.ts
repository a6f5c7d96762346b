// Snapshot tests of the rendered user-data. Any change to a rendered byte fails here;
// after a deliberate change, review the diff and rewrite the files with
//   UPDATE_GOLDEN=1 npx mocha test/cloud-config/golden.test.ts
// test/golden/<stack>/ holds the stack's configured flavor, test/golden/<stack>.<flavor>/ the other one.

import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { renderMachines, RenderedMachine, validateCloudConfig } from "../../cloud-config";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { readStackFile } from "../../model/stack-config";
import { ClusterConfig, OsFlavor } from "../../model/types";
import { planFor, prodConfig } from "./fixtures";

const ROOT = path.resolve(__dirname, "..", "..");
const GOLDEN = path.join(ROOT, "test", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const FLAVORS: OsFlavor[] = ["flatcar", "container-linux"];

function compareWithGolden(folder: string, machines: RenderedMachine[]): void {
    const dir = path.join(GOLDEN, folder);
    if (UPDATE) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        for (const m of machines) fs.writeFileSync(path.join(dir, m.fileName), m.userData);
    }
    if (!fs.existsSync(dir)) throw new Error(`no golden files in test/golden/${folder}: run with UPDATE_GOLDEN=1 and review them`);
    expect(fs.readdirSync(dir).sort(), `files in test/golden/${folder}`).to.deep.equal(machines.map((m) => m.fileName).sort());
    for (const m of machines) {
        const expected = fs.readFileSync(path.join(dir, m.fileName), "utf8");
        expect(m.userData, `test/golden/${folder}/${m.fileName} differs (UPDATE_GOLDEN=1 rewrites it)`).to.equal(expected);
        expect(validateCloudConfig(expected).errors, `${folder}/${m.fileName}`).to.deep.equal([]);
    }
}

function withFlavor(config: ClusterConfig, flavor: OsFlavor): ClusterConfig {
    return { ...config, os: { ...config.os, flavor } };
}

describe("cloud-config golden files", () => {
    for (const stack of ["dev", "prod", "local"]) {
        for (const flavor of FLAVORS) {
            it(`stack ${stack}, ${flavor}: rendered user-data equals test/golden`, function () {
                const config = loadConfig(readStackFile(stack, ROOT), stack);
                const folder = config.os.flavor === flavor ? stack : `${stack}.${flavor}`;
                const rendered = withFlavor(config, flavor);
                const machines = renderMachines(rendered, planCluster(rendered));
                expect(machines.some((m) => m.role === "etcd") && machines.some((m) => m.role === "worker")).to.equal(true);
                compareWithGolden(folder, machines);
            });
        }
    }

    // Independent of the stack files and the planner: a hand-built 5-member, 3-zone private cluster.
    for (const flavor of FLAVORS) {
        it(`hand-built prod-like fixture, ${flavor}: rendered user-data equals test/golden`, () => {
            const config = withFlavor(prodConfig(), flavor);
            compareWithGolden(`fixture-prod.${flavor}`, renderMachines(config, planFor(config)));
        });
    }
});
