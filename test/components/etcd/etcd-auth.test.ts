// The trust boundary's etcd facts, on a real 3-member etcd (Debian's 3.4) with mutual TLS on both
// ports from ClusterPki's certificates, then v3 auth converged to model/etcd-auth.ts's plan:
// no answer without TLS, no TLS without a client certificate, each identity exactly its grants,
// the JSON gateway ignoring certificate names (the router's password), and `etcd gateway` carrying
// a client's own TLS end to end (the workers' local endpoint).
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { planCertificates } from "../../../model/pki-plan";
import { etcdPasswordFromKey, planEtcdAuth } from "../../../model/etcd-auth";
import { OWNER_NAMESPACE } from "../../../model/service-naming";
import { ClusterPkiState, convergeForTest } from "../../../components/pki/cluster-pki-provider";
import { CLUSTER_PKI_PROVIDER_VERSION } from "../../../components/provider-versions";
import { convergeEtcdAuth } from "../../../components/etcd/etcd-auth";
import { EtcdAccess, proxyAnswers, rangePrefix } from "../../../router/etcd-gateway";
import { EtcdTestCluster, startEtcdCluster } from "../../support/etcd-cluster";

const members = [0, 1, 2].map((i) => ({ name: `auth-etcd-${i}`, ip: `127.0.23.${10 + i}` }));

type Reply = { status?: number; text: string; error?: string };

function call(url: string, opts: https.RequestOptions = {}, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
    return new Promise((resolve) => {
        const transport = url.startsWith("https:") ? https : http;
        const req = transport.request(url, { method: body === undefined ? "GET" : "POST", timeout: 3000, agent: false, headers, ...opts }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c));
            res.on("end", () => resolve({ status: res.statusCode, text }));
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (err) => resolve({ text: "", error: err.message }));
        req.end(body);
    });
}

const b64 = (t: string) => Buffer.from(t, "utf8").toString("base64");

describe("components/etcd: mutual TLS and least-privilege auth on a real etcd 3.4", function () {
    this.timeout(90000);
    let pki: ClusterPkiState;
    let cluster: EtcdTestCluster;
    const clients: Etcd3[] = [];
    const tlsOf = (id: string) => ({ ca: pki.trustBundle, cert: pki.issued[id].certPem, key: pki.keys[id] });
    const client = (id: string, endpoint = `https://${members[0].ip}:2379`) => {
        const c = new Etcd3({ hosts: [endpoint], credentials: { rootCertificate: Buffer.from(pki.trustBundle), certChain: Buffer.from(pki.issued[id].certPem), privateKey: Buffer.from(pki.keys[id]) }, dialTimeout: 3000 });
        clients.push(c);
        return c;
    };
    const routerPassword = () => etcdPasswordFromKey("router", pki.keys.router);

    before(async () => {
        // Peers on one loopback dial from 127.0.0.1 (see test/components/pki/cluster-pki.test.ts).
        const specs = planCertificates(members).map((c) => (c.id.endsWith("-peer") ? { ...c, ipSans: [...c.ipSans, "127.0.0.1"] } : c));
        pki = convergeForTest(
            { providerVersion: CLUSTER_PKI_PROVIDER_VERSION, clusterName: "auth", certificates: specs, leafValidityDays: 30, renewBeforeDays: 5, caValidityDays: 60, caGeneration: 1, trustPreviousCa: true },
            undefined,
            new Date(),
        );
        cluster = await startEtcdCluster({
            size: 3,
            firstAddress: members[0].ip,
            clientPort: 2379,
            peerPort: 2380,
            enableV2: true,
            tls: { ca: pki.trustBundle, cert: "", key: "", clientCertAuth: true, clientCert: pki.issued.root.certPem, clientKey: pki.keys.root },
            memberTls: members.map((m) => ({ cert: pki.issued[`${m.name}-server`].certPem, key: pki.keys[`${m.name}-server`], peerCert: pki.issued[`${m.name}-peer`].certPem, peerKey: pki.keys[`${m.name}-peer`] })),
        });
    });
    after(async () => {
        await Promise.all(clients.map((c) => c.close()));
        await cluster?.stop();
    });

    it("answers nothing to plain HTTP and refuses TLS without a client certificate, on the client and the peer port", async () => {
        for (const port of [2379, 2380]) {
            const plain = await call(`http://${members[1].ip}:${port}/${port === 2379 ? "health" : "members"}`);
            expect(plain.status, `plain HTTP on ${port}`).to.equal(undefined);
            const noCert = await call(`https://${members[1].ip}:${port}/${port === 2379 ? "health" : "members"}`, { ca: pki.trustBundle });
            expect(noCert.status, `TLS without a certificate on ${port}`).to.equal(undefined);
            expect(noCert.error, `TLS without a certificate on ${port}`).to.match(/certificate|handshake|socket hang up|ECONNRESET/i);
            const withCert = await call(`https://${members[1].ip}:${port}/${port === 2379 ? "health" : "members"}`, tlsOf("router"));
            expect(withCert.status, `TLS with the CA's client certificate on ${port}`).to.equal(200);
        }
    });

    it("converges users and roles, turns auth on, and changes nothing the second time", async () => {
        const plan = planEtcdAuth("/services");
        const first = await convergeEtcdAuth(client("root"), plan, { router: routerPassword() });
        expect(first.changes).to.include("auth enabled");
        expect(first.changes).to.include("role services-read: granted read /services/");
        const second = await convergeEtcdAuth(client("root"), plan, { router: routerPassword() });
        expect(second.changes).to.deep.equal([]);
        expect(second.unmanaged).to.deep.equal([]);
        // A grant added by hand to a managed role is revoked again.
        await client("root").auth.roleGrantPermission({ name: "services-read", perm: { permType: "Readwrite", key: Buffer.from("/"), range_end: Buffer.from([0]) } });
        const third = await convergeEtcdAuth(client("root"), plan, { router: routerPassword() });
        expect(third.changes.join("\n")).to.match(/role services-read: revoked readwrite \//);
    });

    it("gives each identity exactly its grants (gRPC, the certificate's CN is the user)", async () => {
        await client("deployer").put("/services/web/hosts/a").value("10.0.0.1:80");
        await client("deployer").put(`${OWNER_NAMESPACE}/services/web`).value("{}");
        expect(Object.keys(await client("sidekick").getAll().prefix("/services/").strings())).to.deep.equal(["/services/web/hosts/a"]);
        // The router's certificate has no CN: over gRPC, without its password's token, it is nobody.
        let denied = await client("router").get("/services/web/hosts/a").then(() => "read", (e: Error) => e.message);
        expect(denied, "router over gRPC by certificate alone").to.match(/user name is empty|permission denied/);
        await client("sidekick").put("/services/web/hosts/c").value("10.0.0.3:80");
        // A sidekick keeps fleet's ownership marker alive (components/fleet/fleet-service-units.ts), but no other namespace.
        await client("sidekick").put(`${OWNER_NAMESPACE}/services/web`).value("{}");
        denied = await client("sidekick").put("/coreos-cluster/other").value("{}").then(() => "written", (e: Error) => e.message);
        expect(denied, "sidekick outside its grants").to.match(/permission denied/);
        await client("consumer").put(`${OWNER_NAMESPACE}/services/api`).value("{}");
        for (const id of ["sidekick", "deployer", "consumer"]) {
            denied = await client(id).get("/_coreos.com/fleet/x").then(() => "read", (e: Error) => e.message);
            expect(denied, `${id} outside its prefix`).to.match(/permission denied/);
        }
        // fleet's identity has no v3 user: v3 refuses it outright.
        denied = await client("fleet").get("/services/web/hosts/a").then(() => "read", (e: Error) => e.message);
        expect(denied, "fleet on v3").to.match(/user name not found|permission denied|invalid/i);
    });

    it("the JSON gateway refuses a certificate with a CN; the router (no CN) reads with its password's token, and still cannot write", async () => {
        const endpoint = `https://${members[2].ip}:2379`;
        const range = JSON.stringify({ key: b64("/services/"), range_end: b64("/services0") });
        const withCn = await call(`${endpoint}/v3/kv/range`, tlsOf("deployer"), range);
        expect(withCn.status).to.equal(400);
        expect(withCn.text).to.match(/CommonName of client sending a request against gateway will be ignored/);
        const byCertOnly = await call(`${endpoint}/v3/kv/range`, tlsOf("router"), range);
        expect(byCertOnly.status).to.not.equal(200);
        expect(byCertOnly.text).to.match(/user name is empty|permission denied/);
        const access: EtcdAccess = { tls: tlsOf("router"), user: "router", password: routerPassword() };
        const read = await rangePrefix([endpoint], "/services", 3000, access);
        expect([...read.keys.keys()].sort()).to.deep.equal(["/services/web/hosts/a", "/services/web/hosts/c"]);
        const token = JSON.parse((await call(`${endpoint}/v3/auth/authenticate`, tlsOf("router"), JSON.stringify({ name: "router", password: routerPassword() }))).text).token as string;
        const put = await call(`${endpoint}/v3/kv/put`, tlsOf("router"), JSON.stringify({ key: b64("/services/web/hosts/z"), value: b64("x") }), { authorization: token });
        expect(put.status).to.not.equal(200);
        expect(put.text).to.match(/permission denied/);
        const wrong = await rangePrefix([endpoint], "/services", 3000, { ...access, password: "not-the-password" }).then(() => "read", (e: Error) => e.message);
        expect(wrong).to.match(/authentication failed|invalid/i);
    });

    describe("etcd gateway (the workers' local endpoint) carries the client's TLS to the members", () => {
        let gateway: childProcess.ChildProcess | undefined;
        let port = 0;
        before(async () => {
            // A free loopback port for the gateway (it takes a fixed --listen-addr).
            port = await new Promise<number>((resolve) => {
                const s = require("net").createServer().listen(0, "127.0.0.1", () => {
                    const p = s.address().port;
                    s.close(() => resolve(p));
                });
            });
            const log = fs.openSync(path.join(os.tmpdir(), `etcd-gateway-test-${process.pid}.log`), "w");
            gateway = childProcess.spawn("etcd", ["gateway", "start", `--endpoints=${members.map((m) => `${m.ip}:2379`).join(",")}`, `--listen-addr=127.0.0.1:${port}`, "--retry-delay=1s"], { stdio: ["ignore", log, log] });
            fs.closeSync(log);
            const deadline = Date.now() + 10000;
            while (!(await proxyAnswers(`https://127.0.0.1:${port}`, 1000, { tls: tlsOf("fleet") }))) {
                if (Date.now() > deadline) throw new Error("the gateway did not carry a v2 read within 10 s");
                await new Promise((r) => setTimeout(r, 200));
            }
        });
        after(async () => {
            if (gateway && gateway.exitCode === null) {
                gateway.kill("SIGTERM");
                await new Promise((r) => gateway!.once("exit", r));
            }
            fs.rmSync(path.join(os.tmpdir(), `etcd-gateway-test-${process.pid}.log`), { force: true });
        });

        it("gives nothing without a certificate on its loopback port; v2 (fleet) and v3 (router) pass with one, under the member's own name check", async () => {
            const url = `127.0.0.1:${port}`;
            expect((await call(`http://${url}/v2/keys/`)).status, "plain HTTP through the gateway").to.equal(undefined);
            const noCert = await call(`https://${url}/v2/keys/`, { ca: pki.trustBundle });
            expect(noCert.status, "TLS without a certificate through the gateway").to.equal(undefined);
            // v2: no v3 roles apply (etcd's v2 auth is off): a certificate of the CA is the whole check.
            expect((await call(`https://${url}/v2/keys/fleet-probe?value=1`, { ...tlsOf("fleet"), method: "PUT" })).status).to.be.oneOf([200, 201]);
            // v3 through the gateway: gRPC as the sidekick identity (the member's certificate names 127.0.0.1) ...
            expect(await client("sidekick", `https://${url}`).get("/services/web/hosts/a").string()).to.equal("10.0.0.1:80");
            const denied = await client("sidekick", `https://${url}`).put("/coreos-cluster/x").value("y").then(() => "written", (e: Error) => e.message);
            expect(denied).to.match(/permission denied/);
            // ... and the router's JSON-gateway reads with its token.
            const read = await rangePrefix([`https://${url}`], "/services", 3000, { tls: tlsOf("router"), user: "router", password: routerPassword() });
            expect(read.keys.get("/services/web/hosts/a")?.value).to.equal("10.0.0.1:80");
        });
    });
});
