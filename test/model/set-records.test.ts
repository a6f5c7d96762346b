// The set ownership records (model/set-records.ts) and the set's write plans: pure, no etcd.
import { expect } from "chai";
import fc from "fast-check";
import {
    decodeSetRecord,
    encodeSetRecord,
    lineBeatsMarker,
    newerRevision,
    newestLine,
    planRecordRewrites,
    RecordLine,
    SetRecord,
    setLinesByRoot,
    setRecordKey,
    setRecordsPrefix,
} from "../../model/set-records";
import { encodeOwnerMarker, ownerMarkerKey } from "../../model/service-keys";
import { planServiceWrite, serviceClaim, ServiceWriteRequest } from "../../model/service-write-plan";
import { OWNER_NAMESPACE, SERVICE_NAME } from "../../model/service-naming";

const record = (key: string, owner: string, modRevision: string, lines: Record<string, RecordLine>): SetRecord => decodeSetRecord(key, encodeSetRecord(owner, Object.entries(lines)), modRevision)!;

describe("set ownership records", () => {
    it("live beside the per-service markers of their prefix, where no marker of any prefix can fall", () => {
        expect(setRecordsPrefix("/services")).to.equal(`${OWNER_NAMESPACE}/services/@set/`);
        expect(setRecordKey("/services", "set:org/proj/stack/apps", "a1b2-0")).to.equal(`${OWNER_NAMESPACE}/services/@set/set%3Aorg%2Fproj%2Fstack%2Fapps/a1b2-0`);
        // "@" starts no service name, so `<OWNER_NAMESPACE><prefix>/<name>` never starts with the records' prefix.
        fc.assert(fc.property(fc.stringMatching(SERVICE_NAME), (name) => !ownerMarkerKey("/services", name).startsWith(setRecordsPrefix("/services"))));
        expect(() => setRecordKey("/services", "set:x", "../up")).to.throw(/set record id/);
    });

    it("round-trip their owner and lines, whatever the owner's text; a sidekick finds a line by `^<name> `", () => {
        const line = fc.record({ since: fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String), keys: fc.uniqueArray(fc.constantFrom("scheme", "host_port", "hosts/0", "hosts/1", "hosts/12"), { maxLength: 5 }) });
        fc.assert(
            fc.property(fc.string({ minLength: 1 }), fc.dictionary(fc.stringMatching(SERVICE_NAME), line, { maxKeys: 8 }), (owner, lines) => {
                const text = encodeSetRecord(owner, Object.entries(lines));
                const back = decodeSetRecord("k", text, "9")!;
                expect(back.owner).to.equal(owner);
                expect(Object.fromEntries(back.services)).to.deep.equal(Object.fromEntries(Object.entries(lines).map(([s, l]) => [s, { since: l.since, keys: l.keys }])));
                // Only the service lines start with a name and a space: the owner's line is JSON on the first line.
                const named = text.split("\n").filter((l) => /^[a-z][a-z0-9-]* /.test(l)).map((l) => l.split(" ")[0]);
                expect(named.sort()).to.deep.equal(Object.keys(lines).sort());
            }),
        );
    });

    it("refuse to encode what is not a name, a revision or a relative key, and decode nothing they did not write", () => {
        expect(() => encodeSetRecord("set:x", [["Web", { since: "1", keys: [] }]])).to.throw(/not a service name/);
        expect(() => encodeSetRecord("set:x", [["web", { since: "01", keys: [] }]])).to.throw(/not a revision/);
        expect(() => encodeSetRecord("set:x", [["web", { since: "1", keys: ["hosts 0"] }]])).to.throw(/not a relative key/);
        expect(() => encodeSetRecord("set:x", [["web", { since: "1", keys: ["scheme\nweb 2 scheme"] }]])).to.throw(/not a relative key/);
        expect(() => encodeSetRecord("set:x", [["web", { since: "1", keys: [""] }]])).to.throw(/not a relative key/);
        // A separator inside one part can still match the grammar as a whole: the part is refused, not shifted.
        expect(() => encodeSetRecord("set:x", [["web", { since: "5 scheme", keys: [] }]])).to.throw(/not a revision/);
        expect(() => encodeSetRecord("set:x", [["web", { since: "5 scheme", keys: ["hosts/0"] }]])).to.throw(/not a revision/);
        expect(() => encodeSetRecord("set:x", [["web 5", { since: "7", keys: [] }]])).to.throw(/not a service name/);
        for (const junk of ["", "{}", '{"owner":""}', "not json\nweb 1 scheme", '{"owner":"x"}\nweb', '{"owner":"x"}\nweb 1 scheme\nweb 2 scheme', '{"owner":"x"}\nweb -1 scheme']) {
            expect(decodeSetRecord("k", junk, "1"), JSON.stringify(junk)).to.equal(undefined);
        }
    });

    it("a service's claim is the line claimed last; a marker modified after that line is a takeover", () => {
        const a = record("ka", "set:a", "50", { web: { since: "10", keys: ["scheme"] }, db: { since: "10", keys: ["scheme"] } });
        // b rewritten later (mod 60) but its line for web claimed at 20: tidying never reorders claims.
        const b = record("kb", "set:b", "60", { web: { since: "20", keys: ["hosts/0", "scheme"] } });
        const lines = setLinesByRoot("/services", [b, a]);
        expect(lines.get("/services/web")!.map((l) => l.recordKey), "every line is kept, superseded ones too").to.have.members(["ka", "kb"]);
        expect(newestLine(lines.get("/services/web")!)).to.deep.equal({ owner: "/services/web@set:b", keys: ["/services/web/hosts/0", "/services/web/scheme"], recordKey: "kb", since: "20" });
        expect(newestLine(lines.get("/services/db")!)!.owner).to.equal("/services/db@set:a");
        expect(lineBeatsMarker("20", "0"), "no marker").to.equal(true);
        expect(lineBeatsMarker("20", "20"), "a marker the writer saw").to.equal(true);
        expect(lineBeatsMarker("20", "21"), "a marker written after").to.equal(false);
        expect(newerRevision("100", "99")).to.equal(true);
        expect(newerRevision("99", "100")).to.equal(false);
    });

    it("tidying keeps each record's lines that are still claims and still wanted, deletes a record left empty, leaves an exact one alone", () => {
        const old = record("k1", "set:a", "40", { web: { since: "10", keys: ["scheme"] }, db: { since: "10", keys: ["scheme"] }, gone: { since: "10", keys: ["scheme"] } });
        const exact = record("k2", "set:a", "41", { web: { since: "30", keys: ["scheme"] } });
        const empty = record("k3", "set:a", "42", { gone: { since: "5", keys: ["scheme"] } });
        const claimOf = (s: string) => ({ web: "k2", db: "k1", gone: "k1" } as Record<string, string>)[s];
        const rewrites = planRecordRewrites([old, exact, empty], claimOf, (_r, s) => s !== "gone");
        expect(rewrites).to.deep.equal([
            { key: "k1", modRevision: "40", value: encodeSetRecord("set:a", [["db", { since: "10", keys: ["scheme"] }]]) },
            { key: "k3", modRevision: "42", value: undefined },
        ]);
    });
});

describe("a set's write plan (recordedBySet)", () => {
    const web = { service: "web", scheme: "http" as const, hosts: ["10.0.0.1:80"], prefix: "/services" };
    const request = (over: Partial<ServiceWriteRequest> = {}): ServiceWriteRequest => ({ owner: "/services/web@set:a", definition: web, ownedBefore: [], mirrorToV2: false, mirroredBefore: [], adopt: false, recordedBySet: true, ...over });
    const setClaim = (owner: string, since = "10") => ({ owner, keys: ["/services/web/scheme", "/services/web/hosts/0", "/services/web/hosts/1"], recordKey: `rec-of-${owner}`, since });

    it("puts the keys and no marker for a fresh service", () => {
        const plan = planServiceWrite(request(), { keys: {}, markerModRevision: "0" });
        expect(plan.v3).to.deep.equal([
            { op: "put", key: "/services/web/scheme", value: "http" },
            { op: "put", key: "/services/web/hosts/0", value: "10.0.0.1:80" },
        ]);
    });

    it("its own line is its record: stale keys it lists are deleted; a marker of its own (provider 1.2.0) is rewritten, still naming it", () => {
        const own = planServiceWrite(request(), { keys: { "/services/web/hosts/1": "10.0.0.2:80" }, markerModRevision: "0", setClaim: setClaim("/services/web@set:a") });
        expect(own.refusal).to.equal(undefined);
        expect(own.v3).to.deep.include({ op: "delete", key: "/services/web/hosts/1" });
        const legacy = encodeOwnerMarker({ owner: "/services/web@set:a", keys: ["/services/web/scheme"] }, "/services/web");
        const migrated = planServiceWrite(request(), { keys: { "/services/web/scheme": "http" }, markerValue: legacy, markerModRevision: "7" });
        expect(migrated.refusal).to.equal(undefined);
        expect(migrated.v3).to.deep.include({ op: "put", key: ownerMarkerKey("/services", "web"), value: encodeOwnerMarker({ owner: "/services/web@set:a", keys: ["/services/web/scheme", "/services/web/hosts/0"] }, "/services/web") });
    });

    it("another set's line, or a registration's marker, refuses it, naming where the claim is; adopt takes it and the marker then names the set", () => {
        const bySet = planServiceWrite(request(), { keys: { "/services/web/scheme": "http" }, markerModRevision: "0", setClaim: setClaim("/services/web@set:b") });
        expect(bySet.refusal).to.match(/already registered by another owner \(\/services\/web@set:b at rec-of-\/services\/web@set:b\)/);
        const marker = encodeOwnerMarker({ owner: "/services/web@org/p/s/web", keys: ["/services/web/scheme"] }, "/services/web");
        const snap = { keys: { "/services/web/scheme": "http" }, markerValue: marker, markerModRevision: "7" };
        expect(planServiceWrite(request(), snap).refusal).to.match(/already registered by another owner \(\/services\/web@org\/p\/s\/web at \/coreos-cluster\/owners\/services\/web\)/);
        const adopted = planServiceWrite(request({ adopt: true }), snap);
        expect(adopted.refusal).to.equal(undefined);
        // Code that predates set records (an old registration's delete, an old sidekick) reads the marker only: it must see the service taken.
        const after = adopted.v3.find((o) => o.key === ownerMarkerKey("/services", "web"));
        expect(after?.op === "put" && JSON.parse(after.value).owner).to.equal("/services/web@set:a");
    });

    it("a per-service registration sees a set's line as the claim", () => {
        const claim = serviceClaim("/services/web", { markerValue: undefined, setClaim: setClaim("/services/web@set:b") });
        expect(claim).to.deep.include({ claimed: true, where: "rec-of-/services/web@set:b" });
        const single = planServiceWrite({ ...request({ owner: "/services/web@org/p/s/web" }), recordedBySet: false }, { keys: { "/services/web/scheme": "http" }, markerModRevision: "0", setClaim: setClaim("/services/web@set:b") });
        expect(single.refusal).to.match(/already registered by another owner \(\/services\/web@set:b/);
    });
});
