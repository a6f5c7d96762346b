import * as crypto from "crypto";
// The TLS fetch unit (cloud-config/tls-fetch.ts): its unit text, a script that is the same text for
// every machine, and the real script run by bash against a small fake of GCE's metadata server and of
// Secret Manager on 127.0.0.1 (the only place its two base URLs may be pointed at).
import { expect } from "chai";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { encodeBundle, secretBundles, TLS_DIR, TLS_FETCH_UNIT } from "../../model/pki-delivery";
import { planCertificates } from "../../model/pki-plan";
import { ROUTER_UNIT } from "../../model/router-contract";
import {
    etcdUserIdsOf,
    TLS_CONSUMER_DROP_IN,
    TLS_FETCH_CONTRACT,
    TLS_FETCH_ENV,
    TLS_FETCH_SCRIPT,
    TLS_FETCH_TEST_ENV,
    TLS_MANIFEST,
    TLS_PAYLOAD_DIGEST,
    tlsFetchParts,
    tlsFetchPartsFor,
    tlsFilesOf,
} from "../../cloud-config/tls-fetch";
import { serviceEnvironment } from "../../components/local/systemd-env";

const MEMBERS = [0, 1, 2].map((i) => ({ name: `demo-etcd-${i}`, ip: `10.0.0.${10 + i}` }));
const SPECS = planCertificates(MEMBERS);
const BUNDLES = secretBundles("demo", MEMBERS.map((m) => m.name), SPECS);
const memberBundle = BUNDLES.find((b) => b.holder === "demo-etcd-0")!;
const workerBundle = BUNDLES.find((b) => b.holder === "worker")!;

/** PEM-shaped stand-ins: what matters here is where each text lands, byte for byte. */
function payloadOf(certificateIds: string[], generation = 1): string {
    const pem = (kind: string, body: string) => `-----BEGIN ${kind}-----\n${Buffer.from(body).toString("base64")}\n-----END ${kind}-----\n`;
    return encodeBundle(
        pem("CERTIFICATE", `demo CA ${generation}`),
        certificateIds.map((id) => ({ id, certPem: pem("CERTIFICATE", `${id} cert ${generation}`), keyPem: pem("PRIVATE KEY", `${id} key ${generation}`) })),
    );
}

describe("cloud-config/tls-fetch: the unit that fetches a machine's certificates", () => {
    describe("the unit and the script as text", () => {
        it("renders the unit: oneshot, after the network, before every consumer, no start limit, values only as Environment=", () => {
            const { unit, script } = tlsFetchParts({ secretId: "demo-tls-demo-etcd-0", project: "coreos-cluster-dev", etcdUserIds: ["demo-etcd-0-server", "demo-etcd-0-peer"] });
            expect(unit.name).to.equal(TLS_FETCH_UNIT).and.to.equal("coreos-tls-fetch.service");
            expect(unit.command).to.equal("start");
            expect(unit.content).to.equal(
                [
                    "[Unit]",
                    "Description=Fetch this machine's etcd TLS bundle from Secret Manager (docs/gce.md, Certificates on GCE)",
                    "Wants=network-online.target",
                    "After=network-online.target",
                    "Before=etcd-member.service etcd2.service fleet.service locksmithd.service coreos-router.service",
                    "StartLimitIntervalSec=0",
                    "",
                    "[Service]",
                    'Environment="TLS_SECRET_ID=demo-tls-demo-etcd-0"',
                    'Environment="TLS_PROJECT=coreos-cluster-dev"',
                    'Environment="TLS_DIR=/etc/coreos-cluster/tls"',
                    'Environment="TLS_ETCD_USER_IDS=demo-etcd-0-server,demo-etcd-0-peer"',
                    "Type=oneshot",
                    "RemainAfterExit=yes",
                    "TimeoutStartSec=infinity",
                    "ExecStart=/opt/bin/coreos-tls-fetch",
                    "",
                ].join("\n"),
            );
            expect(script).to.include({ path: TLS_FETCH_SCRIPT, permissions: "0755", owner: "root:root" });
            expect(script.encoding).to.equal(undefined);
            expect(unit.content).to.include(ROUTER_UNIT);
        });

        it("systemd reads the unit's environment back as given (the way the local boot will)", () => {
            const { unit } = tlsFetchPartsFor(workerBundle, "coreos-cluster-prod");
            const env = Object.fromEntries(serviceEnvironment(unit.content!, "host").assignments.map((a) => [a.name, a.value]));
            expect(env).to.deep.equal({
                [TLS_FETCH_ENV.secretId]: "demo-tls-worker",
                [TLS_FETCH_ENV.project]: "coreos-cluster-prod",
                [TLS_FETCH_ENV.dir]: TLS_DIR,
                [TLS_FETCH_ENV.etcdUserIds]: "",
            });
        });

        it("the script is byte-identical for every secret, project and id list; only Environment= lines differ between units", () => {
            const a = tlsFetchParts({ secretId: "demo-tls-demo-etcd-0", project: "coreos-cluster-dev", etcdUserIds: ["demo-etcd-0-server"] });
            const b = tlsFetchParts({ secretId: "other_Cluster-tls-worker", project: "another-project-42", etcdUserIds: [] });
            const c = tlsFetchPartsFor(workerBundle, "coreos-cluster-prod");
            expect(a.script.content).to.equal(b.script.content).and.to.equal(c.script.content);
            const withoutEnv = (text: string) => text.split("\n").filter((l) => !l.startsWith("Environment=")).join("\n");
            expect(withoutEnv(a.unit.content!)).to.equal(withoutEnv(b.unit.content!)).and.to.equal(withoutEnv(c.unit.content!));
            for (const value of ["demo-tls-demo-etcd-0", "coreos-cluster-dev", "demo-etcd-0-server", "another-project-42"]) {
                expect(a.script.content, value).to.not.include(value);
            }
        });

        it("the script keeps bash's own ${...} (no JS escape left) and never names cloudinit's address variables", () => {
            const { script } = tlsFetchParts({ secretId: "s", project: "coreos-cluster-dev" });
            expect(script.content.startsWith("#!/bin/bash\n")).to.equal(true);
            expect(script.content).to.not.include("\\${");
            expect(script.content).to.include('secret="${TLS_SECRET_ID-}"');
            expect(script.content).to.not.match(/\$(private|public)_ipv[46]/);
            expect(spawnSync("bash", ["-n"], { input: script.content }).status, "bash -n").to.equal(0);
        });

        it("refuses values outside their grammar instead of quoting them into the unit", () => {
            for (const secretId of ["", 'a"b', "a b", "a\nb", "x".repeat(256), "tls/../x"]) {
                expect(() => tlsFetchParts({ secretId, project: "coreos-cluster-dev" }), JSON.stringify(secretId)).to.throw(/secret id/);
            }
            for (const project of ["Prod", "p", "has space", "ends-", '"quoted"']) {
                expect(() => tlsFetchParts({ secretId: "s", project }), project).to.throw(/project/);
            }
            for (const id of ["../etc", "a,b", "A", "-x"]) {
                expect(() => tlsFetchParts({ secretId: "s", project: "coreos-cluster-dev", etcdUserIds: [id] }), id).to.throw(/certificate id/);
            }
            // The local platform has no project: the unit says so, and only the real script refuses to run with it.
            expect(tlsFetchParts({ secretId: "s", project: "" }).unit.content).to.include('Environment="TLS_PROJECT="');
        });

        it("names the files etcd reads as the etcd user: a member's server and peer pair; none on a worker (its gateway holds no certificate)", () => {
            expect(etcdUserIdsOf(memberBundle)).to.deep.equal(["demo-etcd-0-server", "demo-etcd-0-peer"]);
            expect(etcdUserIdsOf(workerBundle)).to.deep.equal([]);
            const files = tlsFilesOf(payloadOf(memberBundle.certificateIds), etcdUserIdsOf(memberBundle));
            expect(files.map((f) => [f.name, f.mode, f.owner])).to.deep.equal([
                ["ca.pem", "0644", "root"],
                ["demo-etcd-0-peer-key.pem", "0600", "etcd"],
                ["demo-etcd-0-peer.pem", "0600", "etcd"],
                ["demo-etcd-0-server-key.pem", "0600", "etcd"],
                ["demo-etcd-0-server.pem", "0600", "etcd"],
                ["fleet-key.pem", "0600", "root"],
                ["fleet.pem", "0600", "root"],
            ]);
            expect(files[0].path).to.equal(`${TLS_DIR}/ca.pem`);
            // What the script refuses, this refuses too.
            const b64 = Buffer.from("x").toString("base64");
            expect(() => tlsFilesOf(payloadOf([]) + `ca.pem\t${b64}\n`, [])).to.throw(/repeats/);
            expect(() => tlsFilesOf(`x.pem\t${b64}\n`, [])).to.throw(/no ca\.pem/);
            expect(() => tlsFilesOf(payloadOf([]) + `../x.pem\t${b64}\n`, [])).to.throw(/not <file name>/);
        });

        it("gives consumers a drop-in that pulls the fetch in and waits for it, and describes the unit for the local platform", () => {
            expect(TLS_CONSUMER_DROP_IN.content).to.equal(`[Unit]\nWants=${TLS_FETCH_UNIT}\nAfter=${TLS_FETCH_UNIT}\n`);
            expect(TLS_FETCH_CONTRACT.unit).to.equal(TLS_FETCH_UNIT);
            expect(TLS_FETCH_CONTRACT.manifest).to.equal(TLS_MANIFEST);
            expect(Object.values(TLS_FETCH_CONTRACT.env)).to.deep.equal(Object.values(TLS_FETCH_ENV));
        });
    });

    describe("the script, run by bash against a fake metadata server and Secret Manager on 127.0.0.1", function () {
        this.timeout(60_000);
        const TOKEN = "ya29.fake-token_for.tests";
        const isRoot = process.getuid?.() === 0;
        const etcdUid = (() => {
            const r = spawnSync("id", ["-u", "etcd"], { encoding: "utf8" });
            return r.status === 0 ? Number(r.stdout.trim()) : undefined;
        })();

        interface Fake {
            /** Answer to the next secret requests: a status, or the payload to serve. */
            payload: string;
            failures: number;
            failStatus: number;
            requests: Array<{ path: string; headers: http.IncomingHttpHeaders }>;
        }
        let fake: Fake;
        let server: http.Server;
        let base: string;
        let tmp: string;
        let dir: string;

        before(async () => {
            server = http.createServer((req, res) => {
                fake.requests.push({ path: req.url ?? "", headers: req.headers });
                if (req.url === "/computeMetadata/v1/instance/service-accounts/default/token") {
                    if (req.headers["metadata-flavor"] !== "Google") return void res.writeHead(403).end("Missing Metadata-Flavor");
                    return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: TOKEN, expires_in: 3599, token_type: "Bearer" }));
                }
                const m = /^\/v1\/projects\/([^/]+)\/secrets\/([^/]+)\/versions\/latest:access$/.exec(req.url ?? "");
                if (!m) return void res.writeHead(404).end();
                if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
                if (fake.failures > 0) {
                    fake.failures--;
                    return void res.writeHead(fake.failStatus, { "content-type": "application/json" }).end('{"error": {"code": 503}}');
                }
                // Pretty-printed, as Google's APIs answer.
                const answer = { name: `projects/123456/secrets/${m[2]}/versions/7`, payload: { data: Buffer.from(fake.payload).toString("base64"), dataCrc32c: "3719012212" } };
                res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer, null, 2));
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => new Promise<void>((resolve) => server.close(() => resolve())));

        beforeEach(() => {
            fake = { payload: "", failures: 0, failStatus: 503, requests: [] };
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cc-tls-fetch-"));
            dir = path.join(tmp, "etc", "coreos-cluster", "tls");
        });
        afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

        /** Runs the script with its unit's environment (TLS_DIR moved under the temp dir) plus the test knobs. */
        function runFetch(bundle = memberBundle, knobs: Record<string, string> = {}): Promise<{ status: number | null; stderr: string }> {
            const { unit, script } = tlsFetchPartsFor(bundle, "coreos-cluster-dev");
            const file = path.join(tmp, "coreos-tls-fetch");
            fs.writeFileSync(file, script.content, { mode: 0o755 });
            const unitEnv = Object.fromEntries(serviceEnvironment(unit.content!, "host").assignments.map((a) => [a.name, a.value]));
            const env = {
                PATH: process.env.PATH ?? "/usr/bin:/bin",
                ...unitEnv,
                [TLS_FETCH_ENV.dir]: dir,
                [TLS_FETCH_TEST_ENV.metadataUrl]: base,
                [TLS_FETCH_TEST_ENV.secretManagerUrl]: base,
                [TLS_FETCH_TEST_ENV.backoffMs]: "20",
                ...knobs,
            };
            return new Promise((resolve) => {
                const child = spawn("bash", [file], { env, stdio: ["ignore", "ignore", "pipe"] });
                let stderr = "";
                child.stderr.on("data", (d) => (stderr += d));
                child.on("close", (status) => resolve({ status, stderr }));
            });
        }

        function expectFiles(bundle: typeof memberBundle, payload: string): void {
            const want = tlsFilesOf(payload, etcdUserIdsOf(bundle), dir);
            const pems = fs.readdirSync(dir).filter((f) => f.endsWith(".pem")).sort();
            expect(pems).to.deep.equal(want.map((f) => f.name));
            for (const f of want) {
                const st = fs.statSync(f.path);
                expect(fs.readFileSync(f.path, "utf8"), f.name).to.equal(f.content);
                expect((st.mode & 0o777).toString(8).padStart(4, "0"), `${f.name} mode`).to.equal(f.mode);
                const uid = isRoot ? (f.owner === "etcd" ? etcdUid : 0) : process.getuid!();
                expect(st.uid, `${f.name} owner`).to.equal(uid);
            }
            expect((fs.statSync(dir).mode & 0o777).toString(8)).to.equal("755");
            expect(fs.readFileSync(path.join(dir, TLS_MANIFEST), "utf8")).to.equal(want.map((f) => `${f.name}\n`).join(""));
            expect(fs.readFileSync(path.join(dir, TLS_PAYLOAD_DIGEST), "utf8"), "the payload's digest").to.equal(`${crypto.createHash("sha256").update(payload).digest("hex")}\n`);
            expect(fs.readdirSync(dir).filter((f) => f.startsWith(".stage")), "no staging left").to.deep.equal([]);
        }

        before(function () {
            if (isRoot && etcdUid === undefined) this.skip(); // as root the script needs an etcd user to own etcd's files
        });

        it("writes a member's bundle: the right bytes, 0644 ca.pem, 0600 keys and certs, etcd's pairs owned by etcd", async () => {
            fake.payload = payloadOf(memberBundle.certificateIds);
            const { status, stderr } = await runFetch(memberBundle);
            expect(status, stderr).to.equal(0);
            expectFiles(memberBundle, fake.payload);
            expect(fs.readFileSync(path.join(dir, "demo-etcd-0-server-key.pem"), "utf8")).to.include("BEGIN PRIVATE KEY");
        });

        it("asks the metadata server with Metadata-Flavor: Google, and Secret Manager with that token for latest of its own secret", async () => {
            fake.payload = payloadOf(workerBundle.certificateIds);
            const { status, stderr } = await runFetch(workerBundle);
            expect(status, stderr).to.equal(0);
            expectFiles(workerBundle, fake.payload);
            expect(fake.requests.map((r) => r.path)).to.deep.equal([
                "/computeMetadata/v1/instance/service-accounts/default/token",
                "/v1/projects/coreos-cluster-dev/secrets/demo-tls-worker/versions/latest:access",
            ]);
            expect(fake.requests[0].headers["metadata-flavor"]).to.equal("Google");
            expect(fake.requests[0].headers.authorization).to.equal(undefined);
            expect(fake.requests[1].headers.authorization).to.equal(`Bearer ${TOKEN}`);
            expect(fake.requests[1].headers["metadata-flavor"]).to.equal(undefined);
        });

        it("refuses a bundle with a hostile or malformed line as a whole: nothing written, nothing outside the directory", async () => {
            const good = payloadOf(memberBundle.certificateIds);
            const b64 = Buffer.from("x").toString("base64");
            const hostile = [
                `../x.pem\t${b64}\n`,
                `/tmp/x.pem\t${b64}\n`,
                `sub/x.pem\t${b64}\n`,
                `.hidden.pem\t${b64}\n`,
                `x.key\t${b64}\n`,
                `x.pem\t\t${b64}\n`,
                `x.pem\t${b64}\r\n`,
                `x.pem ${b64}\n`,
                `x.pem\tnot base64!\n`,
                `ca.pem\t${b64}\n`, // a second ca.pem
            ];
            for (const line of hostile) {
                fs.rmSync(tmp, { recursive: true, force: true });
                fs.mkdirSync(tmp);
                fake.payload = good + line;
                const { status, stderr } = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.maxAttempts]: "1" });
                expect(status, JSON.stringify(line)).to.equal(1);
                expect(stderr).to.match(/refusing/);
                expect(fs.readdirSync(dir).filter((f) => !f.startsWith(".stage")), JSON.stringify(line)).to.deep.equal([]);
                expect(fs.readdirSync(path.dirname(dir)), "nothing beside the directory").to.deep.equal(["tls"]);
                expect(fs.existsSync("/tmp/x.pem")).to.equal(false);
            }
            fake.payload = encodeBundle("ca", []).replace(/^ca\.pem/, "notca.pem");
            const { status, stderr } = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.maxAttempts]: "1" });
            expect(status).to.equal(1);
            expect(stderr).to.match(/no ca\.pem/);
        });

        it("keeps the certificates of an earlier boot when Secret Manager keeps failing, and still succeeds (static stability)", async () => {
            fake.payload = payloadOf(memberBundle.certificateIds);
            expect((await runFetch(memberBundle)).status).to.equal(0);
            const before = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));

            fake.failures = 1000;
            fake.requests = [];
            const { status, stderr } = await runFetch(memberBundle);
            expect(status, stderr).to.equal(0);
            expect(stderr).to.match(/keeping the certificates of an earlier boot/);
            expect(fake.requests.filter((r) => r.path.includes("latest:access"))).to.have.length(3);
            expect(Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]))).to.deep.equal(before);
            expectFiles(memberBundle, fake.payload);
        });

        it("keeps them too when nothing answers at all, or the bundle is refused", async () => {
            fake.payload = payloadOf(memberBundle.certificateIds);
            expect((await runFetch(memberBundle)).status).to.equal(0);
            const closed = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.metadataUrl]: "http://127.0.0.1:1", [TLS_FETCH_TEST_ENV.secretManagerUrl]: "http://127.0.0.1:1" });
            expect(closed.status, closed.stderr).to.equal(0);
            expect(closed.stderr).to.match(/did not answer/);
            const good = fake.payload;
            fake.payload = good + `../x.pem\t${Buffer.from("x").toString("base64")}\n`;
            const refused = await runFetch(memberBundle);
            expect(refused.status, refused.stderr).to.equal(0);
            expectFiles(memberBundle, good);
        });

        it("a new machine (autohealed at 3 a.m.) keeps trying through a Secret Manager outage and gets its files when it ends", async () => {
            fake.payload = payloadOf(workerBundle.certificateIds);
            fake.failures = 5;
            const { status, stderr } = await runFetch(workerBundle);
            expect(status, stderr).to.equal(0);
            expect(stderr.match(/attempt \d+ failed/g)).to.have.length(5);
            expectFiles(workerBundle, fake.payload);
        });

        it("says what to fix on 403 and 404, and (with a test limit) gives up without files", async () => {
            fake.failures = 10;
            fake.failStatus = 403;
            const denied = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.maxAttempts]: "2" });
            expect(denied.status).to.equal(1);
            expect(denied.stderr).to.match(/roles\/secretmanager\.secretAccessor/).and.to.match(/cloud-platform scope/);
            fake.failStatus = 404;
            const missing = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.maxAttempts]: "1" });
            expect(missing.stderr).to.match(/no secret demo-tls-demo-etcd-0/);
            expect(fs.readdirSync(dir).filter((f) => f.endsWith(".pem"))).to.deep.equal([]);
        });

        it("replaces renewed files and removes the files a new bundle no longer names", async () => {
            fake.payload = payloadOf([...memberBundle.certificateIds, "retired"]);
            expect((await runFetch(memberBundle)).status).to.equal(0);
            expect(fs.existsSync(path.join(dir, "retired-key.pem"))).to.equal(true);
            fake.payload = payloadOf(memberBundle.certificateIds, 2);
            const { status, stderr } = await runFetch(memberBundle);
            expect(status, stderr).to.equal(0);
            expectFiles(memberBundle, fake.payload);
            expect(fs.readFileSync(path.join(dir, "ca.pem"), "utf8")).to.include(Buffer.from("demo CA 2").toString("base64"));
        });

        it("points its base URLs nowhere but the real endpoints or 127.0.0.1, and refuses a bad environment before any request", async () => {
            for (const url of ["http://10.0.0.1:80", "https://evil.example", "http://127.0.0.1.evil.example:80", "http://localhost:8080"]) {
                const r = await runFetch(memberBundle, { [TLS_FETCH_TEST_ENV.metadataUrl]: url });
                expect(r.status, url).to.equal(2);
                expect(r.stderr).to.match(/may only point at 127\.0\.0\.1/);
            }
            for (const [name, value] of [
                [TLS_FETCH_ENV.secretId, "a/../b"],
                [TLS_FETCH_ENV.project, ""],
                [TLS_FETCH_ENV.dir, "/etc/../tmp"],
                [TLS_FETCH_ENV.etcdUserIds, "a;b"],
            ]) {
                const r = await runFetch(memberBundle, { [name]: value });
                expect(r.status, `${name}=${value}`).to.equal(2);
            }
            expect(fake.requests).to.deep.equal([]);
        });
    });
});
