// The two etcd clusters the seeding benchmark compares, each 3 real members (Debian's etcd 3.4):
// - tls: the way the cluster runs: mutual TLS with client-certificate auth on the client and the
//   peer port, ClusterPki's certificates, v3 auth on as model/etcd-auth.ts plans it; the providers
//   and the floor connect as the `deployer` identity (its certificate's CN is the etcd user).
// - plaintext: the same 3 members with plain HTTP on both ports and v3 auth on too (the deployer
//   signs in with a password there), so the two floors differ by TLS alone, not by auth checks.
// Each has a `root` client that empties and compacts the keyspace between samples: the deployer
// may write only the services prefix and the owner markers.
import type { Etcd3 } from "etcd3";
import { convergeEtcdAuth } from "../components/etcd/etcd-auth";
import { EtcdConnectionArgs, etcd3ClientOptions, parseEndpoint } from "../components/etcd/etcd-client";
import { CLUSTER_PKI_PROVIDER_VERSION, convergeForTest } from "../components/pki/cluster-pki-provider";
import { EtcdAuthPlan, etcdPasswordFromKey, planEtcdAuth } from "../model/etcd-auth";
import { planCertificates } from "../model/pki-plan";
import { addToIPv4, EtcdTestCluster, startEtcdCluster } from "../test/support/etcd-cluster";

export type TransportName = "tls" | "plaintext";

export interface SeedingTransport {
    name: TransportName;
    cluster: EtcdTestCluster;
    /** The providers' connection, as the deployer. */
    connection: EtcdConnectionArgs;
    /** A raw etcd3 client built with the providers' own options (etcd3ClientOptions) on their first endpoint: the floor's. */
    floorClient: Etcd3;
    /** root: cleans and compacts between samples, counts what was written. */
    admin: Etcd3;
    close(): Promise<void>;
}

const PREFIX = "/services";
// Fixed, so the plaintext cluster's users are reproducible; nothing guarded by them outlives the run.
const PLAINTEXT_PASSWORDS = { root: "bench-root", deployer: "bench-deployer", router: "bench-router" };

function etcd3(): typeof import("etcd3").Etcd3 {
    return (require("etcd3") as typeof import("etcd3")).Etcd3;
}

/** The providers' client on the first endpoint: the same dial, credentials, deadlines and fault handling. */
function floorClientFor(connection: EtcdConnectionArgs): Etcd3 {
    const endpoint = parseEndpoint(connection.endpoints[0]);
    if (!endpoint) throw new Error(`not an endpoint: ${connection.endpoints[0]}`);
    return new (etcd3())(etcd3ClientOptions(connection, endpoint, endpoint.host, endpoint.port));
}

/** The real cluster's setup: mutual TLS on both ports from ClusterPki's certificates, auth converged, the deployer's certificate. */
export async function startTlsTransport(firstAddress: string): Promise<SeedingTransport> {
    const members = [0, 1, 2].map((i) => ({ name: `bench-etcd-${i}`, ip: addToIPv4(firstAddress, i) }));
    // Peers on one loopback dial from 127.0.0.1: their certificates must name it (as in test/components/etcd/etcd-auth.test.ts).
    const specs = planCertificates(members).map((c) => (c.id.endsWith("-peer") ? { ...c, ipSans: [...c.ipSans, "127.0.0.1"] } : c));
    const pki = convergeForTest(
        { providerVersion: CLUSTER_PKI_PROVIDER_VERSION, clusterName: "bench", certificates: specs, leafValidityDays: 30, renewBeforeDays: 5, caValidityDays: 60, caGeneration: 1, trustPreviousCa: true },
        undefined,
        new Date(),
    );
    const tlsOf = (id: string) => ({ ca: pki.trustBundle, cert: pki.issued[id].certPem, key: pki.keys[id] });
    const cluster = await startEtcdCluster({
        size: 3,
        firstAddress,
        tls: { ca: pki.trustBundle, cert: "", key: "", clientCertAuth: true, clientCert: pki.issued.root.certPem, clientKey: pki.keys.root },
        memberTls: members.map((m) => ({ cert: pki.issued[`${m.name}-server`].certPem, key: pki.keys[`${m.name}-server`], peerCert: pki.issued[`${m.name}-peer`].certPem, peerKey: pki.keys[`${m.name}-peer`] })),
    });
    const opened: Etcd3[] = [];
    try {
        const admin = new (etcd3())({ hosts: cluster.endpoints, credentials: { rootCertificate: Buffer.from(pki.trustBundle), certChain: Buffer.from(pki.issued.root.certPem), privateKey: Buffer.from(pki.keys.root) } });
        opened.push(admin);
        await convergeEtcdAuth(admin, planEtcdAuth(PREFIX), { router: etcdPasswordFromKey("router", pki.keys.router) });
        const connection: EtcdConnectionArgs = { endpoints: cluster.endpoints, tls: tlsOf("deployer") };
        const floorClient = floorClientFor(connection);
        opened.push(floorClient);
        return transport("tls", cluster, connection, floorClient, admin);
    } catch (err) {
        opened.forEach((c) => c.close());
        await cluster.stop();
        throw err;
    }
}

/** The plan with passwords for root and the deployer: where no certificate names a user, they sign in. */
function withPasswords(plan: EtcdAuthPlan): EtcdAuthPlan {
    return { ...plan, users: plan.users.map((u) => (u.name in PLAINTEXT_PASSWORDS ? { ...u, password: true } : u)) };
}

/** Plain HTTP on both ports, the same users and grants, the deployer signing in with its password. */
export async function startPlaintextTransport(firstAddress: string): Promise<SeedingTransport> {
    const cluster = await startEtcdCluster({ size: 3, firstAddress });
    const opened: Etcd3[] = [];
    try {
        const bootstrap = new (etcd3())({ hosts: cluster.endpoints });
        opened.push(bootstrap);
        await convergeEtcdAuth(bootstrap, withPasswords(planEtcdAuth(PREFIX)), PLAINTEXT_PASSWORDS);
        const admin = new (etcd3())({ hosts: cluster.endpoints, auth: { username: "root", password: PLAINTEXT_PASSWORDS.root } });
        opened.push(admin);
        const connection: EtcdConnectionArgs = { endpoints: cluster.endpoints, username: "deployer", password: PLAINTEXT_PASSWORDS.deployer };
        const floorClient = floorClientFor(connection);
        opened.push(floorClient);
        bootstrap.close();
        return transport("plaintext", cluster, connection, floorClient, admin);
    } catch (err) {
        opened.forEach((c) => c.close());
        await cluster.stop();
        throw err;
    }
}

function transport(name: TransportName, cluster: EtcdTestCluster, connection: EtcdConnectionArgs, floorClient: Etcd3, admin: Etcd3): SeedingTransport {
    return {
        name,
        cluster,
        connection,
        floorClient,
        admin,
        close: async () => {
            floorClient.close();
            admin.close();
            await cluster.stop();
        },
    };
}
