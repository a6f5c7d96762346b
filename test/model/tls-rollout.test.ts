import { expect } from "chai";
import fc from "fast-check";
import { decodeBundle, encodeBundle, trustedCas } from "../../model/pki-delivery";
import { RolloutPhase, planRollout } from "../../model/tls-rollout";

// A small world of the cluster's TLS: CAs by generation, leaves naming their signer, bundles as the
// platforms carry them. The simulation below plays a rollout machine by machine and checks every
// handshake the cluster makes at every step, with etcd's two rules: a member's trusted CAs are those
// of its CA file at its last start; leaf files (and clients' CA files) are read per connection.

const ca = (generation: number) => `-----BEGIN CERTIFICATE-----\nCA-${generation}\n-----END CERTIFICATE-----`;
const leaf = (id: string, signer: number, serial: number) => `-----BEGIN CERTIFICATE-----\nleaf ${id} signer=${signer} serial=${serial}\n-----END CERTIFICATE-----\n`;
const signerOf = (pem: string) => Number(/signer=(\d+)/.exec(pem)![1]);

interface World {
    members: string[];
    /** Payload by secret id. */
    bundles: Record<string, string>;
}

function world(memberCount: number, trust: number[], signer: number, serial: number): World {
    const members = Array.from({ length: memberCount }, (_, i) => `c-etcd-${i}`);
    const trustPem = trust.map(ca).join("\n") + "\n";
    const bundle = (ids: string[]) => encodeBundle(trustPem, ids.map((id) => ({ id, certPem: leaf(id, signer, serial), keyPem: `key ${id} ${serial}` })));
    const bundles: Record<string, string> = Object.fromEntries(members.map((m) => [`c-tls-${m}`, bundle([`${m}-server`, `${m}-peer`, "fleet"])]));
    bundles["c-tls-worker"] = bundle(["router", "fleet", "sidekick"]);
    return { members, bundles };
}

interface MachineState {
    secretId: string;
    member: boolean;
    files: Record<string, string>;
    /** A member's trusted CAs as loaded at its last start. */
    loadedTrust: number[];
}

const generations = (trustPem: string) => trustedCas(trustPem).map((c) => Number(/CA-(\d+)/.exec(c)![1]));

/** Every handshake that fails in this state, as text (empty: all succeed). */
function failedHandshakes(machines: MachineState[]): string[] {
    const failures: string[] = [];
    const members = machines.filter((m) => m.member);
    const holder = (m: MachineState) => m.secretId.replace("c-tls-", "");
    for (const server of members) {
        const name = holder(server);
        const serverLeaf = signerOf(server.files[`${name}-server.pem`]);
        const peerLeaf = signerOf(server.files[`${name}-peer.pem`]);
        for (const other of members) {
            if (other === server) continue;
            // raft: the dialer's peer leaf against the listener's loaded CAs, and back.
            const otherPeer = signerOf(other.files[`${holder(other)}-peer.pem`]);
            if (!server.loadedTrust.includes(otherPeer)) failures.push(`peer ${holder(other)} -> ${name}: ${name} does not trust CA ${otherPeer}`);
            if (!other.loadedTrust.includes(peerLeaf)) failures.push(`peer ${holder(other)} -> ${name}: ${holder(other)} does not trust ${name}'s CA ${peerLeaf}`);
        }
        for (const client of machines) {
            const clientTrust = generations(client.files["ca.pem"]);
            for (const id of ["router", "sidekick", "fleet"]) {
                const file = client.files[`${id}.pem`];
                if (!file) continue;
                if (!server.loadedTrust.includes(signerOf(file))) failures.push(`${id} on ${holder(client)} -> ${name}: ${name} does not trust CA ${signerOf(file)}`);
                if (!clientTrust.includes(serverLeaf)) failures.push(`${id} on ${holder(client)} -> ${name}: the client does not trust CA ${serverLeaf}`);
            }
        }
    }
    return failures;
}

/** Plays `phases`: each phase refreshes the machines in `order`, then restarts members one at a time; checks after every step. */
function play(start: World, phases: RolloutPhase[], order: number[]): { failures: string[]; final: MachineState[] } {
    const secretIds = Object.keys(start.bundles).sort();
    const machines: MachineState[] = secretIds.map((secretId) => {
        const files = decodeBundle(start.bundles[secretId]);
        return { secretId, member: secretId !== "c-tls-worker", files, loadedTrust: generations(files["ca.pem"]) };
    });
    const failures: string[] = [];
    const check = (step: string) => failures.push(...failedHandshakes(machines).map((f) => `${step}: ${f}`));
    check("before");
    for (const phase of phases) {
        for (const i of order.map((o) => o % machines.length)) {
            const m = machines[i];
            m.files = decodeBundle(phase.bundles[m.secretId]);
            check(`${phase.name}, ${m.secretId} refreshed`);
        }
        for (const m of machines) {
            const files = decodeBundle(phase.bundles[m.secretId]);
            if (JSON.stringify(files) !== JSON.stringify(m.files)) m.files = files;
        }
        if (phase.restartMembers) {
            for (const m of machines.filter((x) => x.member)) {
                m.loadedTrust = generations(m.files["ca.pem"]);
                check(`${phase.name}, ${m.secretId} restarted`);
            }
        }
    }
    return { failures, final: machines };
}

describe("model/tls-rollout: certificates reach running machines in phases no handshake fails in", () => {
    it("renews leaves under the same CA in one phase with no restart", () => {
        const before = world(3, [1], 1, 1);
        const after = world(3, [1], 1, 2);
        const phases = planRollout(before.bundles, after.bundles);
        expect(phases.map((p) => [p.name, p.restartMembers])).to.deep.equal([["leaves", false]]);
        expect(phases[0].bundles).to.deep.equal(after.bundles);
    });

    it("rotates the CA as trust-add (restart), leaves, trust-drop (restart), ending exactly at the target", () => {
        const before = world(3, [1], 1, 1);
        const after = world(3, [2], 2, 2);
        const phases = planRollout(before.bundles, after.bundles);
        expect(phases.map((p) => [p.name, p.restartMembers])).to.deep.equal([["trust-add", true], ["leaves", false], ["trust-drop", true]]);
        const first = decodeBundle(phases[0].bundles["c-tls-c-etcd-0"]);
        expect(generations(first["ca.pem"])).to.deep.equal([2, 1]);
        expect(signerOf(first["c-etcd-0-peer.pem"])).to.equal(1);
        expect(generations(decodeBundle(phases[1].bundles["c-tls-worker"])["ca.pem"])).to.deep.equal([2, 1]);
        expect(phases[2].bundles).to.deep.equal(after.bundles);
    });

    it("keeps the previous CA when the target still trusts it: no trust-drop phase", () => {
        const phases = planRollout(world(3, [1], 1, 1).bundles, world(3, [2, 1], 2, 2).bundles);
        expect(phases.map((p) => p.name)).to.deep.equal(["trust-add", "leaves"]);
    });

    it("drops a CA kept from the rotation before with one restart phase and no leaf change", () => {
        const phases = planRollout(world(3, [2, 1], 2, 2).bundles, world(3, [2], 2, 2).bundles);
        expect(phases.map((p) => [p.name, p.restartMembers])).to.deep.equal([["trust-drop", true]]);
    });

    it("rolls nothing when nothing changed, and a new secret is delivered whole in the first phase", () => {
        const w = world(3, [1], 1, 1);
        expect(planRollout(w.bundles, w.bundles)).to.deep.equal([]);
        const grown = world(5, [1], 1, 1);
        const phases = planRollout(w.bundles, grown.bundles);
        expect(phases).to.have.length(1);
        expect(phases[0].bundles["c-tls-c-etcd-4"]).to.equal(grown.bundles["c-tls-c-etcd-4"]);
    });

    it("the checker can fail: a CA rotation delivered in one step cuts members off (the reason for the phases)", () => {
        const before = world(3, [1], 1, 1);
        const after = world(3, [2], 2, 2);
        const oneStep: RolloutPhase[] = [{ name: "leaves", bundles: after.bundles, restartMembers: true, why: "naive" }];
        const { failures } = play(before, oneStep, [0, 1, 2, 3]);
        expect(failures.some((f) => f.includes("peer"))).to.equal(true);
    });

    it("property: for renewals, rotations, kept and dropped CAs, any member count and any refresh order, no handshake fails at any step", () => {
        const scenario = fc.record({
            members: fc.constantFrom(1, 3, 5),
            from: fc.integer({ min: 1, max: 3 }),
            kind: fc.constantFrom("renew", "rotate-drop", "rotate-keep", "drop-kept"),
            order: fc.array(fc.nat(20), { minLength: 1, maxLength: 12 }),
        });
        fc.assert(
            fc.property(scenario, ({ members, from, kind, order }) => {
                const start =
                    kind === "drop-kept" ? world(members, [from + 1, from], from + 1, 1) : world(members, [from], from, 1);
                const target =
                    kind === "renew" ? world(members, [from], from, 2)
                    : kind === "rotate-drop" ? world(members, [from + 1], from + 1, 2)
                    : kind === "rotate-keep" ? world(members, [from + 1, from], from + 1, 2)
                    : world(members, [from + 1], from + 1, 1);
                // Every machine refreshed in each phase, in a random order first.
                const fullOrder = [...order, ...Array.from({ length: members + 1 }, (_, i) => i)];
                const phases = planRollout(start.bundles, target.bundles);
                const { failures, final } = play(start, phases, fullOrder);
                expect(failures, failures.slice(0, 3).join("\n")).to.deep.equal([]);
                for (const m of final) expect(m.files).to.deep.equal(decodeBundle(target.bundles[m.secretId]));
                if (kind !== "rotate-keep") for (const m of final.filter((x) => x.member)) expect(m.loadedTrust).to.deep.equal(generations(decodeBundle(target.bundles[m.secretId])["ca.pem"]));
            }),
            { numRuns: 200 },
        );
    });
});
