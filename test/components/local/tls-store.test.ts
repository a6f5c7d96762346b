// The local secret store and the simulated fetch step (components/local/tls-store.ts): bundles are
// private files of a private folder; a machine whose user-data starts coreos-tls-fetch.service
// gets exactly its bundle unpacked under its root before etcd starts, and again at every boot; a
// real etcd member (Debian's 3.4, 127.0.8.6x) then serves mutual TLS from those files.
import { expect } from "chai";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { planCertificates } from "../../../model/pki-plan";
import { encodeBundle, keyFile, certFile, secretBundles, TLS_DIR, TLS_FETCH_UNIT, TRUST_BUNDLE_FILE } from "../../../model/pki-delivery";
import { ClusterPkiState, convergeForTest } from "../../../components/pki/cluster-pki-provider";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../../../components/provider-versions";
import { bundlePath, fetchBundle, storeDir, writeBundle } from "../../../components/local/tls-store";
import { tlsFetchPartsFor, TLS_MANIFEST, TLS_PAYLOAD_DIGEST } from "../../../cloud-config/tls-fetch";
import { bootPlan } from "../../../components/local/boot";
import { isBootError } from "../../../components/local/boot-error";
import { LocalMachineInputs, LocalMachineState, localMachineProvider as provider } from "../../../components/local/local-machine";

const MEMBER = { name: "tls-etcd-0", ip: "127.0.8.60" };

const BUNDLE = secretBundles("tls", [MEMBER.name], planCertificates([MEMBER]))[0];

/** The fetch unit exactly as the renderer writes it (cloud-config/tls-fetch.ts), indented into the units list. */
function fetchUnitYaml(secretId = BUNDLE.secretId): string {
    const { unit } = tlsFetchPartsFor({ ...BUNDLE, secretId }, "");
    return `    - name: ${TLS_FETCH_UNIT}\n      command: start\n      content: |\n${unit.content!.trimEnd().split("\n").map((l) => `        ${l}`).join("\n")}\n`;
}

function memberUserData(fetch: boolean | string): string {
    const tls = (id: string) => ({ cert: certFile(id), key: keyFile(id) });
    return `#cloud-config
coreos:
  etcd2:
    name: ${MEMBER.name}
    initial_advertise_peer_urls: https://$private_ipv4:2380
    listen_peer_urls: https://$private_ipv4:2380
    listen_client_urls: https://$private_ipv4:2379
    advertise_client_urls: https://$private_ipv4:2379
    initial_cluster: ${MEMBER.name}=https://$private_ipv4:2380
    initial_cluster_state: new
    initial_cluster_token: tls-store-test
    cert_file: ${tls(`${MEMBER.name}-server`).cert}
    key_file: ${tls(`${MEMBER.name}-server`).key}
    trusted_ca_file: ${TRUST_BUNDLE_FILE}
    client_cert_auth: true
    peer_cert_file: ${tls(`${MEMBER.name}-peer`).cert}
    peer_key_file: ${tls(`${MEMBER.name}-peer`).key}
    peer_trusted_ca_file: ${TRUST_BUNDLE_FILE}
    peer_client_cert_auth: true
  units:
${fetch ? fetchUnitYaml(typeof fetch === "string" ? fetch : undefined) : ""}    - name: etcd2.service
      command: start
`;
}

function get(url: string, opts: https.RequestOptions): Promise<{ status?: number; error?: string }> {
    return new Promise((resolve) => {
        const req = https.get(url, { timeout: 3000, agent: false, ...opts }, (res) => {
            res.resume();
            res.on("end", () => resolve({ status: res.statusCode }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (err) => resolve({ error: err.message }));
    });
}

describe("local platform: the TLS secret store and the simulated fetch step", function () {
    this.timeout(60000);
    let dataDir: string;
    let pki: ClusterPkiState;
    let payload: string;
    before(() => {
        dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-tls-store-"));
        pki = convergeForTest(
            { providerVersion: CLUSTER_PKI_PROVIDER_VERSION, clusterName: "tls", certificates: planCertificates([MEMBER]), leafValidityDays: 30, renewBeforeDays: 5, caValidityDays: 60, caGeneration: 1, trustPreviousCa: true },
            undefined,
            new Date(),
        );
        payload = encodeBundle(pki.trustBundle, BUNDLE.certificateIds.map((id) => ({ id, certPem: pki.issued[id].certPem, keyPem: pki.keys[id] })));
    });
    after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it("keeps bundles as 0600 files of a 0700 folder, and a fetch refuses a bundle others could read", () => {
        const file = writeBundle(storeDir(dataDir), BUNDLE.secretId, payload);
        expect(file).to.equal(bundlePath(storeDir(dataDir), BUNDLE.secretId));
        expect(fs.statSync(storeDir(dataDir)).mode & 0o777).to.equal(0o700);
        expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
        expect(() => bundlePath(dataDir, "../escape")).to.throw(/not a secret id/);
        const loose = path.join(dataDir, "loose.bundle");
        fs.writeFileSync(loose, payload, { mode: 0o644 });
        fs.chmodSync(loose, 0o644);
        expect(() => fetchBundle(loose, path.join(dataDir, "m"))).to.throw(/not private.*644/);
        expect(() => fetchBundle(path.join(dataDir, "absent.bundle"), path.join(dataDir, "m"))).to.throw(/not in the local secret store/);
    });

    it("a boot plan reads the fetch unit's own environment, names the fetch as simulated, and refuses a fetch with no bundle or of another machine's secret", () => {
        const root = path.join(dataDir, MEMBER.name);
        const tlsStore = { dir: storeDir(dataDir), secretId: BUNDLE.secretId };
        const plan = bootPlan(memberUserData(true), { name: MEMBER.name, address: MEMBER.ip, root, tlsStore });
        expect(plan.tlsFetch).to.deep.equal({ bundle: bundlePath(storeDir(dataDir), BUNDLE.secretId), dir: TLS_DIR, etcdUserIds: ["tls-etcd-0-server", "tls-etcd-0-peer"] });
        expect(plan.simulated.join("\n")).to.match(/coreos-tls-fetch\.service: secret tls-tls-tls-etcd-0 is read from the local secret store/);
        expect(plan.ignored.join("\n")).to.not.include(TLS_FETCH_UNIT);
        expect(plan.env.ETCD_CERT_FILE).to.equal(`${root}${certFile(`${MEMBER.name}-server`)}`);
        let err: unknown;
        try {
            bootPlan(memberUserData(true), { name: MEMBER.name, address: MEMBER.ip, root });
        } catch (e) {
            err = e;
        }
        expect(isBootError(err)).to.equal(true);
        expect((err as Error).message).to.match(/coreos\.units\[0\]: starts coreos-tls-fetch\.service, but the local secret store holds no TLS bundle/);
        expect(() => bootPlan(memberUserData("tls-tls-worker"), { name: MEMBER.name, address: MEMBER.ip, root, tlsStore })).to.throw(/fetches secret tls-tls-worker, but this machine may read only tls-tls-tls-etcd-0/);
    });

    describe("a real member booted through the LocalMachine provider", () => {
        let state: LocalMachineState | undefined;
        let inputs: LocalMachineInputs;
        after(async () => {
            if (state) await provider.delete!(state.name, state);
        });

        it("fetches its bundle before etcd starts (keys 0600), serves mutual TLS from it, and fetches again at the next boot", async () => {
            const root = path.join(dataDir, "machines", MEMBER.name);
            inputs = { name: MEMBER.name, role: "etcd", address: MEMBER.ip, userData: memberUserData(true), root, providerVersion: "test", tlsStore: { dir: storeDir(dataDir), secretId: BUNDLE.secretId } };
            state = (await provider.create!(inputs)).outs as LocalMachineState;
            const tlsDir = path.join(root, TLS_DIR);
            expect(fs.readdirSync(tlsDir).sort()).to.deep.equal([TLS_MANIFEST, TLS_PAYLOAD_DIGEST, "ca.pem", "fleet-key.pem", "fleet.pem", "tls-etcd-0-peer-key.pem", "tls-etcd-0-peer.pem", "tls-etcd-0-server-key.pem", "tls-etcd-0-server.pem"]);
            expect(fs.statSync(path.join(tlsDir, "tls-etcd-0-server-key.pem")).mode & 0o777).to.equal(0o600);
            expect(fs.statSync(path.join(tlsDir, "ca.pem")).mode & 0o777).to.equal(0o644);
            expect(fs.statSync(path.join(tlsDir, "tls-etcd-0-server.pem")).mode & 0o777, "as the GCE script: every file but ca.pem 0600").to.equal(0o600);
            const url = `https://${MEMBER.ip}:2379/health`;
            let ok: { status?: number } = {};
            for (let i = 0; i < 50 && ok.status !== 200; i++) {
                ok = await get(url, { ca: pki.trustBundle, cert: pki.issued.deployer.certPem, key: pki.keys.deployer });
                if (ok.status !== 200) await new Promise((r) => setTimeout(r, 200));
            }
            expect(ok.status, "with a client certificate of the CA").to.equal(200);
            expect((await get(url, { ca: pki.trustBundle })).status, "without a client certificate").to.equal(undefined);
            // The next boot (a restart with its data) fetches again: what the store holds now is what it uses,
            // and a file the bundle no longer names goes.
            fs.rmSync(path.join(tlsDir, "tls-etcd-0-server-key.pem"));
            fs.writeFileSync(path.join(tlsDir, "stale.pem"), "old");
            state = (await provider.update!(MEMBER.name, state, inputs)).outs as LocalMachineState;
            expect(fs.existsSync(path.join(tlsDir, "tls-etcd-0-server-key.pem"))).to.equal(true);
            expect(fs.existsSync(path.join(tlsDir, "stale.pem"))).to.equal(false);
        });
    });
});
