// The policy pack judges exposure by coverage (model/exposure.ts), as the config validation does.
import { expect } from "chai";
import { firewallExposureViolations } from "../../policy/rules/firewall-exposure";
import { exposureOf, publicAddressesAdmitted, PUBLIC_ADDRESSES, WORLD_OPEN_THRESHOLD } from "../../model/exposure";
import { DEV, firewall, runResourcePolicy } from "./policy-harness";

const FW = "firewall-no-world-etcd-or-ssh";
const ssh = (sourceRanges: string[]) => firewall("coreos-ssh", { sourceRanges, allows: [{ protocol: "tcp", ports: ["22"] }] });

describe("policy + model/exposure: the internet is judged by coverage, not by spelling", () => {
    const worlds: string[][] = [
        ["0.0.0.0/1", "128.0.0.0/1"],
        ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"],
        ["1.0.0.0/8", "2.0.0.0/8"],
        ["128.0.0.0/1"],
        ["0.0.0.0/0", "35.235.240.0/20"],
    ];
    for (const ranges of worlds) {
        it(`refuses SSH to ${ranges.join(" + ")}`, async () => {
            const messages = await runResourcePolicy(DEV, FW, ssh(ranges));
            expect(messages).to.have.length(1);
            expect(messages[0]).to.contain("SSH port 22").and.to.match(/of the public IPv4 space/);
        });
    }
    const narrow: string[][] = [["35.235.240.0/20"], ["203.0.113.0/24", "198.51.100.0/24"], ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], ["100.0.0.0/9"]];
    for (const ranges of narrow) {
        it(`admits SSH from ${ranges.join(" + ")} (less than a /8 of public space)`, () => {
            expect(firewallExposureViolations(ssh(ranges))).to.deep.equal([]);
        });
    }
    it("counts overlaps once and private space as nothing", () => {
        expect(publicAddressesAdmitted(["10.0.0.0/8"])).to.equal(0);
        expect(publicAddressesAdmitted(["35.235.240.0/20", "35.235.240.0/20", "35.235.240.0/21"])).to.equal(4096);
        expect(publicAddressesAdmitted(["0.0.0.0/1", "128.0.0.0/1"])).to.equal(PUBLIC_ADDRESSES);
        expect(exposureOf(["100.0.0.0/8"]).openToInternet).to.equal(false); // 100.64/10 is shared space, not public
        expect(exposureOf(["1.0.0.0/8"]).publicAddresses).to.equal(WORLD_OPEN_THRESHOLD);
    });
});
