// Every Pulumi package the project pins is a real release on its registry's current release line.
// A pin to a stray publish (@pulumi/command 4.5.0: the provider's 2021 API, no such plugin release)
// passes every mock, because mocks never load plugins, and fails the first real `pulumi up`. The
// package's own package.json proves nothing (some real ones call themselves vX.Y.Z): the registry's
// dist-tags and publish times do.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");

interface RegistryView {
    "dist-tags": Record<string, string>;
    versions: string[];
    time: Record<string, string>;
}

function view(pkg: string): RegistryView {
    const r = spawnSync("npm", ["view", pkg, "dist-tags", "versions", "time", "--json"], { encoding: "utf8", timeout: 60000 });
    if (r.status !== 0) throw new Error(`npm view ${pkg} failed: ${r.stderr || r.error}`);
    return JSON.parse(r.stdout);
}

const major = (v: string) => Number(v.replace(/^v/, "").split(".")[0]);

describe("pinned Pulumi packages are real releases on the current release line", function () {
    this.timeout(120000);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const pins: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };
    const pulumiPackages = Object.keys(pins).filter((n) => n.startsWith("@pulumi/"));

    it("pins each exactly (no range)", () => {
        for (const name of pulumiPackages) expect(pins[name], name).to.match(/^\d+\.\d+\.\d+$/);
    });

    for (const name of pulumiPackages) {
        it(`${name}: the pin is a published version on the major line npm's latest tag is on, published no later than latest`, () => {
            const registry = view(name);
            const pin = pins[name];
            const latest = registry["dist-tags"].latest;
            expect(registry.versions, `${name}@${pin} is published`).to.include(pin);
            expect(major(pin), `${name}@${pin} vs latest ${latest}`).to.equal(major(latest));
            // A stray publish on another line would show here as newer-looking but out of order.
            expect(Date.parse(registry.time[pin]), `${name}@${pin} published before latest ${latest}`).to.be.at.most(Date.parse(registry.time[latest]));
        });
    }

    it("a provider package's plugin version is its own version (the plugin the engine asks for)", () => {
        for (const name of pulumiPackages) {
            const installed = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8"));
            expect(String(installed.version).replace(/^v/, ""), `${name} installed`).to.equal(pins[name]);
            if (installed.pulumi?.resource) expect(String(installed.pulumi.version).replace(/^v/, ""), `${name} plugin`).to.equal(pins[name]);
        }
    });

    it("the check itself refuses the stray pin it is here for", () => {
        const registry = view("@pulumi/command");
        const stray = "4.5.0";
        const refused = !registry.versions.includes(stray) || major(stray) !== major(registry["dist-tags"].latest) || Date.parse(registry.time[stray]) > Date.parse(registry.time[registry["dist-tags"].latest]);
        expect(refused).to.equal(true);
    });
});
