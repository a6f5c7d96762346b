// Certificates for tests that boot rendered machines without the engine: a ClusterPki issued in
// process (the provider's own code) for the plan's members, every bundle written to a local secret
// store the way LocalTlsStore writes it, and each machine's `tlsStore` input. On one loopback (no
// VPC) peers dial from 127.0.0.1, so there the peer certificates also name it
// (test/components/pki/cluster-pki.test.ts); in a VPC each member dials from its own address.
import { planCertificates } from "../../model/pki-plan";
import { encodeBundle } from "../../model/pki-delivery";
import type { ClusterConfig, ClusterPlan } from "../../model/types";
import { planBundles } from "../../cloud-config/tls-fetch";
import { ClusterPkiState, convergeForTest } from "../../components/pki/cluster-pki-provider";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../../components/provider-versions";
import { storeDir, writeBundle } from "../../components/local/tls-store";

export interface LocalTls {
    pki: ClusterPkiState;
    /** The store folder. */
    dir: string;
    /** A machine's `tlsStore` input (LocalMachineInputs, BootMachine). */
    tlsStoreOf(machine: { name: string; role: "etcd" | "worker" }): { dir: string; secretId: string };
    /** An identity's PEM texts (ca, cert, key) for a test's own clients. */
    identity(id: string): { ca: string; cert: string; key: string };
}

export function localTls(config: ClusterConfig, plan: ClusterPlan, dataDir: string): LocalTls {
    const members = plan.members.map((m) => ({ name: m.name, ip: m.privateIp }));
    const loopback = plan.members.some((m) => m.privateIp.startsWith("127."));
    const specs = planCertificates(members).map((c) => (loopback && c.id.endsWith("-peer") ? { ...c, ipSans: [...c.ipSans, "127.0.0.1"] } : c));
    const pki = convergeForTest(
        { providerVersion: CLUSTER_PKI_PROVIDER_VERSION, clusterName: config.name, certificates: specs, leafValidityDays: 30, renewBeforeDays: 5, caValidityDays: 60, caGeneration: 1, trustPreviousCa: true },
        undefined,
        new Date(),
    );
    const dir = storeDir(dataDir);
    const bundles = planBundles(config.name, plan.members);
    for (const b of bundles) writeBundle(dir, b.secretId, encodeBundle(pki.trustBundle, b.certificateIds.map((id) => ({ id, certPem: pki.issued[id].certPem, keyPem: pki.keys[id] }))));
    return {
        pki,
        dir,
        tlsStoreOf: (m) => ({ dir, secretId: bundles.find((b) => b.holder === (m.role === "worker" ? "worker" : m.name))!.secretId }),
        identity: (id) => ({ ca: pki.trustBundle, cert: pki.issued[id].certPem, key: pki.keys[id] }),
    };
}
