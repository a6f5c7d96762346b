// The presence sidekick's registration against real etcd (Debian's etcd 3.4 on 127.0.15.x): the
// test takes the ExecStart/ExecStop values of the generated unit, undoes systemd's escaping
// (execArgv) and runs exactly that with bash and etcdctl, as systemd would on a CoreOS host.
// Only docker is replaced (a script printing what `docker port` prints), for the image form.
import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { encodeOwnerMarker } from "../../../model/service-keys";
import { execArgv, FleetServiceSpec, sidekickMarker, sidekickTemplateOptions } from "../../../components/fleet/fleet-service-units";
import { EtcdTestCluster, startEtcdCluster } from "../../support/etcd-cluster";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("FleetService presence sidekick against real etcd", function () {
    this.timeout(60000);
    let etcd: EtcdTestCluster;
    let client: Etcd3;
    let bin: string;
    const running: ChildProcess[] = [];
    const spec = (over: Partial<FleetServiceSpec> = {}): FleetServiceSpec => ({
        service: "web", prefix: "/services", scheme: "http", options: [{ section: "Service", name: "ExecStart", value: "/bin/web" }], instancePort: 8080,
        ttlSeconds: 3, etcdEndpoints: etcd.endpoints.join(","), ...over,
    });
    const exec = (s: FleetServiceSpec, which: "ExecStart" | "ExecStop", instance: string) => {
        const [cmd, ...args] = execArgv(sidekickTemplateOptions(s).find((o) => o.name === which)!.value, instance);
        const env = { PATH: `${bin}:${process.env.PATH}`, ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: s.etcdEndpoints, COREOS_PRIVATE_IPV4: "10.9.8.7" };
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
        etcd = await startEtcdCluster({ size: 1, firstAddress: "127.0.15.1" });
        client = new Etcd3({ hosts: etcd.endpoints });
        bin = fs.mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
        fs.writeFileSync(path.join(bin, "docker"), "#!/bin/sh\n[ \"$1\" = port ] && echo 0.0.0.0:32769 && echo '[::]:32769'\n", { mode: 0o755 });
    });
    afterEach(async () => {
        running.splice(0).forEach(stop);
        await client.delete().all();
    });
    after(async () => {
        client?.close();
        if (etcd) await etcd.stop();
        if (bin) fs.rmSync(bin, { recursive: true, force: true });
    });

    it("registers hosts/<instance>, scheme and fleet's marker under one lease, and refreshes it before it expires", async () => {
        const side = exec(spec(), "ExecStart", "4");
        expect(await until(async () => (await client.get("/services/web/hosts/4").string()) !== null, 10000), side.stderr()).to.equal(true);
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
});
