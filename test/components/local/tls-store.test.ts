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
import { CLUSTER_PKI_PROVIDER_VERSION, ClusterPkiState, convergeForTest } from "../../../components/pki/cluster-pki-provider";
import { bundlePath, fetchBundle, storeDir, writeBundle } from "../../../components/local/tls-store";
import { bootPlan } from "../../../components/local/boot";
import { isBootError } from "../../../components/local/boot-error";
import { LocalMachineInputs, LocalMachineState, localMachineProvider as provider } from "../../../components/local/local-machine";

const MEMBER = { name: "tls-etcd-0", ip: "127.0.8.60" };

function memberUserData(fetch: boolean): string {
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
${fetch ? `    - name: ${TLS_FETCH_UNIT}\n      command: start\n` : ""}    - name: etcd2.service
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
        const bundle = secretBundles("tls", [MEMBER.name], planCertificates([MEMBER]))[0];
        payload = encodeBundle(pki.trustBundle, bundle.certificateIds.map((id) => ({ id, certPem: pki.issued[id].certPem, keyPem: pki.keys[id] })));
    });
    after(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    it("keeps bundles as 0600 files of a 0700 folder, and a fetch refuses a bundle others could read", () => {
        const file = writeBundle(dataDir, "tls-tls-etcd-0", payload);
        expect(file).to.equal(bundlePath(dataDir, "tls-tls-etcd-0"));
        expect(fs.statSync(storeDir(dataDir)).mode & 0o777).to.equal(0o700);
        expect(fs.statSync(file).mode & 0o777).to.equal(0o600);
        expect(() => bundlePath(dataDir, "../escape")).to.throw(/not a secret id/);
        const loose = path.join(dataDir, "loose.bundle");
        fs.writeFileSync(loose, payload, { mode: 0o644 });
        fs.chmodSync(loose, 0o644);
        expect(() => fetchBundle(loose, path.join(dataDir, "m"))).to.throw(/not private.*644/);
        expect(() => fetchBundle(path.join(dataDir, "absent.bundle"), path.join(dataDir, "m"))).to.throw(/not in the local secret store/);
    });

    it("a boot plan names the fetch as simulated, and refuses a fetch unit with no bundle for the machine", () => {
        const root = path.join(dataDir, MEMBER.name);
        const plan = bootPlan(memberUserData(true), { name: MEMBER.name, address: MEMBER.ip, root, tlsBundle: bundlePath(dataDir, "tls-tls-etcd-0") });
        expect(plan.tlsFetch).to.deep.equal({ bundle: bundlePath(dataDir, "tls-tls-etcd-0") });
        expect(plan.simulated.join("\n")).to.match(/coreos-tls-fetch\.service: the bundle is read from the local secret store/);
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
    });

    describe("a real member booted through the LocalMachine provider", () => {
        let state: LocalMachineState | undefined;
        let inputs: LocalMachineInputs;
        after(async () => {
            if (state) await provider.delete!(state.name, state);
        });

        it("fetches its bundle before etcd starts (keys 0600), serves mutual TLS from it, and fetches again at the next boot", async () => {
            const root = path.join(dataDir, "machines", MEMBER.name);
            inputs = { name: MEMBER.name, role: "etcd", address: MEMBER.ip, userData: memberUserData(true), root, providerVersion: "test", tlsBundle: bundlePath(dataDir, "tls-tls-etcd-0") };
            state = (await provider.create!(inputs)).outs as LocalMachineState;
            const tlsDir = path.join(root, TLS_DIR);
            expect(fs.readdirSync(tlsDir).sort()).to.deep.equal(["ca.pem", "fleet-key.pem", "fleet.pem", "tls-etcd-0-peer-key.pem", "tls-etcd-0-peer.pem", "tls-etcd-0-server-key.pem", "tls-etcd-0-server.pem"]);
            expect(fs.statSync(path.join(tlsDir, "tls-etcd-0-server-key.pem")).mode & 0o777).to.equal(0o600);
            expect(fs.statSync(path.join(tlsDir, "ca.pem")).mode & 0o777).to.equal(0o644);
            const url = `https://${MEMBER.ip}:2379/health`;
            let ok: { status?: number } = {};
            for (let i = 0; i < 50 && ok.status !== 200; i++) {
                ok = await get(url, { ca: pki.trustBundle, cert: pki.issued.deployer.certPem, key: pki.keys.deployer });
                if (ok.status !== 200) await new Promise((r) => setTimeout(r, 200));
            }
            expect(ok.status, "with a client certificate of the CA").to.equal(200);
            expect((await get(url, { ca: pki.trustBundle })).status, "without a client certificate").to.equal(undefined);
            // The next boot (a restart with its data) fetches again: what the store holds now is what it uses.
            fs.rmSync(tlsDir, { recursive: true, force: true });
            state = (await provider.update!(MEMBER.name, state, inputs)).outs as LocalMachineState;
            expect(fs.existsSync(path.join(tlsDir, "tls-etcd-0-server-key.pem"))).to.equal(true);
        });
    });
});
