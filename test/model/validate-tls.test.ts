import { expect } from "chai";
import { validateConfig } from "../../model/validate";
import { gcpRaw } from "./raw-configs";

const problemsOf = (raw: Record<string, unknown>) => validateConfig(raw, "dev").problems.map((p) => `${p.key}: ${p.message}`);

describe("model/validate: the cluster PKI's settings (tls*)", () => {
    it("defaults to CA and leaf generation 1, the previous CA dropped after a rotation, 365/30/3650 days", () => {
        expect(validateConfig(gcpRaw(), "dev").config!.tls).to.deep.equal({ caGeneration: 1, leafGeneration: 1, trustPreviousCa: false, leafValidityDays: 365, renewBeforeDays: 30, caValidityDays: 3650 });
        expect(validateConfig(gcpRaw({ tlsCaGeneration: 3, tlsLeafGeneration: 2, tlsTrustPreviousCa: true }), "dev").config!.tls).to.include({ caGeneration: 3, leafGeneration: 2, trustPreviousCa: true });
    });

    it("refuses generations below 1 and validity that does not hold together, naming the key", () => {
        expect(problemsOf(gcpRaw({ tlsCaGeneration: 0 }))).to.deep.equal(["coreos-cluster:tlsCaGeneration: 0 must be a whole number from 1"]);
        expect(problemsOf(gcpRaw({ tlsLeafGeneration: 1.5 }))[0]).to.match(/^coreos-cluster:tlsLeafGeneration: must be an integer/);
        expect(problemsOf(gcpRaw({ tlsRenewBeforeDays: 400 }))).to.deep.equal(["coreos-cluster:tlsRenewBeforeDays: tlsRenewBeforeDays (400) must be less than tlsLeafValidityDays (365), or every up would renew"]);
        expect(problemsOf(gcpRaw({ tlsCaValidityDays: 100 }))).to.deep.equal(["coreos-cluster:tlsCaValidityDays: tlsCaValidityDays (100) must exceed tlsLeafValidityDays (365): a leaf cannot outlive its CA"]);
        expect(problemsOf(gcpRaw({ tlsTrustPreviousCa: "yes" }))[0]).to.match(/^coreos-cluster:tlsTrustPreviousCa: must be true or false/);
    });
});
