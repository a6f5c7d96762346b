import { expect } from "chai";
import { validateConfig } from "../../model/validate";
import { gcpRaw, localRaw } from "./raw-configs";

const UNIT = { name: "hello.service", content: "[Service]\nExecStart=/bin/true\n" };
const SHA = "ab".repeat(32);

describe("coreos-cluster:fleetRelease (fleet on Flatcar)", () => {
    it("is required when fleet units are pushed to Flatcar machines on GCE, naming the key", () => {
        const { config, problems } = validateConfig(gcpRaw({ osFlavor: "flatcar", fleetUnits: [UNIT], fleetRelease: {} }), "dev");
        expect(config).to.equal(undefined);
        expect(problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:fleetRelease"]);
        expect(problems[0].message).to.contain("Flatcar ships no fleet");
    });

    it("is not required without fleet units, nor on the local platform (units become files there)", () => {
        expect(validateConfig(gcpRaw({ osFlavor: "flatcar", fleetUnits: [], fleetRelease: {} }), "dev").problems).to.deep.equal([]);
        expect(validateConfig(localRaw({ fleetUnits: [UNIT], fleetRelease: {} }), "local").problems).to.deep.equal([]);
    });

    it("accepts a pinned digest and fills version and url with fleet v1.0.0's", () => {
        const { config, problems } = validateConfig(gcpRaw({ fleetUnits: [UNIT], fleetRelease: { sha256: SHA } }), "dev");
        expect(problems).to.deep.equal([]);
        expect(config!.fleet.release).to.deep.equal({
            sha256: SHA,
            version: "v1.0.0",
            url: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz",
        });
    });

    it("rejects a malformed digest, version, url or an unknown field, each by its own key, and only once", () => {
        const { problems } = validateConfig(
            gcpRaw({ fleetUnits: [UNIT], fleetRelease: { sha256: "0000", version: "1.0", url: "http://x/y.zip", signature: "?" } }),
            "dev",
        );
        expect(problems.map((p) => p.key).sort()).to.deep.equal([
            "coreos-cluster:fleetRelease.sha256",
            "coreos-cluster:fleetRelease.signature",
            "coreos-cluster:fleetRelease.url",
            "coreos-cluster:fleetRelease.version",
        ]);
    });
});
