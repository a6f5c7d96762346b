// Connection reuse and coalescing of ServiceRegistration creates/updates (127.0.5.60-62): creates
// arriving together on one connection share one etcd session and are written as one batch; a
// service refused among them fails only its own create; failures never leak the password. The etcd
// is secured as in production (mutual TLS, auth on: test/support/secure-etcd.ts) and the providers
// connect as `deployer`, so the prefixes are folders of /services, where that identity may write.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../../support/secure-etcd";
import { coalescedWriteStats, serviceRegistrationProvider as provider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";
import { EtcdConnectionArgs } from "../../../components/etcd/etcd-client";
import { closeIdleSharedSessions, connectionFingerprint, setSharedSessionIdleMs, sharedSessionStats, withSharedEtcd } from "../../../components/etcd/etcd-shared-sessions";

const requireFromString: (code: string) => any = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));

describe("ServiceRegistration: shared sessions and coalesced creates (127.0.5.60-62)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let connection: EtcdConnectionArgs;

    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.5.60", enableV2: true });
        etcd = cluster.client("root");
        connection = cluster.connection("deployer", { timeoutMs: 3000, retries: 1 });
    });
    after(async () => {
        await closeIdleSharedSessions();
        etcd?.close();
        await cluster?.stop();
    });

    async function checked(p: pulumi.dynamic.ResourceProvider, resourceName: string, fields: Record<string, unknown>) {
        const news = { resourceName, connection, providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION, ownerKey: `organization/coalesce/test/${resourceName}`, ...fields };
        const result = await p.check!({}, news);
        expect(result.failures ?? []).to.deep.equal([]);
        return result.inputs as Record<string, any>;
    }

    it("the connection fingerprint holds no secret in clear and changes with every credential", () => {
        const conn: EtcdConnectionArgs = {
            endpoints: ["https://10.0.0.1:2379"],
            username: "root",
            password: "pw-very-secret",
            tls: { ca: "CA", cert: "CERT", key: "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----" },
            sshTunnel: { host: "bastion", port: 22, username: "core", privateKey: "ssh-key-material" },
        };
        const fp = connectionFingerprint(conn);
        expect(fp).to.match(/^[0-9a-f]{64}$/);
        expect(connectionFingerprint({ ...conn })).to.equal(fp);
        expect(connectionFingerprint({ ...conn, password: "other" })).not.to.equal(fp);
        expect(connectionFingerprint({ ...conn, tls: { ...conn.tls, key: "other" } })).not.to.equal(fp);
        expect(connectionFingerprint({ ...conn, sshTunnel: { ...conn.sshTunnel!, privateKey: "other" } })).not.to.equal(fp);
        expect(connectionFingerprint({ ...conn, endpoints: ["https://10.0.0.2:2379"] })).not.to.equal(fp);
    });

    it("40 creates arriving together through the serialized provider share one session and are written in a few batches", async () => {
        const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        // The dynamic-provider host loads the provider text per resource: every copy shares the cache.
        const loaded = [requireFromString(serialized.text).handler(), requireFromString(serialized.text).handler()] as pulumi.dynamic.ResourceProvider[];
        await closeIdleSharedSessions();
        const sessionsBefore = sharedSessionStats();
        const writesBefore = coalescedWriteStats();
        const count = 40;
        const created = await Promise.all(
            Array.from({ length: count }, async (_, i) => {
                const p = loaded[i % loaded.length];
                const inputs = await checked(p, `c-${i}`, { service: `c-${i}`, scheme: "tcp", hosts: [`10.60.0.${i + 1}:80`], hostPort: 20000 + i, prefix: "/services/co1" });
                return p.create(inputs);
            }),
        );
        const sessionsAfter = sharedSessionStats();
        const writesAfter = coalescedWriteStats();
        expect(sessionsAfter.opened - sessionsBefore.opened, "sessions opened").to.equal(1);
        expect(writesAfter.services - writesBefore.services).to.equal(count);
        expect(writesAfter.batches - writesBefore.batches, "batches").to.be.at.most(4);
        expect(writesAfter.splits - writesBefore.splits).to.equal(0);
        expect(await etcd.getAll().prefix("/services/co1/").count()).to.equal(count * 3);
        expect(await etcd.getAll().prefix("/coreos-cluster/owners/services/co1/").count()).to.equal(count);
        created.forEach(({ id, outs }, i) => {
            expect(id).to.equal(`/services/co1/c-${i}@organization/coalesce/test/c-${i}`);
            expect(outs.ownedKeys).to.have.members([`/services/co1/c-${i}/scheme`, `/services/co1/c-${i}/hosts/0`, `/services/co1/c-${i}/host_port`]);
        });
        // Updates coalesce the same way and keep each resource's own owned keys.
        const updated = await Promise.all(created.map(({ id, outs }, i) => loaded[i % 2].update!(id, outs, { ...outs, hosts: [`10.61.0.${i + 1}:80`] })));
        updated.forEach(({ outs }, i) => expect(outs!.hosts).to.deep.equal([`10.61.0.${i + 1}:80`]));
        expect(await etcd.get("/services/co1/c-7/hosts/0").string()).to.equal("10.61.0.8:80");
        expect(sharedSessionStats().opened - sessionsBefore.opened, "sessions opened").to.equal(1);
        await Promise.all(created.map(({ id }, i) => loaded[i % 2].delete!(id, updated[i].outs)));
        expect(await etcd.getAll().prefix("/services/co1/").count()).to.equal(0);
    });

    it("one refused service among many fails only its own create; the others are written", async () => {
        await etcd.put("/services/co2/taken/scheme").value("http"); // written by another tool: no marker
        const names = Array.from({ length: 12 }, (_, i) => (i === 5 ? "taken" : `ok-${i}`));
        const before = coalescedWriteStats();
        const results = await Promise.allSettled(
            names.map(async (name) => provider.create(await checked(provider, `r-${name}`, { service: name, scheme: "http", hosts: ["10.62.0.1:80"], prefix: "/services/co2" }))),
        );
        const failed = results.map((r, i) => (r.status === "rejected" ? names[i] : undefined)).filter(Boolean);
        expect(failed).to.deep.equal(["taken"]);
        const err = (results[5] as PromiseRejectedResult).reason as Error;
        expect(err.message).to.match(/^ServiceRegistration "r-taken": /);
        expect(err.message).to.include("set adopt: true to take it over");
        expect(err.message).not.to.include("ok-");
        expect(coalescedWriteStats().splits - before.splits).to.be.at.least(1);
        expect(await etcd.getAll().prefix("/services/co2/taken/").strings()).to.deep.equal({ "/services/co2/taken/scheme": "http" });
        expect(await etcd.get("/coreos-cluster/owners/services/co2/taken").string()).to.equal(null);
        for (const name of names.filter((n) => n !== "taken")) expect(await etcd.get(`/services/co2/${name}/hosts/0`).string()).to.equal("10.62.0.1:80");
    });

    it("two resources registering the same service at once: one wins, the other is refused on its own", async () => {
        const results = await Promise.allSettled(
            ["dup-a", "dup-b"].map(async (r) => provider.create(await checked(provider, r, { service: "dup", scheme: "http", hosts: ["10.63.0.1:80"], prefix: "/services/co3" }))),
        );
        expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
        const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
        expect(refused.reason.message).to.match(/^ServiceRegistration "dup-[ab]": .*already registered by another owner/);
    });

    it("a shared session is reused while in use, closed after the idle timeout, and a refusal does not retire it", async () => {
        await closeIdleSharedSessions();
        const previous = setSharedSessionIdleMs(100);
        try {
            const start = sharedSessionStats();
            await Promise.all([1, 2, 3].map(() => withSharedEtcd(connection, (s) => s.run("get", (c) => c.get("/services/nothing").string()))));
            await withSharedEtcd(connection, async () => {
                throw new Error("refused for a reason of one service");
            }).catch(() => undefined);
            await withSharedEtcd(connection, (s) => s.run("get", (c) => c.get("/services/nothing").string()));
            const used = sharedSessionStats();
            expect(used.opened - start.opened).to.equal(1);
            expect(used.reused - start.reused).to.equal(4);
            await new Promise((r) => setTimeout(r, 300));
            expect(sharedSessionStats().closed - start.closed).to.equal(1);
        } finally {
            setSharedSessionIdleMs(previous);
        }
    });

    it("creates on an unreachable connection all fail naming the endpoints, without the password, and no session stays cached", async () => {
        const nowhere: EtcdConnectionArgs = { endpoints: ["http://127.0.5.69:2379"], timeoutMs: 500, retries: 0, username: "root", password: "pw-never-shown" };
        const results = await Promise.allSettled(
            ["u-1", "u-2", "u-3"].map(async (name) => provider.create({ ...(await checked(provider, name, { service: name, scheme: "http", hosts: [], prefix: "/services/co4" })), connection: nowhere })),
        );
        for (const [i, r] of results.entries()) {
            expect(r.status).to.equal("rejected");
            const message = ((r as PromiseRejectedResult).reason as Error).message;
            expect(message).to.match(new RegExp(`^ServiceRegistration "u-${i + 1}": `));
            expect(message).to.include("http://127.0.5.69:2379");
            expect(message).not.to.include("pw-never-shown");
        }
        const opened = sharedSessionStats().opened;
        // The failed session was retired: the next call opens a fresh one.
        await provider.create({ ...(await checked(provider, "u-4", { service: "u-4", scheme: "http", hosts: [], prefix: "/services/co4" })), connection: nowhere }).catch(() => undefined);
        expect(sharedSessionStats().opened).to.equal(opened + 1);
    });
});
