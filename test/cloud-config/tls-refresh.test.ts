// The refresh that rolls new certificates onto a running VM (cloud-config/tls-refresh.ts): its units
// as text, and its script run by bash against a real 3-member etcd 3.4 with mutual TLS and the auth
// plan's users (a member's server certificate is its user; a worker reports as `sidekick`).
// systemctl is a recorder on PATH (no systemd here) and the fetch is a stand-in that unpacks a
// prepared payload as the real fetch script does (that script has its own test, tls-fetch.test.ts).
import { expect } from "chai";
import * as childProcess from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { encodeBundle } from "../../model/pki-delivery";
import { TLS_STATUS_PREFIX } from "../../model/etcd-auth";
import { ClusterPkiState, convergeForTest } from "../../components/pki/cluster-pki-provider";
import { SecureEtcdTestCluster, startSecureEtcdCluster } from "../support/secure-etcd";
import { phaseExpectations, planRollout, rolloutSlots } from "../../model/tls-rollout";
import { waitForPhase } from "../../components/gcp/tls-phase-wait-provider";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { tlsFetchPartsFor, planBundles } from "../../cloud-config/tls-fetch";
import { TLS_LOADED_CA_DIGEST, TLS_LOADED_CA_DROP_IN, TLS_REFRESH_ENV, TLS_REFRESH_PERIOD_S, tlsRefreshParts } from "../../cloud-config/tls-refresh";

const members = [0, 1, 2].map((i) => ({ name: `rf-etcd-${i}`, ip: `127.0.31.${10 + i}` }));
const endpoints = members.map((m) => `https://${m.ip}:2379`);
const bundles = planBundles("rf", members.map((m) => ({ name: m.name, privateIp: m.ip })));

function partsFor(holder: string) {
    const bundle = bundles.find((b) => b.holder === holder)!;
    const fetch = tlsFetchPartsFor(bundle, "coreos-cluster-dev");
    const member = members.find((m) => m.name === holder);
    const refresh = tlsRefreshParts(
        member
            ? { role: "member", self: member.name, memberClientUrls: endpoints, identity: `${member.name}-server`, restartUnits: ["fleet.service", "locksmithd.service"], etcdUnit: "etcd-member.service" }
            : { role: "worker", self: "", memberClientUrls: endpoints, identity: "sidekick", restartUnits: ["fleet.service", "locksmithd.service"] },
        fetch,
    );
    return { bundle, fetch, refresh };
}

describe("cloud-config/tls-refresh: certificates rolled onto a running machine", function () {
    this.timeout(120000);

    describe("the units as text", () => {
        it("a oneshot with the fetch's environment and its own, run by a timer; the script constant; bad values refused", () => {
            const { refresh, fetch } = partsFor("rf-etcd-1");
            const env = Object.fromEntries(serviceEnvironment(refresh.service.content!, "host").assignments.map((a) => [a.name, a.value]));
            const fetchEnv = Object.fromEntries(serviceEnvironment(fetch.unit.content!, "host").assignments.map((a) => [a.name, a.value]));
            expect(env).to.include(fetchEnv);
            expect(env).to.include({ [TLS_REFRESH_ENV.role]: "member", [TLS_REFRESH_ENV.self]: "rf-etcd-1", [TLS_REFRESH_ENV.identity]: "rf-etcd-1-server", [TLS_REFRESH_ENV.etcdUnit]: "etcd-member.service", [TLS_REFRESH_ENV.endpoints]: endpoints.join(",") });
            expect(refresh.service.content).to.match(/^Type=oneshot$/m);
            expect(refresh.timer.content).to.include(`OnUnitInactiveSec=${TLS_REFRESH_PERIOD_S}`);
            expect(refresh.timer.command).to.equal("start");
            expect(partsFor("worker").refresh.script.content).to.equal(refresh.script.content);
            expect(refresh.script.content).to.not.match(/\$(private|public)_ipv4/);
            expect(refresh.script.content).to.not.include("\\${");
            expect(TLS_LOADED_CA_DROP_IN.content).to.include("record-loaded-ca");
            expect(() => tlsRefreshParts({ role: "worker", self: "a;b", memberClientUrls: endpoints, identity: "sidekick", restartUnits: [] }, fetch)).to.throw(/name/);
            expect(() => tlsRefreshParts({ role: "worker", self: "", memberClientUrls: ["http://10.0.0.1:2379"], identity: "sidekick", restartUnits: [] }, fetch)).to.throw(/endpoint/);
            expect(() => tlsRefreshParts({ role: "worker", self: "", memberClientUrls: endpoints, identity: "sidekick", restartUnits: ["x; reboot"] }, fetch)).to.throw(/unit/);
        });
    });

    describe("the script against a real etcd with mutual TLS and auth", () => {
        let pki: ClusterPkiState;
        let cluster: SecureEtcdTestCluster;
        let root: Etcd3;
        let tmp: string;

        before(async () => {
            // Members, certificates and the auth plan (with the members as users) as production has them.
            cluster = await startSecureEtcdCluster({ size: 3, firstAddress: members[0].ip, clusterName: "rf" });
            pki = cluster.pki;
            root = cluster.client("root");
        });
        after(async () => {
            await cluster?.stop();
        });
        beforeEach(() => {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cc-tls-refresh-"));
        });
        afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

        /** A machine: its TLS dir, a stand-in fetch serving `payload`, a systemctl recorder; returns a runner. */
        function machine(holder: string, name: string) {
            const { bundle, refresh } = partsFor(holder);
            const home = path.join(tmp, name);
            const dir = path.join(home, "tls");
            const bin = path.join(home, "bin");
            fs.mkdirSync(bin, { recursive: true });
            const payloadFile = path.join(home, "payload");
            const log = path.join(home, "systemctl.log");
            // The stand-in fetch: unpacks name<TAB>base64 lines into $TLS_DIR and writes the payload's digest.
            fs.writeFileSync(
                path.join(bin, "coreos-tls-fetch"),
                `#!/bin/bash\nset -eu\nmkdir -p "$TLS_DIR"\nwhile IFS=$'\\t' read -r n c; do [ -n "$n" ] && printf '%s' "$c" | base64 -d > "$TLS_DIR/$n"; done < "${payloadFile}"\nsha256sum "${payloadFile}" | cut -c1-64 > "$TLS_DIR/.payload-sha256"\n`,
                { mode: 0o755 },
            );
            // systemctl: records each call with its start and end time; a restart takes a moment (and runs etcd's ExecStartPre).
            fs.writeFileSync(
                path.join(bin, "systemctl"),
                `#!/bin/bash\nstart=$(date +%s.%N)\nif [ "$1" = restart ]; then "$REFRESH_SCRIPT" record-loaded-ca; sleep 1.5; fi\necho "$start $(date +%s.%N) $*" >> "${log}"\n`,
                { mode: 0o755 },
            );
            const script = path.join(home, "coreos-tls-refresh");
            fs.writeFileSync(script, refresh.script.content, { mode: 0o755 });
            const env = {
                ...Object.fromEntries(serviceEnvironment(refresh.service.content!, name).assignments.map((a) => [a.name, a.value])),
                TLS_DIR: dir,
                TLS_FETCH_COMMAND: path.join(bin, "coreos-tls-fetch"),
                REFRESH_SCRIPT: script,
                PATH: `${bin}:${process.env.PATH}`,
            };
            const serve = (trust: string, leaves: ClusterPkiState) =>
                fs.writeFileSync(payloadFile, encodeBundle(trust, bundle.certificateIds.map((id) => ({ id, certPem: leaves.issued[id].certPem, keyPem: leaves.keys[id] }))));
            const run = (args: string[] = []) =>
                new Promise<{ code: number | null; stderr: string }>((resolve) => {
                    const child = childProcess.spawn("bash", [script, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
                    let stderr = "";
                    child.stderr.on("data", (d) => (stderr += d));
                    child.on("close", (code) => resolve({ code, stderr }));
                });
            const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => { const [s, e, ...rest] = l.split(" "); return { start: Number(s), end: Number(e), call: rest.join(" ") }; }) : []);
            const sha = (text: string) => crypto.createHash("sha256").update(text).digest("hex");
            /** A boot: the fetch, then etcd's ExecStartPre (its CA file as loaded). */
            const boot = async () => {
                childProcess.execFileSync(path.join(bin, "coreos-tls-fetch"), [], { env });
                expect((await run(["record-loaded-ca"])).code).to.equal(0);
            };
            const serveRaw = (payload: string) => fs.writeFileSync(payloadFile, payload);
            return { dir, serve, serveRaw, run, boot, calls, payload: () => fs.readFileSync(payloadFile, "utf8"), sha };
        }

        const report = async (name: string) => (await root.get(`${TLS_STATUS_PREFIX}/${name}`).string()) ?? undefined;

        it("a worker: fetches, try-restarts fleet and locksmith only when the bundle changed, and reports what it holds (as sidekick)", async () => {
            const w = machine("worker", "rf-worker-a");
            w.serve(pki.trustBundle, pki);
            // TLS_SELF is empty on a worker: the hostname names its report; here the env says it.
            let r = await w.run();
            expect(r.code, r.stderr).to.equal(0);
            const host = (childProcess.execFileSync("hostname", ["-s"], { encoding: "utf8" }) as string).trim();
            expect(await report(host)).to.equal(`payload=${w.sha(w.payload())} etcd-ca=-`);
            expect(w.calls().map((c) => c.call)).to.deep.equal(["try-restart fleet.service", "try-restart locksmithd.service"]);
            r = await w.run();
            expect(r.code, r.stderr).to.equal(0);
            expect(w.calls(), "an unchanged bundle restarts nothing").to.have.length(2);
            const lease = await root.get(`${TLS_STATUS_PREFIX}/${host}`).exec();
            expect(Number(lease.kvs[0].lease), "the report has a lease (a gone machine's report expires)").to.not.equal(0);
        });

        it("members with a new CA file restart etcd one at a time under the cluster's lock, then report the CA their etcd runs with", async () => {
            const ms = members.map((m) => machine(m.name, m.name));
            // Their etcd started with generation 1's CA file.
            for (const m of ms) {
                m.serve(pki.trustBundle, pki);
                await m.boot();
                expect((await m.run()).code).to.equal(0);
            }
            expect(ms.flatMap((m) => m.calls()).filter((c) => c.call.startsWith("restart")), "no restart for a first fetch of the same CA").to.deep.equal([]);
            // A trust-add phase: the new CA beside the old one, leaves unchanged.
            const next = convergeForTest({ ...pki, caGeneration: 2, trustPreviousCa: true }, pki, new Date());
            for (const m of ms) m.serve(next.trustBundle, pki);
            const results = await Promise.all(ms.map((m) => m.run()));
            results.forEach((r, i) => expect(r.code, `${members[i].name}: ${r.stderr}`).to.equal(0));
            const restarts = ms.map((m) => m.calls().find((c) => c.call === "restart etcd-member.service")!);
            restarts.forEach((c, i) => expect(c, `${members[i].name} restarted etcd`).to.not.equal(undefined));
            const sorted = [...restarts].sort((a, b) => a.start - b.start);
            for (let i = 1; i < sorted.length; i++) expect(sorted[i].start, "restarts never overlap").to.be.greaterThan(sorted[i - 1].end);
            for (const [i, m] of ms.entries()) {
                const caSha = m.sha(fs.readFileSync(path.join(m.dir, "ca.pem"), "utf8"));
                expect(fs.readFileSync(path.join(m.dir, TLS_LOADED_CA_DIGEST), "utf8").trim()).to.equal(caSha);
                expect(await report(members[i].name)).to.equal(`payload=${m.sha(m.payload())} etcd-ca=${caSha}`);
            }
        });

        it("the deployer's phase wait ends once every machine reports the phase, and names the machines that lag until then", async () => {
            const payloads = (state: ClusterPkiState) => ({
                ...Object.fromEntries(bundles.map((b) => [b.secretId, encodeBundle(state.trustBundle, b.certificateIds.map((id) => ({ id, certPem: state.issued[id].certPem, keyPem: state.keys[id] })))])),
            });
            const renewed = convergeForTest({ ...pki, leafGeneration: 2 }, pki, new Date());
            const slot = rolloutSlots(planRollout(payloads(pki), payloads(renewed)), payloads(renewed))[0];
            expect(slot).to.include({ name: "leaves", roll: true, restartMembers: false });
            const memberSecrets = Object.fromEntries(bundles.filter((b) => b.holder !== "worker").map((b) => [b.holder, b.secretId]));
            const workerSecret = bundles.find((b) => b.holder === "worker")!.secretId;
            const inputs = {
                providerVersion: "test",
                phase: slot.name,
                roll: true,
                expected: phaseExpectations(slot, memberSecrets, workerSecret),
                connection: { endpoints, tls: { ca: renewed.trustBundle, cert: renewed.issued.deployer.certPem, key: renewed.keys.deployer } },
                timeoutSeconds: 2,
                blindWaitSeconds: 0,
            };
            const ms = members.map((m) => machine(m.name, m.name));
            const w = machine("worker", "rf-worker-b");
            for (const [i, m] of ms.entries()) {
                m.serveRaw(slot.bundles[memberSecrets[members[i].name]]);
                await m.boot();
            }
            w.serveRaw(slot.bundles[workerSecret]);
            // Two members and the worker refresh; the third member does not yet.
            for (const m of [ms[0], ms[1], w]) expect((await m.run()).code).to.equal(0);
            const lagging = await waitForPhase(inputs, { pollMs: 200 }).then(() => "done", (e: Error) => e.message);
            expect(lagging).to.match(new RegExp(`not every machine holds the phase: ${members[2].name}: holds`));
            expect((await ms[2].run()).code).to.equal(0);
            expect(await waitForPhase({ ...inputs, timeoutSeconds: 20 }, { pollMs: 200 })).to.deep.equal([]);
        });

        it("a member does not restart etcd while another member is down (quorum), and says so", async () => {
            const m = machine(members[0].name, members[0].name);
            m.serve(pki.trustBundle, pki);
            await m.boot();
            const next = convergeForTest({ ...pki, caGeneration: 2, trustPreviousCa: true }, pki, new Date());
            m.serve(next.trustBundle, pki);
            await cluster.stopMember(2);
            try {
                const r = await m.run();
                expect(r.code).to.equal(0);
                expect(r.stderr).to.match(/not every member is healthy: not restarting etcd now/);
                expect(m.calls().filter((c) => c.call.startsWith("restart"))).to.deep.equal([]);
            } finally {
                await cluster.startMember(2);
            }
        });
    });
});
