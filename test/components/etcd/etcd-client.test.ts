// The etcd connection layer against real etcd: failover when a member stops, a clear error when
// quorum is lost, and credentials (etcd auth enabled on a dedicated single-member cluster).
import { expect } from "chai";
import { spawnSync } from "child_process";
import { Etcd3 } from "etcd3";
import { startEtcdCluster, EtcdTestCluster, requireEtcdBinaries, addToIPv4 } from "../../support/etcd-cluster";
import { EtcdConnectionArgs, withEtcd } from "../../../components/etcd/etcd-client";
import { serviceRegistrationProvider as provider } from "../../../components/services/service-registration";

async function checked(resourceName: string, fields: Record<string, unknown>) {
    const result = await provider.check!({}, { resourceName, ...fields });
    expect(result.failures ?? []).to.deep.equal([]);
    return result.inputs as Record<string, any>;
}

describe("etcd test harness", () => {
    it("fails fast with a clear message when etcd is not installed", () => {
        expect(() => requireEtcdBinaries("/nonexistent")).to.throw(/'etcd' is not on PATH.*scripts\/install-system-deps\.sh/);
        expect(() => requireEtcdBinaries()).not.to.throw();
    });

    it("hands out consecutive loopback addresses", () => {
        expect(addToIPv4("127.0.5.254", 3)).to.equal("127.0.6.1");
        expect(() => addToIPv4("127.0.5", 1)).to.throw(/not an IPv4 address/);
    });
});

describe("etcd connection: failover and quorum (127.0.5.20-22)", function () {
    this.timeout(90000);
    let cluster: EtcdTestCluster;
    let etcd: Etcd3;
    let connection: EtcdConnectionArgs;

    before(async () => {
        cluster = await startEtcdCluster({ size: 3, firstAddress: "127.0.5.20", enableV2: true });
        connection = { endpoints: cluster.endpoints, timeoutMs: 1500, retries: 1 };
    });
    beforeEach(() => {
        etcd = new Etcd3({ hosts: cluster.endpoints });
    });
    afterEach(async () => {
        etcd.close();
        for (let i = 0; i < cluster.members.length; i++) await cluster.startMember(i);
    });
    after(async () => {
        await cluster?.stop();
    });

    it("keeps working when the first endpoint's member stops mid-test (v3 and v2)", async () => {
        const inputs = await checked("failover", { connection, service: "failover", scheme: "http", hosts: ["10.2.0.1:80"], prefix: "/f1", mirrorToV2: true });
        const { id, outs } = await provider.create(inputs);
        await cluster.stopMember(0);
        expect(cluster.members[0].pid).to.equal(undefined);

        const news = { ...inputs, hosts: ["10.2.0.1:80", "10.2.0.2:80"] };
        const updated = await provider.update!(id, outs, news);
        const read = await provider.read!(id, updated.outs);
        expect(read.props!.hosts).to.deep.equal(["10.2.0.1:80", "10.2.0.2:80"]);
        expect(read.props!.v2InSync).to.equal(true);
        expect(await etcd.getAll().prefix("/f1/").strings()).to.deep.equal({ "/f1/failover/scheme": "http", "/f1/failover/hosts/0": "10.2.0.1:80", "/f1/failover/hosts/1": "10.2.0.2:80" });
        await provider.delete!(id, updated.outs);
        expect(await etcd.getAll().prefix("/f1/").keys()).to.deep.equal([]);
    });

    it("fails with an error naming the endpoints and saying quorum is lost when two of three members stop", async () => {
        const inputs = await checked("quorum", { connection, service: "quorum", scheme: "http", hosts: ["10.2.1.1:80"], prefix: "/f2" });
        await cluster.stopMember(0);
        await cluster.stopMember(1);
        let err: Error | undefined;
        await provider.create(inputs).catch((e) => (err = e));
        expect(err, "create must fail without quorum").to.be.instanceOf(Error);
        expect(err!.message).to.include('ServiceRegistration "quorum"');
        for (const endpoint of cluster.endpoints) expect(err!.message).to.include(endpoint);
        expect(err!.message).to.match(/lost quorum/);
        expect(err!.message).to.include("1500 ms timeout per call");

        await cluster.startMember(0);
        await cluster.startMember(1);
        expect(await etcd.getAll().prefix("/f2/").keys()).to.deep.equal([]);
        expect(await etcd.get("/coreos-cluster/owners/f2/quorum").string()).to.equal(null);
    });

    it("does not retry an error that is not transient (it names the endpoint and cause)", async () => {
        let err: Error | undefined;
        await withEtcd(connection, (s) => s.run("oversized transaction", (c) => c.kv.txn({ success: Array.from({ length: 129 }, (_, i) => ({ request_put: { key: Buffer.from(`/f3/${i}`), value: Buffer.from("x") } })) }))).catch(
            (e) => (err = e),
        );
        expect(err?.message).to.match(/etcd oversized transaction failed at http:\/\/127\.0\.5\.2\d:2379: .*too many operations/);
    });
});

describe("etcd connection: authentication (single member with auth, 127.0.5.30)", function () {
    this.timeout(60000);
    const rootPassword = "Corr3ct-Horse-Battery";
    let cluster: EtcdTestCluster;

    function etcdctl(...args: string[]) {
        const r = spawnSync("etcdctl", [`--endpoints=${cluster.endpoints[0]}`, ...args], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } });
        if (r.status !== 0) throw new Error(`etcdctl ${args[0]} failed: ${r.stderr}`);
        return r.stdout;
    }

    before(async () => {
        cluster = await startEtcdCluster({ size: 1, firstAddress: "127.0.5.30" });
        etcdctl("user", "add", "root", `--new-user-password=${rootPassword}`);
        etcdctl("auth", "enable");
    });
    after(async () => {
        await cluster?.stop();
    });

    const authed = (password: string): EtcdConnectionArgs => ({ endpoints: cluster.endpoints, username: "root", password, timeoutMs: 2000, retries: 1 });

    it("registers with the right credentials", async () => {
        const inputs = await checked("authed", { connection: authed(rootPassword), service: "authed", scheme: "http", hosts: ["10.3.0.1:80"], prefix: "/a1" });
        const { id, outs } = await provider.create(inputs);
        expect(etcdctl("--user", `root:${rootPassword}`, "get", "/a1/authed/hosts/0", "--print-value-only").trim()).to.equal("10.3.0.1:80");
        await provider.delete!(id, outs);
        expect(etcdctl("--user", `root:${rootPassword}`, "get", "--prefix", "/a1/").trim()).to.equal("");
    });

    it("wrong credentials: the error names the resource, endpoint and cause, never the password, and etcd is unchanged", async () => {
        const wrong = "Wr0ng-Password-123";
        const inputs = await checked("rejected", { connection: authed(wrong), service: "rejected", scheme: "http", hosts: ["10.3.0.2:80"], prefix: "/a2" });
        let err: Error | undefined;
        await provider.create(inputs).catch((e) => (err = e));
        expect(err?.message).to.include('ServiceRegistration "rejected"');
        expect(err?.message).to.include(cluster.endpoints[0]);
        expect(err?.message).to.include('rejected the credentials of user "root"');
        expect(err?.message).not.to.include(wrong);
        expect(err?.message).not.to.include(rootPassword);
        expect(etcdctl("--user", `root:${rootPassword}`, "get", "--prefix", "/", "--keys-only").trim()).to.equal("");
    });

    it("without credentials on an auth-enabled cluster: refused with a clear error", async () => {
        const inputs = await checked("anonymous", { connection: { endpoints: cluster.endpoints, timeoutMs: 2000, retries: 0 }, service: "anon", scheme: "http", hosts: ["10.3.0.3:80"], prefix: "/a3" });
        let err: Error | undefined;
        await provider.create(inputs).catch((e) => (err = e));
        expect(err?.message).to.match(/ServiceRegistration "anonymous": .*(user name is empty|permission denied|rejected the credentials)/);
    });
});
