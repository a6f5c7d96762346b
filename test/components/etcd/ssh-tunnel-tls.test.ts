// The providers' way in as production has it: through a real sshd (127.0.5.48) to an etcd member
// (127.0.5.45) secured as in production (mutual TLS on both ports, auth on, the certificates of a
// ClusterPki: test/support/secure-etcd.ts), as `deployer`. The tunnel dials 127.0.0.1, so the
// member is verified by a name its certificate holds besides its own IP (model/pki-plan.ts), and
// that name must not be an IP: grpc-js sends it as TLS server name, and Node warns (DEP0123) for
// an IP there (RFC 6066); components/etcd/etcd-client.ts verifies an IP member as localhost.
// ssh-tunnel.test.ts covers the tunnel itself (keys, sockets, errors) on plain etcd.
import { expect } from "chai";
import { spawn } from "child_process";
import { X509Certificate } from "crypto";
import * as path from "path";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../../support/secure-etcd";
import { startSshd, TestSshd } from "../../support/sshd";
import { failureOf } from "../../support/failure-of";
import { withEtcd } from "../../../components/etcd/etcd-client";
import { serviceRegistrationProvider as provider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";
import type { SshTunnelSpec } from "../../../model/types";

interface ProbeReport {
    got: { v3: string | null; v2: string | undefined };
    during: string[];
    control: string[];
}

/** Runs test/support/tls-name-probe.ts in a fresh Node process (see there why) with `input` on stdin. */
function probe(input: unknown): Promise<ProbeReport> {
    const root = path.resolve(__dirname, "../../..");
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "test/support/tls-name-probe.ts")], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.stdin.end(JSON.stringify(input));
    return new Promise((resolve, reject) =>
        child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as ProbeReport) : reject(new Error(`the probe exited ${code}: ${err}`)))),
    );
}

describe("SSH tunnel to an etcd member over mutual TLS with auth on (sshd 127.0.5.48, member 127.0.5.45)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    let sshd: TestSshd;
    let spec: SshTunnelSpec;
    let etcd: Etcd3;

    before(async () => {
        [cluster, sshd] = await Promise.all([startSecureEtcdCluster({ size: 1, firstAddress: "127.0.5.45", enableV2: true }), startSshd({ host: "127.0.5.48" })]);
        spec = { host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey };
        etcd = cluster.client("root"); // observes the whole keyspace
    });
    after(async () => {
        await Promise.all([cluster?.stop(), sshd?.stop()]);
    });

    it("the member's certificate names its IP, 127.0.0.1 and localhost, as production's do", () => {
        const sans = new X509Certificate(cluster.identity("rel-etcd-0-server").cert).subjectAltName ?? "";
        expect(sans).to.contain("IP Address:127.0.5.45").and.contain("IP Address:127.0.0.1").and.contain("DNS:localhost");
    });

    it("carries a ServiceRegistration create, read and delete as deployer, its v2 mirror included", async () => {
        const connection = cluster.connection("deployer", { sshTunnel: spec, timeoutMs: 5000, retries: 1 });
        expect(connection.endpoints).to.deep.equal(["https://127.0.5.45:2379"]);
        const checked = await provider.check!({}, {
            resourceName: "tunnelled", ownerKey: "tunnelled-owner", connection, service: "tunnelled", scheme: "http", hosts: ["10.4.1.1:80"], prefix: "/services/tt1", mirrorToV2: true,
            providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION,
        });
        expect(checked.failures ?? []).to.deep.equal([]);
        const { id, outs } = await provider.create(checked.inputs);
        expect(await etcd.getAll().prefix("/services/tt1/").strings()).to.deep.equal({ "/services/tt1/tunnelled/scheme": "http", "/services/tt1/tunnelled/hosts/0": "10.4.1.1:80" });
        expect((await cluster.v2("/services/tt1/tunnelled/hosts/0")).body.node.value).to.equal("10.4.1.1:80");
        expect((await provider.read!(id, outs)).props!.hosts).to.deep.equal(["10.4.1.1:80"]);
        await provider.delete!(id, outs);
        expect(await etcd.getAll().prefix("/services/tt1/").keys()).to.deep.equal([]);
        expect((await cluster.v2("/services/tt1/tunnelled/hosts/0")).status).to.equal(404);
    });

    it("the deployer's grant holds through the tunnel: a write outside the services prefix is refused", async () => {
        const connection = cluster.connection("deployer", { sshTunnel: spec, timeoutMs: 5000, retries: 0 });
        const err = await failureOf(withEtcd(connection, (s) => s.run("put", async (c) => c.put("/elsewhere/x").value("y").exec())));
        expect(err?.message).to.match(/rejected the credentials.*permission denied/);
        expect(await etcd.get("/elsewhere/x").string()).to.equal(null);
    });

    it("sets no IP as TLS server name on the way: no DEP0123 in a process that did nothing else", async () => {
        const connection = cluster.connection("deployer", { sshTunnel: spec, timeoutMs: 5000, retries: 1 });
        const report = await probe({ connection, key: "/services/tt2/probe", value: "through the tunnel" });
        expect(report.got).to.deep.equal({ v3: "through the tunnel", v2: "through the tunnel" });
        expect(report.during.filter((w) => w.startsWith("DEP0123")), "warnings of the tunnelled session").to.deep.equal([]);
        // Node warns once per process: this proves the session did not use up that warning, and that it is heard.
        expect(report.control.filter((w) => w.startsWith("DEP0123")), "the control's IP server name").to.have.length(1);
        expect(await etcd.get("/services/tt2/probe").string()).to.equal("through the tunnel");
    });

    it("still verifies the member's name through the tunnel: the peer port's certificate, which does not name localhost, is refused", async () => {
        // The peer port of the same member, same CA, client certificates required: only the name can fail.
        const connection = { ...cluster.connection("deployer", { sshTunnel: spec, timeoutMs: 3000, retries: 0 }), endpoints: ["https://127.0.5.45:2380"] };
        const err = await failureOf(withEtcd(connection, (s) => s.run("get", (c) => c.get("/services/x").string())));
        expect(err?.message).to.match(/Hostname\/IP does not match certificate's altnames: Host: localhost/);
    });
});
