// The two etcd clusters the seeding benchmark compares, each 3 real members (Debian's etcd 3.4):
// - tls: the way the cluster runs (test/support/secure-etcd.ts): mutual TLS with client-certificate
//   auth on the client and the peer port, ClusterPki's certificates, v3 auth on as
//   model/etcd-auth.ts plans it; the providers and the floor connect as the `deployer` identity
//   (its certificate's CN is the etcd user).
// - plaintext: the same 3 members with plain HTTP on both ports and v3 auth on too (the deployer
//   signs in with a password there), so the two floors differ by TLS alone, not by auth checks.
// Each has a `root` client that empties and compacts the keyspace between samples: the deployer
// may write only the services prefix and the owner markers.
import type { Etcd3 } from "etcd3";
import { convergeEtcdAuth } from "../components/etcd/etcd-auth";
import { EtcdConnectionArgs, etcd3ClientOptions, parseEndpoint } from "../components/etcd/etcd-client";
import { EtcdAuthPlan, planEtcdAuth } from "../model/etcd-auth";
import { EtcdTestCluster, startEtcdCluster } from "../test/support/etcd-cluster";
import { startSecureEtcdCluster } from "../test/support/secure-etcd";

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
    /** The etcd processes that must be quiet before a sample: this cluster's, or every cluster sharing the machine. */
    quietPids: () => number[];
    /** Samples that started before the members went quiet (bench/quiet-etcd.ts timed out). */
    unsettledSamples: number;
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

/** The real cluster's setup (test/support/secure-etcd.ts): mutual TLS on both ports, auth converged, the deployer's certificate. */
export async function startTlsTransport(firstAddress: string): Promise<SeedingTransport> {
    const cluster = await startSecureEtcdCluster({ size: 3, firstAddress, clusterName: "bench", servicesPrefix: PREFIX });
    try {
        const connection = cluster.connection("deployer");
        // The secure cluster closes the clients it made on stop(); transport() closes them first, harmlessly.
        return transport("tls", cluster, connection, floorClientFor(connection), cluster.client("root"));
    } catch (err) {
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
        quietPids: () => cluster.members.flatMap((m) => (m.pid === undefined ? [] : [m.pid])),
        unsettledSamples: 0,
        close: async () => {
            floorClient.close();
            admin.close();
            await cluster.stop();
        },
    };
}
