import { expect } from "chai";
import fc from "fast-check";
import { OFF_MACHINE_IDENTITIES, decodeBundle, encodeBundle, secretBundles } from "../../model/pki-delivery";
import { CLIENT_IDENTITIES, CertificateSpec, IssuedRecord, expiryWarnings, planCertificates, planIssuance, validityProblem } from "../../model/pki-plan";

const MEMBERS = [
    { name: "demo-etcd-0", ip: "10.10.0.2" },
    { name: "demo-etcd-1", ip: "10.10.0.3" },
    { name: "demo-etcd-2", ip: "10.10.0.4" },
];
const NOW = new Date("2027-01-01T00:00:00Z");
const DAY = 86400000;
const record = (spec: CertificateSpec, daysLeft: number, caGeneration = 1): IssuedRecord => ({ spec, notAfter: new Date(NOW.getTime() + daysLeft * DAY).toISOString(), caGeneration });

describe("model/pki-plan: the cluster's certificates as data", () => {
    it("plans a client-port and a peer certificate per member, with its static address as IP SAN, and one certificate per client identity", () => {
        const specs = planCertificates(MEMBERS);
        expect(specs.find((s) => s.id === "demo-etcd-1-peer")).to.deep.equal({ id: "demo-etcd-1-peer", commonName: "demo-etcd-1", usage: "server-and-client", ipSans: ["10.10.0.3"], dnsSans: ["demo-etcd-1"] });
        expect(specs.find((s) => s.id === "demo-etcd-1-server")!.ipSans).to.deep.equal(["10.10.0.3", "127.0.0.1"]);
        for (const identity of CLIENT_IDENTITIES) expect(specs.find((s) => s.id === identity.commonName)).to.include({ usage: "client", commonName: identity.jsonGateway ? "" : identity.commonName });
        expect(specs.find((s) => s.id === "router")!.commonName, "the JSON gateway refuses certificates with a CN").to.equal("");
        expect(specs.find((s) => s.usage === "server"), "no worker listener certificate: the gateway carries the members' TLS").to.equal(undefined);
        expect(new Set(specs.map((s) => s.id)).size).to.equal(specs.length);
        expect(specs).to.have.length(MEMBERS.length * 2 + CLIENT_IDENTITIES.length);
    });

    it("issues everything the first time and nothing on a no-op", () => {
        const specs = planCertificates(MEMBERS);
        const first = planIssuance({}, specs, { now: NOW, renewBeforeDays: 30, signingCaGeneration: 1 });
        expect(first.issue.map((i) => i.reason)).to.satisfy((r: string[]) => r.every((x) => x === "new"));
        const previous = Object.fromEntries(specs.map((s) => [s.id, record(s, 300)]));
        const again = planIssuance(previous, specs, { now: NOW, renewBeforeDays: 30, signingCaGeneration: 1 });
        expect(again).to.deep.equal({ issue: [], keep: specs.map((s) => s.id), drop: [] });
    });

    it("renews inside the window, re-issues changed names and another CA's leaves, drops what is gone", () => {
        const specs = planCertificates(MEMBERS);
        const previous = Object.fromEntries(specs.map((s) => [s.id, record(s, 300)]));
        previous.router = record(previous.router.spec, 29);
        previous["demo-etcd-0-peer"] = record({ ...previous["demo-etcd-0-peer"].spec, ipSans: ["10.10.0.9"] }, 300);
        previous.gone = record({ id: "gone", commonName: "gone", usage: "client", ipSans: [], dnsSans: [] }, 300);
        const plan = planIssuance(previous, specs, { now: NOW, renewBeforeDays: 30, signingCaGeneration: 1 });
        expect(plan.issue).to.deep.equal([
            { id: "demo-etcd-0-peer", reason: "its names or usage changed" },
            { id: "router", reason: `expires ${previous.router.notAfter}, within the 30-day renewal window` },
        ]);
        expect(plan.drop).to.deep.equal(["gone"]);
        const rotated = planIssuance(previous, specs, { now: NOW, renewBeforeDays: 30, signingCaGeneration: 2 });
        expect(rotated.issue.map((i) => i.id)).to.have.members(specs.map((s) => s.id));
    });

    it("partitions the wanted certificates into issue and keep, whatever the previous state (property)", () => {
        const specs = planCertificates(MEMBERS);
        fc.assert(
            fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: specs.length + 2 }), fc.integer({ min: -10, max: 400 }), fc.integer({ min: 1, max: 3 }))), fc.integer({ min: 1, max: 3 }), (entries, signing) => {
                const previous: Record<string, IssuedRecord> = {};
                for (const [i, days, gen] of entries) {
                    const spec = specs[i] ?? { id: `old-${i}`, commonName: `old-${i}`, usage: "client" as const, ipSans: [], dnsSans: [] };
                    previous[spec.id] = record(spec, days, gen);
                }
                const plan = planIssuance(previous, specs, { now: NOW, renewBeforeDays: 30, signingCaGeneration: signing });
                expect([...plan.issue.map((x) => x.id), ...plan.keep].sort()).to.deep.equal(specs.map((s) => s.id).sort());
                for (const id of plan.keep) {
                    expect(previous[id].caGeneration).to.equal(signing);
                    expect(Date.parse(previous[id].notAfter) - NOW.getTime()).to.be.greaterThan(30 * DAY);
                }
                expect(plan.drop.sort()).to.deep.equal(Object.keys(previous).filter((id) => !specs.some((s) => s.id === id)).sort());
            }),
            { seed: 21, numRuns: 300 },
        );
    });

    it("warns about what expires within the window, soonest first", () => {
        const iso = (d: number) => new Date(NOW.getTime() + d * DAY).toISOString();
        expect(expiryWarnings({ a: iso(100), b: iso(10), "ca-1": iso(40) }, NOW, 45)).to.deep.equal([
            `certificate b expires ${iso(10)} (within 45 days): the next \`pulumi up\` renews it`,
            `certificate ca-1 expires ${iso(40)} (within 45 days): the next \`pulumi up\` renews it`,
        ]);
    });

    it("refuses validity settings that cannot hold", () => {
        expect(validityProblem({ leafValidityDays: 365, renewBeforeDays: 30, caValidityDays: 3650 })).to.equal(undefined);
        expect(validityProblem({ leafValidityDays: 30, renewBeforeDays: 30, caValidityDays: 3650 })).to.match(/must be less than leafValidityDays/);
        expect(validityProblem({ leafValidityDays: 365, renewBeforeDays: 30, caValidityDays: 365 })).to.match(/a leaf cannot outlive its CA/);
        expect(validityProblem({ leafValidityDays: 1.5, renewBeforeDays: 1, caValidityDays: 10 })).to.match(/whole numbers/);
    });
});

describe("model/pki-delivery: secret bundles per holder", () => {
    it("gives each member only its own keys, the workers only worker identities, and nobody the deployer's or consumers'", () => {
        const bundles = secretBundles("demo", MEMBERS.map((m) => m.name), planCertificates(MEMBERS));
        expect(bundles.map((b) => b.secretId)).to.deep.equal(["demo-tls-demo-etcd-0", "demo-tls-demo-etcd-1", "demo-tls-demo-etcd-2", "demo-tls-worker"]);
        expect(bundles[1].certificateIds).to.deep.equal(["demo-etcd-1-server", "demo-etcd-1-peer", "fleet"]);
        expect(bundles[3].certificateIds).to.deep.equal(["router", "fleet", "sidekick"]);
        expect(OFF_MACHINE_IDENTITIES).to.deep.equal(["deployer", "consumer", "root"]);
        for (const b of bundles) for (const id of OFF_MACHINE_IDENTITIES) expect(b.certificateIds).to.not.include(id);
    });
    it("round-trips a payload and refuses a line that could name another path", () => {
        const payload = encodeBundle("CA\n", [{ id: "router", certPem: "C\n", keyPem: "K\n" }]);
        expect(decodeBundle(payload)).to.deep.equal({ "ca.pem": "CA\n", "router.pem": "C\n", "router-key.pem": "K\n" });
        expect(() => decodeBundle(`../etc/passwd.pem\t${Buffer.from("x").toString("base64")}\n`)).to.throw(/not <file name><TAB><base64>/);
    });
});
