// The presence sidekick's registration against real etcd (Debian's etcd 3.4 on 127.0.15.x): the
// test takes the ExecStart/ExecStop values of the generated unit, undoes systemd's escaping
// (execArgv) and runs exactly that with bash and etcdctl, as systemd would on a CoreOS host.
// Only docker is replaced (a script printing what `docker port` prints), for the image form.
// The etcd is secured as in production (mutual TLS, auth on: test/support/secure-etcd.ts). The
// sidekick's environment is the unit's own Environment= lines, with the worker's TLS folder moved to
// a temp dir holding the worker's bundle (router, fleet and sidekick, as model/pki-delivery.ts
// delivers it): only the sidekick identity of that bundle may write the services prefix.
import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { encodeOwnerMarker } from "../../../model/service-keys";
import { encodeSetRecord, setRecordKey } from "../../../model/set-records";
import { certFile, keyFile, secretBundles, TLS_DIR, TRUST_BUNDLE_FILE } from "../../../model/pki-delivery";
import type { CertificateSpec } from "../../../model/pki-plan";
import { execArgv, FleetServiceSpec, sidekickMarker, sidekickTemplateOptions } from "../../../components/fleet/fleet-service-units";
import { SecureEtcdTestCluster, startSecureEtcdCluster } from "../../support/secure-etcd";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("FleetService presence sidekick against real etcd", function () {
    this.timeout(60000);
    let etcd: SecureEtcdTestCluster;
    let client: Etcd3;
    let bin: string;
    let tlsDir: string;
    const running: ChildProcess[] = [];
    const spec = (over: Partial<FleetServiceSpec> = {}): FleetServiceSpec => ({
        service: "web", prefix: "/services", scheme: "http", options: [{ section: "Service", name: "ExecStart", value: "/bin/web" }], instancePort: 8080,
        ttlSeconds: 3, etcdEndpoints: etcd.endpoints.join(","), ...over,
    });
    /** The unit's Environment= lines as systemd sets them, the worker's TLS folder moved to the test's. */
    const unitEnv = (s: FleetServiceSpec): Record<string, string> => {
        const lines = sidekickTemplateOptions(s).filter((o) => o.section === "Service" && o.name === "Environment").map((o) => o.value);
        return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).split(`${TLS_DIR}/`).join(`${tlsDir}/`)]));
    };
    const exec = (s: FleetServiceSpec, which: "ExecStart" | "ExecStop", instance: string) => {
        const [cmd, ...args] = execArgv(sidekickTemplateOptions(s).find((o) => o.name === which)!.value, instance);
        // PATH and /etc/environment's COREOS_PRIVATE_IPV4 (the unit's EnvironmentFile) come from the test.
        const env = { PATH: `${bin}:${process.env.PATH}`, COREOS_PRIVATE_IPV4: "10.9.8.7", ...unitEnv(s) };
        const child = spawn(cmd, args, { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        running.push(child);
        let stderr = "";
        child.stderr!.on("data", (c) => (stderr += c));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        return { child, exited, stderr: () => stderr };
    };
    const stop = (child: ChildProcess) => { if (child.exitCode === null && child.pid) { try { process.kill(-child.pid, "SIGKILL"); } catch { /* gone */ } } };
    const until = async (what: () => Promise<boolean>, ms: number) => {
        for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await what()) return true;
        return false;
    };

    before(async function () {
        if (spawnSync("etcdctl", ["version"]).status !== 0) throw new Error("etcdctl is missing: run scripts/install-system-deps.sh");
        etcd = await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.15.1" });
        client = etcd.client("root"); // observes, and plays a ServiceRegistration's writes
        bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
        fs.writeFileSync(path.join(bin, "docker"), "#!/bin/sh\n[ \"$1\" = port ] && echo 0.0.0.0:32769 && echo '[::]:32769'\n", { mode: 0o755 });
        // The worker's bundle, as the fetch unit leaves it: ca.pem, <id>.pem, <id>-key.pem (keys 0600).
        tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), "worker-tls-"));
        // secretBundles picks the worker's identities by id only.
        const worker = secretBundles("rel", [], Object.keys(etcd.pki.issued).map((id) => ({ id }) as CertificateSpec)).find((b) => b.holder === "worker")!;
        fs.writeFileSync(path.join(tlsDir, "ca.pem"), etcd.pki.trustBundle);
        for (const id of worker.certificateIds) {
            fs.writeFileSync(path.join(tlsDir, `${id}.pem`), etcd.identity(id).cert);
            fs.writeFileSync(path.join(tlsDir, `${id}-key.pem`), etcd.identity(id).key, { mode: 0o600 });
        }
    });
    afterEach(async () => {
        running.splice(0).forEach(stop);
        await client.delete().all();
    });
    after(async () => {
        client?.close();
        if (etcd) await etcd.stop();
        if (bin) fs.rmSync(bin, { recursive: true, force: true });
        if (tlsDir) fs.rmSync(tlsDir, { recursive: true, force: true });
    });

    it("dials the members over TLS as the sidekick identity, from the worker's bundle", () => {
        const env = unitEnv(spec());
        expect(env.ETCDCTL_ENDPOINTS).to.match(/^https:\/\/127\.0\.15\.1:2379$/);
        expect([env.ETCDCTL_CACERT, env.ETCDCTL_CERT, env.ETCDCTL_KEY]).to.deep.equal([TRUST_BUNDLE_FILE, certFile("sidekick"), keyFile("sidekick")].map((f) => f.replace(`${TLS_DIR}/`, `${tlsDir}/`)));
        for (const f of [env.ETCDCTL_CACERT, env.ETCDCTL_CERT, env.ETCDCTL_KEY]) expect(fs.existsSync(f), `${f} is in the worker's bundle`).to.equal(true);
    });

    it("registers hosts/<instance>, scheme and fleet's marker under one lease, and refreshes it before it expires", async () => {
        const side = exec(spec(), "ExecStart", "4");
        // The sidekick puts its keys one after another under its lease: wait until all three are there.
        const present = async () => (await Promise.all(["/services/web/hosts/4", "/services/web/scheme", sidekickMarker(spec()).key].map((k) => client.get(k).string()))).every((v) => v !== null);
        expect(await until(present, 10000), side.stderr()).to.equal(true);
        expect(await client.get("/services/web/hosts/4").string()).to.equal("10.9.8.7:8080");
        expect(await client.get("/services/web/scheme").string()).to.equal("http");
        expect(await client.get(sidekickMarker(spec()).key).string()).to.equal(sidekickMarker(spec()).value);
        const leaseOf = async () => (await client.get("/services/web/hosts/4").exec()).kvs[0]?.lease;
        const first = await leaseOf();
        expect(first).to.not.equal("0");
        await sleep(4500); // longer than the 3 s TTL: only a refresh keeps the key
        expect(await client.get("/services/web/hosts/4").string()).to.equal("10.9.8.7:8080");
        expect(await leaseOf()).to.not.equal(first);
    });

    it("a dead sidekick's key expires with its lease; ExecStop removes it at once", async () => {
        const a = exec(spec(), "ExecStart", "1");
        const b = exec(spec(), "ExecStart", "2");
        expect(await until(async () => (await client.getAll().prefix("/services/web/hosts/").keys()).length === 2, 10000), a.stderr() + b.stderr()).to.equal(true);
        stop(a.child); // killed: no ExecStop ran
        expect(await until(async () => (await client.get("/services/web/hosts/1").string()) === null, 8000)).to.equal(true);
        stop(b.child);
        const stopped = exec(spec(), "ExecStop", "2");
        expect(await stopped.exited, stopped.stderr()).to.equal(0);
        expect(await client.get("/services/web/hosts/2").string()).to.equal(null); // well before its lease ends
    });

    it("publishes the port docker reports for the image form, and host_port when declared", async () => {
        const side = exec(spec({ options: undefined, instancePort: undefined, image: "nginx:1.27", containerPort: 80, hostPort: 8443, scheme: "tcp" }), "ExecStart", "7");
        expect(await until(async () => (await client.get("/services/web/host_port").string()) !== null, 10000), side.stderr()).to.equal(true);
        expect(await client.get("/services/web/hosts/7").string()).to.equal("10.9.8.7:32769");
        expect(await client.get("/services/web/scheme").string()).to.equal("tcp");
    });

    it("refuses to announce a service a ServiceRegistration declared (its marker), and its ExecStop leaves that registration's keys alone", async () => {
        const declared = encodeOwnerMarker({ owner: "/services/web@org/proj/stack/web", keys: ["/services/web/scheme", "/services/web/hosts/1"] }, "/services/web");
        await client.put(sidekickMarker(spec()).key).value(declared);
        await client.put("/services/web/hosts/1").value("10.0.0.5:80");
        const side = exec(spec(), "ExecStart", "1");
        expect(await side.exited).to.equal(1);
        expect(side.stderr()).to.match(/\/services\/web is declared by another owner \(\{"owner":"\/services\/web@org\/proj\/stack\/web"/);
        const stopped = exec(spec(), "ExecStop", "1");
        expect(await stopped.exited).to.equal(0);
        expect(await client.get("/services/web/hosts/1").string()).to.equal("10.0.0.5:80");
        expect(await client.get(sidekickMarker(spec()).key).string()).to.equal(declared);
    });

    it("refuses to announce a service a ServiceRegistrationSet declared (a line of its record, no marker)", async () => {
        await client.delete().prefix("/services/web/");
        await client.delete().key(sidekickMarker(spec()).key);
        const record = setRecordKey("/services", "set:org/proj/stack/services", "abc-0");
        await client.put(record).value(encodeSetRecord("set:org/proj/stack/services", [["api", { since: "5", keys: ["scheme"] }], ["web", { since: "5", keys: ["hosts/0", "scheme"] }]]));
        await client.put("/services/web/scheme").value("http");
        await client.put("/services/web/hosts/0").value("10.0.0.6:80");
        try {
            const side = exec(spec(), "ExecStart", "1");
            expect(await side.exited).to.equal(1);
            expect(side.stderr()).to.include("/services/web is declared by a ServiceRegistrationSet");
            expect(await client.getAll().prefix("/services/web/").strings()).to.deep.equal({ "/services/web/scheme": "http", "/services/web/hosts/0": "10.0.0.6:80" });
            expect(await client.get(sidekickMarker(spec()).key).string(), "no marker written").to.equal(null);
        } finally {
            await client.delete().key(record);
            await client.delete().prefix("/services/web/");
        }
    });

    it("a set's record naming other services only is no claim on this one", async () => {
        const record = setRecordKey("/services", "set:org/proj/stack/services", "def-0");
        // "web-admin" starts with "web": the line must name the service exactly.
        await client.put(record).value(encodeSetRecord("set:org/proj/stack/services", [["web-admin", { since: "5", keys: ["scheme"] }]]));
        try {
            const side = exec(spec(), "ExecStart", "4");
            expect(await until(async () => (await client.get("/services/web/hosts/4").string()) !== null, 8000), side.stderr()).to.equal(true);
            stop(side.child);
        } finally {
            await client.delete().key(record);
            await client.delete().prefix("/services/web/");
            await client.delete().key(sidekickMarker(spec()).key);
        }
    });

    it("cannot announce outside the services prefix: the identity is the sidekick's, not root's", async () => {
        const outside = spec({ prefix: "/elsewhere" });
        const side = exec(outside, "ExecStart", "3");
        // The loop retries every 2 s while etcd refuses the marker read; give it two tries.
        expect(await until(async () => /permission denied/.test(side.stderr()), 8000), side.stderr()).to.equal(true);
        expect(await client.getAll().prefix("/elsewhere/").keys()).to.deep.equal([]);
        expect(await client.get(sidekickMarker(outside).key).string()).to.equal(null);
    });
});
