// A real etcd cluster secured exactly as the product runs it (docs/security.md): a ClusterPki
// issued in process by the provider's own code (model/pki-plan.ts planCertificates), each member
// serving its own server certificate on 2379 and its own peer certificate on 2380, both ports
// requiring a client certificate of the cluster's CA, and etcd v3 auth converged to
// model/etcd-auth.ts's plan (components/etcd/etcd-auth.ts) and turned on. Tests then connect as the
// identity the product would use (the providers as `deployer`), and observe as `root`.
//
//   const cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.13.40" });
//   provider.create({ ..., connection: cluster.connection("deployer", { timeoutMs: 1500 }) });
//   await cluster.client("root").getAll().prefix("/").strings();
//
// Only `servicesPrefix` (and the ownership markers of it) is writable by `deployer`, as in
// production: tests that want several prefixes use folders under it (/services/r1, ...).
//
// A test whose client must hold its certificate before etcd exists (a create that waits for a
// booting cluster) issues the PKI first and hands it over:
//   const pki = makeClusterPki({ size: 1, firstAddress: "127.0.5.90" });
//   const connection = { endpoints: ["https://127.0.5.90:2379"], tls: pkiIdentity(pki, "deployer") };
//   ... later: await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.5.90", pki });
import * as https from "https";
import { Etcd3 } from "etcd3";
import { planCertificates } from "../../model/pki-plan";
import { etcdPasswordFromKey, planEtcdAuth, EtcdAuthPlan } from "../../model/etcd-auth";
import { ClusterPkiState, convergeForTest } from "../../components/pki/cluster-pki-provider";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../../components/provider-versions";
import { convergeEtcdAuth } from "../../components/etcd/etcd-auth";
import type { EtcdConnectionArgs } from "../../components/etcd/etcd-client";
import { addToIPv4, EtcdTestCluster, startEtcdCluster } from "./etcd-cluster";

export interface TlsIdentity {
    ca: string;
    cert: string;
    key: string;
}

export interface SecureEtcdTestCluster extends EtcdTestCluster {
    pki: ClusterPkiState;
    authPlan: EtcdAuthPlan;
    /** PEM texts of one identity of the PKI (`deployer`, `root`, `router`, `<member>-server`, ...). */
    identity(id: string): TlsIdentity;
    /** A connection of the providers' shape (index.ts etcdConnection) as `id`, over every member. */
    connection(id?: string, extra?: Partial<EtcdConnectionArgs>): EtcdConnectionArgs;
    /** An etcd3 client holding `id`'s certificate (its CN is its etcd user); closed by stop(). */
    client(id: string, opts?: { dialTimeout?: number }): Etcd3;
    /** One request to /v2/keys<key> on member `member` (default 0) as `id`, default root (v2 has no roles: a certificate of the CA is the whole check). */
    v2(key: string, init?: { method?: "GET" | "PUT" | "DELETE"; form?: Record<string, string>; id?: string; member?: number }): Promise<{ status: number; body: any }>;
    /** The router's password (the only identity with one: the JSON gateway ignores certificate names). */
    routerPassword: string;
    /** Every private key of the PKI, CA keys included: what must never appear in plaintext. */
    privateKeys(): string[];
}

export interface StartSecureEtcdClusterOptions {
    size: number;
    firstAddress: string;
    /** The ClusterPki's clusterName and the members' name stem (default "rel"). */
    clusterName?: string;
    /** The stack's services prefix the auth plan grants (default /services). */
    servicesPrefix?: string;
    enableV2?: boolean;
    startTimeoutMs?: number;
    /** A PKI issued in advance by makeClusterPki for the same size, firstAddress and clusterName. */
    pki?: ClusterPkiState;
}

export type MakeClusterPkiOptions = Pick<StartSecureEtcdClusterOptions, "size" | "firstAddress" | "clusterName">;

function memberNames(opts: MakeClusterPkiOptions): Array<{ name: string; ip: string }> {
    const clusterName = opts.clusterName ?? "rel";
    return Array.from({ length: opts.size }, (_, i) => ({ name: `${clusterName}-etcd-${i}`, ip: addToIPv4(opts.firstAddress, i) }));
}

/** The cluster's PKI as the ClusterPki provider issues it: a server and a peer certificate per member, every client identity. */
export function makeClusterPki(opts: MakeClusterPkiOptions): ClusterPkiState {
    // On one loopback, peers dial from 127.0.0.1, so the peer certificates also name it
    // (test/components/pki/cluster-pki.test.ts); in a VPC each member dials from its own address.
    const specs = planCertificates(memberNames(opts)).map((c) => (c.id.endsWith("-peer") ? { ...c, ipSans: [...c.ipSans, "127.0.0.1"] } : c));
    return convergeForTest(
        { providerVersion: CLUSTER_PKI_PROVIDER_VERSION, clusterName: opts.clusterName ?? "rel", certificates: specs, leafValidityDays: 30, renewBeforeDays: 5, caValidityDays: 60, caGeneration: 1, trustPreviousCa: true },
        undefined,
        new Date(),
    );
}

/** PEM texts of one identity of a PKI (`deployer`, `root`, `sidekick`, `<member>-server`, ...). */
export function pkiIdentity(pki: ClusterPkiState, id: string): TlsIdentity {
    const issued = pki.issued[id];
    if (!issued || !pki.keys[id]) throw new Error(`the test PKI has no identity "${id}" (have: ${Object.keys(pki.issued).join(", ")})`);
    return { ca: pki.trustBundle, cert: issued.certPem, key: pki.keys[id] };
}

export async function startSecureEtcdCluster(opts: StartSecureEtcdClusterOptions): Promise<SecureEtcdTestCluster> {
    const members = memberNames(opts);
    const pki = opts.pki ?? makeClusterPki(opts);
    // A PKI made for other members would fail later as a TLS error far from its cause.
    const missing = members.filter((m) => !pki.issued[`${m.name}-server`] || !pki.issued[`${m.name}-peer`]).map((m) => m.name);
    if (missing.length) throw new Error(`the given PKI has no certificates for ${missing.join(", ")}: make it with the same size, firstAddress and clusterName`);
    const identity = (id: string): TlsIdentity => pkiIdentity(pki, id);
    const cluster = await startEtcdCluster({
        size: opts.size,
        firstAddress: opts.firstAddress,
        enableV2: opts.enableV2,
        startTimeoutMs: opts.startTimeoutMs,
        // The harness's own health checks (start, restart) present root's certificate.
        tls: { ca: pki.trustBundle, cert: "", key: "", clientCertAuth: true, clientCert: pki.issued.root.certPem, clientKey: pki.keys.root },
        memberTls: members.map((m) => ({ cert: pki.issued[`${m.name}-server`].certPem, key: pki.keys[`${m.name}-server`], peerCert: pki.issued[`${m.name}-peer`].certPem, peerKey: pki.keys[`${m.name}-peer`] })),
    });

    const clients: Etcd3[] = [];
    const client = (id: string, clientOpts: { dialTimeout?: number } = {}) => {
        const tls = identity(id);
        const c = new Etcd3({
            hosts: cluster.endpoints,
            credentials: { rootCertificate: Buffer.from(tls.ca), certChain: Buffer.from(tls.cert), privateKey: Buffer.from(tls.key) },
            dialTimeout: clientOpts.dialTimeout ?? 5000,
        });
        clients.push(c);
        return c;
    };
    const routerPassword = etcdPasswordFromKey("router", pki.keys.router);
    const authPlan = planEtcdAuth(opts.servicesPrefix ?? "/services", members.map((m) => m.name));
    try {
        // As the stack's EtcdAccess does before any provider writes: users, roles, then auth on.
        const root = client("root");
        await convergeEtcdAuth(root, authPlan, { router: routerPassword });
        root.close();
    } catch (err) {
        await cluster.stop();
        throw err;
    }

    const stopCluster = cluster.stop;
    return Object.assign(cluster, {
        pki,
        authPlan,
        identity,
        client,
        routerPassword,
        connection: (id = "deployer", extra: Partial<EtcdConnectionArgs> = {}): EtcdConnectionArgs => ({ endpoints: cluster.endpoints, tls: identity(id), ...extra }),
        v2: (key: string, init: { method?: "GET" | "PUT" | "DELETE"; form?: Record<string, string>; id?: string; member?: number } = {}) =>
            new Promise<{ status: number; body: any }>((resolve, reject) => {
                const tls = identity(init.id ?? "root");
                const headers = init.form ? { "content-type": "application/x-www-form-urlencoded" } : undefined;
                const options = { method: init.method ?? "GET", headers, ca: tls.ca, cert: tls.cert, key: tls.key, agent: false, timeout: 5000 };
                const req = https.request(`${cluster.endpoints[init.member ?? 0]}/v2/keys${key}`, options, (res) => {
                    let text = "";
                    res.setEncoding("utf8");
                    res.on("data", (c) => (text += c));
                    // A member without v2 answers a plain-text 404 page, not JSON.
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text ? parseOrText(text) : undefined }));
                });
                req.on("timeout", () => req.destroy(new Error(`v2 ${init.method ?? "GET"} ${key} timed out`)));
                req.on("error", reject);
                req.end(init.form ? new URLSearchParams(init.form).toString() : undefined);
            }),
        privateKeys: () => [...Object.values(pki.keys), ...Object.values(pki.caKeys)],
        stop: async () => {
            for (const c of clients.splice(0)) c.close();
            await stopCluster();
        },
    });
}

function parseOrText(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * A `deployer` client identity issued by another CA, which the clusters above do not trust: what a
 * stale or foreign credential looks like to them (its key is a secret like any other).
 */
export function strangerIdentity(clusterName = "stranger"): TlsIdentity {
    const pki = convergeForTest(
        {
            providerVersion: CLUSTER_PKI_PROVIDER_VERSION,
            clusterName,
            certificates: [{ id: "deployer", commonName: "deployer", usage: "client", ipSans: [], dnsSans: [] }],
            leafValidityDays: 30,
            renewBeforeDays: 5,
            caValidityDays: 60,
            caGeneration: 1,
            trustPreviousCa: true,
        },
        undefined,
        new Date(),
    );
    return { ca: pki.trustBundle, cert: pki.issued.deployer.certPem, key: pki.keys.deployer };
}
