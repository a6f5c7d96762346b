// Rotation in place (issue 21, item 5): how new certificate bundles reach RUNNING machines without
// a failed request and without a member restart that loses quorum. Pure: the platforms execute it
// (components/local/tls-rollout-provider.ts locally; on GCE the same phases, docs/security.md).
//
// Two facts of etcd 3.4 shape it (both checked on the real etcd here, test/engine/tls-rotation):
// - etcd reads its own certificate and key files again on every new connection, client and peer:
//   a renewed leaf needs no restart;
// - etcd reads its trusted CA file only at start (etcd issue 11555): a member trusts a new CA, or
//   stops trusting an old one, only after a restart.
// So a change of CA cannot go out in one step: a member presenting a leaf of the new CA to a peer
// that does not trust it yet is cut off from raft, and two such members lose quorum. The rollout is
// up to three phases, each delivered everywhere before the next:
//   1. trust-add:  every trust bundle = new CAs + the CAs delivered before; leaves unchanged;
//                  members restart one at a time (each now trusts both);
//   2. leaves:     the new leaves (signed by the new CA, trusted everywhere since phase 1);
//                  no restart: every party reads its leaf files again per connection;
//   3. trust-drop: the target trust bundle (the old CA gone); members restart one at a time.
// A leaf renewal under the same CA is phase 2 alone. Between any two machines, at every step of
// every phase, the presented leaf is trusted by the verifier (test/model/tls-rollout.test.ts).
import { createHash } from "crypto";
import { decodeBundle, encodeFiles, trustedCas } from "./pki-delivery";

export type RolloutPhaseName = "trust-add" | "leaves" | "trust-drop";

export interface RolloutPhase {
    name: RolloutPhaseName;
    /** Payload by secret id: what every machine holds once the phase is delivered. */
    bundles: Record<string, string>;
    /** Members restart one at a time after the phase is delivered (etcd reads its CA file only at start). */
    restartMembers: boolean;
    /** Why, in words, for the deploy log. */
    why: string;
}

const TRUST_FILE = "ca.pem";

interface Parsed {
    /** File names in payload order. */
    names: string[];
    files: Record<string, string>;
    cas: string[];
}

function parse(payload: string): Parsed {
    const files = decodeBundle(payload);
    return { names: Object.keys(files), files, cas: trustedCas(files[TRUST_FILE] ?? "") };
}

const joinCas = (cas: readonly string[]) => cas.map((c) => c.trim()).join("\n") + "\n";

/** New CAs first (a trust bundle is newest first), then those delivered before that the target dropped. */
function union(target: readonly string[], delivered: readonly string[]): string[] {
    return [...target, ...delivered.filter((c) => !target.includes(c))];
}

/** One bundle with `trust` as its CA file and each leaf file from `leavesFrom` (falling back to `fallback` for ids it lacks). */
function compose(order: readonly string[], trust: readonly string[], leavesFrom: Parsed, fallback: Parsed): string {
    return encodeFiles(order.map((name) => [name, name === TRUST_FILE ? joinCas(trust) : (leavesFrom.files[name] ?? fallback.files[name])] as const));
}

/**
 * The phases taking machines from the `delivered` bundles to the `target` ones (payloads by secret
 * id, model/pki-delivery.ts). A secret new in `target` is delivered whole in the first phase (no
 * machine holds it yet); one gone from `target` is no machine's any more and is not rolled. Empty
 * when nothing changed. The last phase's bundles are exactly `target`.
 */
export function planRollout(delivered: Readonly<Record<string, string>>, target: Readonly<Record<string, string>>): RolloutPhase[] {
    const ids = Object.keys(target).sort();
    const before = new Map(ids.filter((id) => Object.prototype.hasOwnProperty.call(delivered, id)).map((id) => [id, parse(delivered[id])]));
    const after = new Map(ids.map((id) => [id, parse(target[id])]));
    let added = false;
    let dropped = false;
    let leavesChanged = false;
    let otherwiseChanged = false;
    for (const id of ids) {
        const b = before.get(id);
        const a = after.get(id)!;
        if (!b) {
            otherwiseChanged = true;
            continue;
        }
        if (a.cas.some((c) => !b.cas.includes(c))) added = true;
        if (b.cas.some((c) => !a.cas.includes(c))) dropped = true;
        const leafNames = new Set([...a.names, ...b.names].filter((n) => n !== TRUST_FILE));
        for (const name of leafNames) if (a.files[name] !== b.files[name]) leavesChanged = true;
        if (delivered[id] !== target[id]) otherwiseChanged = true;
    }
    const phases: RolloutPhase[] = [];
    const bundlesWith = (trust: (a: Parsed, b: Parsed) => string[], leaves: "delivered" | "target") =>
        Object.fromEntries(
            ids.map((id) => {
                const a = after.get(id)!;
                const b = before.get(id);
                if (!b) return [id, target[id]];
                return [id, compose(a.names, trust(a, b), leaves === "target" ? a : b, a)];
            }),
        );
    if (added) {
        phases.push({ name: "trust-add", bundles: bundlesWith((a, b) => union(a.cas, b.cas), "delivered"), restartMembers: true, why: "a new CA is trusted beside the delivered ones before any leaf it signed is presented" });
    }
    if (leavesChanged) {
        phases.push({ name: "leaves", bundles: bundlesWith((a, b) => (dropped ? union(a.cas, b.cas) : a.cas), "target"), restartMembers: false, why: "renewed leaves, read again by etcd and every client on their next connection" });
    }
    if (dropped) {
        phases.push({ name: "trust-drop", bundles: { ...target }, restartMembers: true, why: "a CA no longer trusted: every leaf it signed was replaced in the phase before" });
    }
    if (phases.length === 0 && otherwiseChanged) {
        phases.push({ name: "leaves", bundles: { ...target }, restartMembers: false, why: "changed bundles with the same CAs and leaves" });
    }
    // The last phase is the target, byte for byte (a union equal to the target's CAs re-encodes to it).
    if (phases.length > 0) phases[phases.length - 1].bundles = { ...target };
    return phases;
}

/**
 * A rollout as a fixed number of slots, so a platform can give each phase its own resources (GCE:
 * a Secret Manager version and a wait per slot) in a graph that does not change shape: the phases,
 * then the target again for the slots left (nothing to roll there: `roll` false).
 */
export const ROLLOUT_SLOTS = 3;

export interface RolloutSlot {
    name: RolloutPhaseName | "none";
    roll: boolean;
    restartMembers: boolean;
    bundles: Record<string, string>;
}

export function rolloutSlots(phases: readonly RolloutPhase[], target: Readonly<Record<string, string>>): RolloutSlot[] {
    if (phases.length > ROLLOUT_SLOTS) throw new Error(`a rollout has at most ${ROLLOUT_SLOTS} phases, not ${phases.length}`);
    return Array.from({ length: ROLLOUT_SLOTS }, (_, i) =>
        i < phases.length ? { name: phases[i].name, roll: true, restartMembers: phases[i].restartMembers, bundles: { ...phases[i].bundles } } : { name: "none" as const, roll: false, restartMembers: false, bundles: { ...target } },
    );
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** What a machine reports once it holds a slot: its payload's digest and, on a member, the digest of the CA file its etcd runs with. */
export interface Expectation {
    payload: string;
    /** Members in a restart phase: the CA file etcd must have started with. */
    etcdCa?: string;
}

export interface PhaseExpectations {
    /** By member name. */
    members: Record<string, Expectation>;
    /** Every other reporting machine (the workers: one shared bundle). */
    workers: Expectation;
}

/** The reports a slot waits for; `memberSecrets` names each member's secret id, `workerSecret` the workers'. */
export function phaseExpectations(slot: RolloutSlot, memberSecrets: Readonly<Record<string, string>>, workerSecret: string): PhaseExpectations {
    const members: Record<string, Expectation> = {};
    for (const [member, secretId] of Object.entries(memberSecrets)) {
        const payload = slot.bundles[secretId];
        members[member] = { payload: sha256(payload), ...(slot.restartMembers ? { etcdCa: sha256(decodeBundle(payload)[TRUST_FILE]) } : {}) };
    }
    return { members, workers: { payload: sha256(slot.bundles[workerSecret]) } };
}

/** A report's text as the refresh writes it: `payload=<sha256> etcd-ca=<sha256|->`. */
export function parseReport(text: string): { payload?: string; etcdCa?: string } {
    const field = (name: string) => new RegExp(`(?:^| )${name}=([0-9a-f]{64})(?: |$)`).exec(text)?.[1];
    return { payload: field("payload"), etcdCa: field("etcd-ca") };
}

/**
 * Who does not hold the slot yet, in words (empty: the phase is everywhere): every member must have
 * reported it (and, in a restart phase, run etcd with its CA file); every machine that reports at
 * all must hold it (a worker that is gone stops reporting when its lease ends).
 */
export function laggingMachines(reports: Readonly<Record<string, string>>, expected: PhaseExpectations): string[] {
    const lagging: string[] = [];
    for (const [member, want] of Object.entries(expected.members)) {
        const got = reports[member] === undefined ? undefined : parseReport(reports[member]);
        if (!got) lagging.push(`${member}: no report`);
        else if (got.payload !== want.payload) lagging.push(`${member}: holds ${got.payload?.slice(0, 12) ?? "nothing"}, not ${want.payload.slice(0, 12)}`);
        else if (want.etcdCa && got.etcdCa !== want.etcdCa) lagging.push(`${member}: etcd has not restarted with the new CA file yet`);
    }
    for (const [machine, text] of Object.entries(reports)) {
        if (machine in expected.members) continue;
        const got = parseReport(text);
        if (got.payload !== expected.workers.payload) lagging.push(`${machine}: holds ${got.payload?.slice(0, 12) ?? "nothing"}, not ${expected.workers.payload.slice(0, 12)}`);
    }
    return lagging.sort();
}
