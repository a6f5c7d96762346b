// The ClusterPki dynamic provider: the stack's own CA and every certificate model/pki-plan.ts plans.
// State is self-contained (nothing outside Pulumi holds it), so read returns it as it is, and
// delete has nothing to remove. Private keys are secret outputs (cluster-pki.ts marks them).
// Bundled with its modules (components/services/bundled-provider.ts): nothing captured.
import type * as pulumi from "@pulumi/pulumi";
import { CertificateSpec, IssuedRecord, planIssuance, validityProblem } from "../../model/pki-plan";
import { createCa, issueLeaf } from "./x509";

export interface ClusterPkiInputs {
    providerVersion: string;
    clusterName: string;
    certificates: CertificateSpec[];
    leafValidityDays: number;
    renewBeforeDays: number;
    caValidityDays: number;
    /** Raise by one to rotate the CA: a new CA signs every leaf, the previous one stays trusted beside it. */
    caGeneration: number;
    /** Raise by one to renew every leaf now (same CA), ahead of the renewal window. */
    leafGeneration?: number;
    /** true: the CA before the signing one stays trusted after a rotation; false: a rotation ends with it dropped. */
    trustPreviousCa: boolean;
}

export interface IssuedCertificate extends IssuedRecord {
    certPem: string;
}

export interface ClusterPkiState extends ClusterPkiInputs {
    cas: Array<{ generation: number; certPem: string; notAfter: string }>;
    /** Secret: CA private keys by generation. */
    caKeys: Record<string, string>;
    /** PEM of every trusted CA, newest first: what machines and clients put in their trusted CA file. */
    trustBundle: string;
    issued: Record<string, IssuedCertificate>;
    /** Secret: leaf private keys by certificate id. */
    keys: Record<string, string>;
    /** notAfter of every certificate by id, the CAs as `ca-<generation>`. */
    expiries: Record<string, string>;
}

const ID = /^[a-z0-9][a-z0-9.-]{0,62}$/;

function inputProblems(news: Record<string, unknown>): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const certs = news.certificates;
    if (!Array.isArray(certs) || certs.length === 0) failures.push({ property: "certificates", reason: "must be a non-empty list of certificate specs" });
    else {
        const seen = new Set<string>();
        certs.forEach((c: CertificateSpec, i) => {
            if (!c || typeof c.id !== "string" || !ID.test(c.id)) failures.push({ property: `certificates[${i}].id`, reason: `must match ${ID}` });
            else if (seen.has(c.id)) failures.push({ property: `certificates[${i}].id`, reason: `duplicate id ${c.id}` });
            else seen.add(c.id);
            if (!c || typeof c.commonName !== "string" || (c.commonName !== "" && !ID.test(c.commonName))) failures.push({ property: `certificates[${i}].commonName`, reason: `must match ${ID} (or be empty: no Common Name)` });
        });
    }
    const problem = validityProblem(news as unknown as ClusterPkiInputs);
    if (problem) failures.push({ property: "leafValidityDays", reason: problem });
    if (!Number.isInteger(news.caGeneration) || (news.caGeneration as number) < 1) failures.push({ property: "caGeneration", reason: "must be a whole number from 1" });
    if (news.leafGeneration !== undefined && (!Number.isInteger(news.leafGeneration) || (news.leafGeneration as number) < 1)) failures.push({ property: "leafGeneration", reason: "must be a whole number from 1" });
    return failures;
}

/** The state after issuing what the plan says, from the previous state (undefined on create). */
function converge(inputs: ClusterPkiInputs, previous: ClusterPkiState | undefined, now: Date): ClusterPkiState {
    let cas = [...(previous?.cas ?? [])];
    const caKeys = { ...(previous?.caKeys ?? {}) };
    const signing = () => cas.reduce((a, b) => (b.generation > a.generation ? b : a));
    // A CA near its end is rotated like a raised generation: its leaves could not outlive it.
    const caExpiring = cas.length > 0 && Date.parse(signing().notAfter) - now.getTime() <= inputs.renewBeforeDays * 86400000;
    const wantedGeneration = Math.max(inputs.caGeneration, cas.length > 0 ? signing().generation + (caExpiring ? 1 : 0) : 1);
    if (cas.length === 0 || signing().generation < wantedGeneration) {
        const ca = createCa(`${inputs.clusterName} etcd CA ${wantedGeneration}`, now, inputs.caValidityDays);
        cas.push({ generation: wantedGeneration, certPem: ca.certPem, notAfter: ca.notAfter });
        caKeys[String(wantedGeneration)] = ca.keyPem;
    }
    const signer = signing();
    // Trusted: the signing CA, and the one before it while trustPreviousCa (old and new side by side).
    cas = cas.filter((c) => c.generation === signer.generation || (inputs.trustPreviousCa && c.generation === signer.generation - 1));
    for (const gen of Object.keys(caKeys)) if (!cas.some((c) => String(c.generation) === gen)) delete caKeys[gen];

    const leafGeneration = inputs.leafGeneration ?? 1;
    const plan = planIssuance(previous?.issued ?? {}, inputs.certificates, { now, renewBeforeDays: inputs.renewBeforeDays, signingCaGeneration: signer.generation, leafGeneration });
    const issued: Record<string, IssuedCertificate> = {};
    const keys: Record<string, string> = {};
    for (const id of plan.keep) {
        issued[id] = previous!.issued[id];
        keys[id] = previous!.keys[id];
    }
    const specs = new Map(inputs.certificates.map((c) => [c.id, c]));
    for (const { id } of plan.issue) {
        const spec = specs.get(id)!;
        const leaf = issueLeaf(spec, { keyPem: caKeys[String(signer.generation)], certPem: signer.certPem }, now, inputs.leafValidityDays);
        issued[id] = { spec, certPem: leaf.certPem, notAfter: leaf.notAfter, caGeneration: signer.generation, leafGeneration };
        keys[id] = leaf.keyPem;
    }
    const expiries: Record<string, string> = {};
    for (const c of cas) expiries[`ca-${c.generation}`] = c.notAfter;
    for (const [id, cert] of Object.entries(issued)) expiries[id] = cert.notAfter;
    const trustBundle = [...cas].sort((a, b) => b.generation - a.generation).map((c) => c.certPem.trim()).join("\n") + "\n";
    return { ...inputs, cas, caKeys, trustBundle, issued, keys, expiries };
}

/** Why an update is due: changed inputs, or certificates the plan would issue now (renewal window, CA generation). */
export function pendingChanges(olds: ClusterPkiState, news: ClusterPkiInputs, now: Date): string[] {
    const reasons: string[] = [];
    for (const key of ["providerVersion", "clusterName", "leafValidityDays", "renewBeforeDays", "caValidityDays", "caGeneration", "leafGeneration", "trustPreviousCa"] as const) {
        if (JSON.stringify(olds[key]) !== JSON.stringify(news[key])) reasons.push(key);
    }
    const signingGeneration = Math.max(...olds.cas.map((c) => c.generation));
    const signer = olds.cas.find((c) => c.generation === signingGeneration)!;
    if (Date.parse(signer.notAfter) - now.getTime() <= news.renewBeforeDays * 86400000) reasons.push("cas");
    const plan = planIssuance(olds.issued, news.certificates, { now, renewBeforeDays: news.renewBeforeDays, signingCaGeneration: Math.max(signingGeneration, news.caGeneration), leafGeneration: news.leafGeneration ?? 1 });
    if (plan.issue.length > 0 || plan.drop.length > 0) reasons.push("certificates");
    return [...new Set(reasons)];
}

export const provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">> = {
    async check(olds, news) {
        const failures = inputProblems(news);
        // A generation only goes up: the CA and leaves in state were issued under the higher one.
        for (const key of ["caGeneration", "leafGeneration"] as const) {
            const before = olds?.[key] ?? 1;
            if (Number.isInteger(news[key] ?? 1) && (news[key] ?? 1) < before) failures.push({ property: key, reason: `${news[key]} is below the deployed ${key} ${before}: generations only go up (raise it to rotate or renew again)` });
        }
        return failures.length > 0 ? { inputs: news, failures } : { inputs: news };
    },
    async diff(_id, olds: ClusterPkiState, news: ClusterPkiInputs) {
        const changes = pendingChanges(olds, news, new Date());
        return { changes: changes.length > 0, replaces: [], deleteBeforeReplace: false, ...(changes.length > 0 ? { detailedDiff: Object.fromEntries(changes.map((k) => [k, { kind: "update" as const }])) } : {}) };
    },
    async create(inputs: ClusterPkiInputs) {
        return { id: `${inputs.clusterName}-pki`, outs: converge(inputs, undefined, new Date()) };
    },
    async read(id, props: ClusterPkiState) {
        return { id, props };
    },
    async update(_id, olds: ClusterPkiState, news: ClusterPkiInputs) {
        return { outs: converge(news, olds, new Date()) };
    },
    async delete() {
        /* Nothing outside the state holds the PKI. */
    },
};

/** For tests: one convergence at a given time. */
export const convergeForTest = converge;
