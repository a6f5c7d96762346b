// How certificates reach machines (issue 21): the contract between the PKI (what is issued), the
// platforms (where the secret bundles are stored: Secret Manager on GCE, a root-only store locally)
// and the rendered user-data (the fetch unit that runs before etcd, the proxy, fleet, locksmith and
// the router). Private keys never travel in user-data: a machine fetches its bundle with its own
// identity (its service account on GCE) at every boot, so a worker autohealed at 3 a.m. has one too.

import { CLIENT_IDENTITIES, CertificateSpec } from "./pki-plan";

/** Where a machine keeps its certificates: `ca.pem` (the trust bundle), `<id>.pem`, `<id>-key.pem`. */
export const TLS_DIR = "/etc/coreos-cluster/tls";
export const TRUST_BUNDLE_FILE = `${TLS_DIR}/ca.pem`;
export const TLS_FETCH_UNIT = "coreos-tls-fetch.service";

export const certFile = (id: string): string => `${TLS_DIR}/${id}.pem`;
export const keyFile = (id: string): string => `${TLS_DIR}/${id}-key.pem`;

/** One secret bundle: who reads it and which certificates (with their keys) it holds. */
export interface SecretBundle {
    /** Secret id: `<cluster>-tls-<holder>` (GCE secret ids: letters, digits, - and _). */
    secretId: string;
    /** The member's name, or `worker` for the worker group's shared bundle. */
    holder: string;
    certificateIds: string[];
}

/** Client identities a machine of each role holds (the rest stay with the deployer and consumers). */
const MEMBER_CLIENTS = ["fleet"];
const WORKER_CLIENTS = ["router", "fleet", "sidekick"];
/** Never on a machine: the deployer's and consumers' identities write the services prefix from outside; root manages etcd's auth. */
export const OFF_MACHINE_IDENTITIES = CLIENT_IDENTITIES.map((i) => i.commonName).filter((cn) => !MEMBER_CLIENTS.includes(cn) && !WORKER_CLIENTS.includes(cn));

/**
 * The bundles of a cluster: one per member (its own server and peer keys: no member can read
 * another's), one for the worker group (every worker holds the same worker identities).
 */
export function secretBundles(clusterName: string, memberNames: readonly string[], specs: readonly CertificateSpec[]): SecretBundle[] {
    const ids = new Set(specs.map((s) => s.id));
    const present = (list: string[]) => list.filter((id) => ids.has(id));
    return [
        ...memberNames.map((m) => ({ secretId: `${clusterName}-tls-${m}`, holder: m, certificateIds: present([`${m}-server`, `${m}-peer`, ...MEMBER_CLIENTS]) })),
        { secretId: `${clusterName}-tls-worker`, holder: "worker", certificateIds: present(WORKER_CLIENTS) },
    ];
}

/**
 * The bundle's payload: one text of `name<TAB>base64(content)` lines (ca.pem, then each `<id>.pem`
 * and `<id>-key.pem`). Line-oriented base64, so the fetch script unpacks it with `while read` and
 * `base64 -d` alone: no JSON parser on the machine, and no content can break out of its line.
 */
export function encodeBundle(trustBundle: string, certificates: ReadonlyArray<{ id: string; certPem: string; keyPem: string }>): string {
    const files: Array<[string, string]> = [["ca.pem", trustBundle]];
    for (const c of certificates) files.push([`${c.id}.pem`, c.certPem], [`${c.id}-key.pem`, c.keyPem]);
    return encodeFiles(files);
}

/** A payload from its files, in the given order (decodeBundle's inverse). */
export function encodeFiles(files: ReadonlyArray<readonly [string, string]>): string {
    return files.map(([name, content]) => `${name}\t${Buffer.from(content, "utf8").toString("base64")}`).join("\n") + "\n";
}

/** The certificates of a trust bundle (ca.pem), each as its own PEM block, in order. */
export function trustedCas(trustBundle: string): string[] {
    return trustBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** The files of a payload, by name; refuses a name that is not a plain file name. */
export function decodeBundle(payload: string): Record<string, string> {
    const files: Record<string, string> = {};
    for (const raw of payload.split("\n")) {
        if (raw === "") continue;
        const m = /^([a-z0-9][a-z0-9.-]*\.pem)\t([A-Za-z0-9+/=]+)$/.exec(raw);
        if (!m) throw new Error("TLS bundle: a line is not <file name><TAB><base64>");
        files[m[1]] = Buffer.from(m[2], "base64").toString("utf8");
    }
    return files;
}
