// ClusterPki: the provider's certificates checked with Node's own X.509 parser, and used by a real
// 3-member etcd (Debian's 3.4) with mutual TLS on the client AND the peer port.
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as http from "http";
import { planCertificates } from "../../../model/pki-plan";
import { ClusterPkiInputs, ClusterPkiState, convergeForTest, pendingChanges, provider } from "../../../components/pki/cluster-pki-provider";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../../../components/provider-versions";
import { EtcdTestCluster, startEtcdCluster } from "../../support/etcd-cluster";

const DAY = 86400000;
const T0 = new Date("2027-01-01T00:00:00Z");

function inputs(members: Array<{ name: string; ip: string }>, overrides: Partial<ClusterPkiInputs> = {}): ClusterPkiInputs {
    return {
        providerVersion: CLUSTER_PKI_PROVIDER_VERSION,
        clusterName: "demo",
        certificates: planCertificates(members),
        leafValidityDays: 365,
        renewBeforeDays: 30,
        caValidityDays: 3650,
        caGeneration: 1,
        trustPreviousCa: true,
        ...overrides,
    };
}

const x509 = (pem: string) => new crypto.X509Certificate(pem);
const caOf = (state: ClusterPkiState, generation: number) => x509(state.cas.find((c) => c.generation === generation)!.certPem);

describe("components/pki: ClusterPki issues the cluster's certificates from its own CA", function () {
    this.timeout(60000);
    const members = [0, 1, 2].map((i) => ({ name: `demo-etcd-${i}`, ip: `127.0.21.${10 + i}` }));
    let state: ClusterPkiState;
    before(() => {
        state = convergeForTest(inputs(members), undefined, T0);
    });

    it("signs every leaf with the CA, with the usage and names it was planned with; keys match", () => {
        const ca = caOf(state, 1);
        expect(ca.ca).to.equal(true);
        for (const spec of planCertificates(members)) {
            const cert = x509(state.issued[spec.id].certPem);
            expect(cert.verify(ca.publicKey), spec.id).to.equal(true);
            expect(cert.checkIssued(ca), spec.id).to.equal(true);
            expect(cert.ca, spec.id).to.equal(false);
            expect(cert.checkPrivateKey(crypto.createPrivateKey(state.keys[spec.id])), spec.id).to.equal(true);
            expect(cert.subject).to.contain(spec.commonName ? `CN=${spec.commonName}` : `OU=${spec.id}`);
            if (!spec.commonName) expect(cert.subject).to.not.contain("CN=");
            for (const ip of spec.ipSans) expect(cert.checkIP(ip), `${spec.id} ${ip}`).to.equal(ip);
            const eku = (cert.keyUsage ?? []) as string[];
            expect(eku.includes("1.3.6.1.5.5.7.3.1"), `${spec.id} serverAuth`).to.equal(spec.usage !== "client");
            expect(eku.includes("1.3.6.1.5.5.7.3.2"), `${spec.id} clientAuth`).to.equal(spec.usage !== "server");
            expect(Date.parse(state.expiries[spec.id])).to.equal(Date.parse(cert.validTo));
        }
        expect(state.trustBundle.match(/BEGIN CERTIFICATE/g)).to.have.length(1);
    });

    it("a no-op changes nothing: the diff is empty and every key and certificate stays", async () => {
        expect(pendingChanges(state, inputs(members), new Date(T0.getTime() + 10 * DAY))).to.deep.equal([]);
        const again = convergeForTest(inputs(members), state, new Date(T0.getTime() + 10 * DAY));
        expect(again.issued).to.deep.equal(state.issued);
        expect(again.keys).to.deep.equal(state.keys);
    });

    it("renews leaves that enter the renewal window, and only those, under the same CA", () => {
        const later = new Date(T0.getTime() + 340 * DAY);
        expect(pendingChanges(state, inputs(members), later)).to.deep.equal(["certificates"]);
        const renewed = convergeForTest(inputs(members), state, later);
        expect(renewed.cas).to.deep.equal(state.cas);
        for (const id of Object.keys(state.issued)) {
            expect(renewed.issued[id].certPem, id).to.not.equal(state.issued[id].certPem);
            expect(Date.parse(renewed.expiries[id]) - later.getTime()).to.be.closeTo(365 * DAY, DAY);
            expect(x509(renewed.issued[id].certPem).verify(caOf(state, 1).publicKey)).to.equal(true);
        }
        // A leaf added since the last issue is issued alone.
        const withExtra = inputs(members, { certificates: [...planCertificates(members), { id: "extra", commonName: "extra", usage: "client", ipSans: [], dnsSans: [] }] });
        const extra = convergeForTest(withExtra, state, new Date(T0.getTime() + DAY));
        expect(Object.keys(extra.issued).filter((id) => extra.issued[id].certPem !== state.issued[id]?.certPem)).to.deep.equal(["extra"]);
    });

    it("rotates the CA: the new one signs every leaf while both are trusted; dropping the old leaves one", () => {
        const rotated = convergeForTest(inputs(members, { caGeneration: 2 }), state, new Date(T0.getTime() + DAY));
        expect(rotated.cas.map((c) => c.generation)).to.deep.equal([1, 2]);
        expect(rotated.trustBundle.match(/BEGIN CERTIFICATE/g)).to.have.length(2);
        for (const [id, cert] of Object.entries(rotated.issued)) expect(x509(cert.certPem).verify(caOf(rotated, 2).publicKey), id).to.equal(true);
        const dropped = convergeForTest(inputs(members, { caGeneration: 2, trustPreviousCa: false }), rotated, new Date(T0.getTime() + 2 * DAY));
        expect(dropped.cas.map((c) => c.generation)).to.deep.equal([2]);
        expect(Object.keys(dropped.caKeys)).to.deep.equal(["2"]);
        expect(dropped.issued).to.deep.equal(rotated.issued);
    });

    it("renews every leaf now when leafGeneration is raised, under the same CA, and only once", () => {
        const soon = new Date(T0.getTime() + DAY);
        expect(pendingChanges(state, inputs(members, { leafGeneration: 2 }), soon)).to.include.members(["leafGeneration", "certificates"]);
        const renewed = convergeForTest(inputs(members, { leafGeneration: 2 }), state, soon);
        expect(renewed.cas).to.deep.equal(state.cas);
        for (const id of Object.keys(state.issued)) {
            expect(renewed.issued[id].certPem, id).to.not.equal(state.issued[id].certPem);
            expect(renewed.keys[id], id).to.not.equal(state.keys[id]);
            expect(x509(renewed.issued[id].certPem).verify(caOf(state, 1).publicKey)).to.equal(true);
        }
        expect(pendingChanges(renewed, inputs(members, { leafGeneration: 2 }), soon)).to.deep.equal([]);
    });

    it("rotates a CA that nears its own end without being asked", () => {
        const short = convergeForTest(inputs(members, { caValidityDays: 400 }), undefined, T0);
        const nearEnd = new Date(T0.getTime() + 380 * DAY);
        expect(pendingChanges(short, inputs(members, { caValidityDays: 400 }), nearEnd)).to.include("cas");
        const next = convergeForTest(inputs(members, { caValidityDays: 400 }), short, nearEnd);
        expect(next.cas.map((c) => c.generation)).to.deep.equal([1, 2]);
    });

    it("check refuses duplicate ids, bad names and impossible validity, naming the property", async () => {
        const bad = { ...inputs(members), certificates: [...planCertificates(members), planCertificates(members)[0]], renewBeforeDays: 400 };
        const result = await provider.check!({}, bad);
        expect(result.failures!.map((f) => f.property)).to.have.members([`certificates[${planCertificates(members).length}].id`, "leafValidityDays"]);
    });

    describe("a real etcd with mutual TLS on both ports, from these certificates", () => {
        let cluster: EtcdTestCluster;
        before(async () => {
            // On one machine's loopback every member dials from 127.0.0.1, whatever address it listens
            // on, and etcd matches a peer certificate's IP SANs against the dialer's address: here the
            // peers also carry 127.0.0.1 (in the local VPC and on GCE each member dials from its own).
            const specs = planCertificates(members).map((c) => (c.id.endsWith("-peer") ? { ...c, ipSans: [...c.ipSans, "127.0.0.1"] } : c));
            state = convergeForTest(inputs(members, { certificates: specs }), undefined, new Date());
            cluster = await startEtcdCluster({
                size: 3,
                firstAddress: members[0].ip,
                clientPort: 2379,
                peerPort: 2380,
                tls: { ca: state.trustBundle, cert: "", key: "", clientCertAuth: true, clientCert: state.issued.deployer.certPem, clientKey: state.keys.deployer },
                memberTls: members.map((m, i) => ({
                    cert: state.issued[`${m.name}-server`].certPem,
                    key: state.keys[`${m.name}-server`],
                    peerCert: state.issued[`${m.name}-peer`].certPem,
                    peerKey: state.keys[`${m.name}-peer`],
                })),
            });
        });
        after(async () => {
            await cluster?.stop();
        });

        const call = (url: string, opts: https.RequestOptions, body?: string) =>
            new Promise<{ status?: number; text: string }>((resolve, reject) => {
                const transport = url.startsWith("https:") ? https : http;
                const req = transport.request(url, { method: body ? "POST" : "GET", timeout: 3000, ...opts }, (res) => {
                    let text = "";
                    res.on("data", (c) => (text += c));
                    res.on("end", () => resolve({ status: res.statusCode, text }));
                });
                req.on("error", reject);
                req.on("timeout", () => req.destroy(new Error("timeout")));
                req.end(body);
            });
        const b64 = (s: string) => Buffer.from(s).toString("base64");
        const asClient = (id: string) => ({ ca: state.trustBundle, cert: state.issued[id].certPem, key: state.keys[id] });

        it("forms a healthy cluster over mutual TLS on the peer port", async () => {
            for (const m of cluster.members) {
                expect(m.peerUrl).to.match(/^https:/);
                const health = await call(`${m.clientUrl}/health`, asClient("deployer"));
                expect(JSON.parse(health.text).health).to.equal("true");
            }
        });

        it("answers a client with a certificate of the cluster's CA", async () => {
            const put = await call(`${cluster.members[0].clientUrl}/v3/kv/put`, asClient("deployer"), JSON.stringify({ key: b64("/services/web/scheme"), value: b64("http") }));
            expect(put.status).to.equal(200);
            const got = await call(`${cluster.members[2].clientUrl}/v3/kv/range`, asClient("router"), JSON.stringify({ key: b64("/services/web/scheme") }));
            expect(Buffer.from(JSON.parse(got.text).kvs[0].value, "base64").toString()).to.equal("http");
        });

        it("refuses TLS without a client certificate, and one from another CA, on both ports", async () => {
            const stranger = convergeForTest(inputs(members), undefined, new Date());
            for (const m of cluster.members) {
                for (const url of [`${m.clientUrl}/health`, `${m.peerUrl}/members`]) {
                    await call(url, { ca: state.trustBundle }).then(
                        (r) => expect.fail(`${url} answered ${r.status} without a client certificate`),
                        (err: Error) => expect(err.message).to.match(/certificate|socket hang up|ECONNRESET|alert/i),
                    );
                    await call(url, { ca: state.trustBundle, cert: stranger.issued.deployer.certPem, key: stranger.keys.deployer }).then(
                        (r) => expect.fail(`${url} answered ${r.status} to another CA's certificate`),
                        (err: Error) => expect(err.message).to.match(/certificate|socket hang up|ECONNRESET|alert/i),
                    );
                }
            }
        });

        it("gives plain HTTP no etcd answer on either port", async () => {
            for (const m of cluster.members) {
                for (const url of [`http://${m.ip}:2379/health`, `http://${m.ip}:2380/members`]) {
                    const outcome = await call(url, {}).then((r) => `HTTP ${r.status}: ${r.text.slice(0, 80)}`, (err: Error) => err.message);
                    expect(outcome, url).to.not.match(/"health"|"id"|"name"/);
                }
            }
        });

        it("serves a renewed leaf from its file on the next connection, without a restart (etcd reloads leaves)", async () => {
            // Re-issued now (a changed name forces it; a renewal by date would be issued in the future).
            const specs = state.certificates.map((c) => (c.id === "demo-etcd-1-server" ? { ...c, dnsSans: [...c.dnsSans, "renewed.demo"] } : c));
            const renewed = convergeForTest({ ...state, certificates: specs }, state, new Date());
            const m = cluster.members[1];
            const pid = m.pid;
            const serial = () =>
                new Promise<string>((resolve, reject) => {
                    const req = https.request(`${m.clientUrl}/health`, { ...asClient("deployer"), agent: false }, (res) => {
                        resolve((res.socket as import("tls").TLSSocket).getPeerCertificate().serialNumber);
                        res.resume();
                    });
                    req.on("error", reject);
                    req.end();
                });
            const before = await serial();
            const dir = require("path").dirname(m.logFile);
            fs.writeFileSync(`${dir}/${m.name}-server.pem`, renewed.issued[`demo-etcd-1-server`].certPem);
            fs.writeFileSync(`${dir}/${m.name}-server-key.pem`, renewed.keys[`demo-etcd-1-server`]);
            const after = await serial();
            expect(after).to.not.equal(before);
            expect(after.toLowerCase()).to.equal(x509(renewed.issued["demo-etcd-1-server"].certPem).serialNumber.toLowerCase());
            expect(m.pid).to.equal(pid);
        });
    });
});
