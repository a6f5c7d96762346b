// ServiceRegistration's provider against a real 3-member etcd cluster (Debian's etcd 3.4) on
// 127.0.5.10-12: create/read/update/delete, drift, ownership and adoption, v2 mirroring, bad input.
// The etcd is secured as in production (mutual TLS, auth on: test/support/secure-etcd.ts) and the
// provider connects as `deployer`, so the prefixes are folders of /services, where it may write;
// `root` observes and plays the other writers. v2 has no roles: its requests carry a certificate.
import { expect } from "chai";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../../support/secure-etcd";
import { serviceRegistrationProvider as provider, seedServices, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";
import { EtcdConnectionArgs } from "../../../components/etcd/etcd-client";

describe("ServiceRegistration provider against real etcd (127.0.5.10-12)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let connection: EtcdConnectionArgs;

    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.5.10", enableV2: true });
        etcd = cluster.client("root");
        connection = cluster.connection("deployer", { timeoutMs: 3000, retries: 1 });
    });
    after(async () => {
        etcd?.close();
        await cluster?.stop();
    });

    /** What the engine would pass after check(). */
    async function checked(resourceName: string, fields: Record<string, unknown>) {
        const news = { resourceName, connection, providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION, ...fields };
        const result = await provider.check!({}, news);
        expect(result.failures ?? []).to.deep.equal([]);
        return result.inputs as Record<string, any>;
    }
    const under = (prefix: string) => etcd.getAll().prefix(prefix).strings();
    const v2Get = (key: string) => cluster.v2(key);
    const v2Put = (key: string, value: string, member = 0) => cluster.v2(key, { method: "PUT", form: { value }, member });

    it("creates the exact key layout plus an owner marker outside the schema, and deletes them", async () => {
        const inputs = await checked("web", { service: "web", scheme: "tcp", hosts: ["10.0.0.1:8080", "10.0.0.2:8080"], hostPort: 8000, prefix: "/services/t1" });
        const { id, outs } = await provider.create(inputs);
        expect(await under("/services/t1/")).to.deep.equal({
            "/services/t1/web/scheme": "tcp",
            "/services/t1/web/hosts/0": "10.0.0.1:8080",
            "/services/t1/web/hosts/1": "10.0.0.2:8080",
            "/services/t1/web/host_port": "8000",
        });
        const marker = JSON.parse((await etcd.get("/coreos-cluster/owners/services/t1/web").string())!);
        expect(marker.owner).to.equal(id);
        expect(outs.ownedKeys).to.have.members(Object.keys(await under("/services/t1/")));
        expect(outs.providerVersion).to.equal(SERVICE_REGISTRATION_PROVIDER_VERSION);

        const read = await provider.read!(id, outs);
        expect(read.id).to.equal(id);
        expect((await provider.diff!(id, read.props, inputs)).changes).to.equal(false);

        await provider.delete!(id, outs);
        expect(await under("/services/t1/")).to.deep.equal({});
        expect(await etcd.get("/coreos-cluster/owners/services/t1/web").string()).to.equal(null);
    });

    it("updates hosts, host_port and scheme in place; name or prefix changes replace", async () => {
        const inputs = await checked("api", { service: "api", scheme: "http", hosts: ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"], hostPort: 8080, prefix: "/services/t2" });
        const { id, outs } = await provider.create(inputs);
        const news = await checked("api", { ...inputs, scheme: "tcp", hosts: ["10.0.1.9:81"], hostPort: 9090 });
        const diff = await provider.diff!(id, outs, news);
        expect(diff).to.include({ changes: true });
        expect(diff.replaces).to.deep.equal([]);
        const updated = await provider.update!(id, outs, news);
        expect(await under("/services/t2/")).to.deep.equal({ "/services/t2/api/scheme": "tcp", "/services/t2/api/hosts/0": "10.0.1.9:81", "/services/t2/api/host_port": "9090" });
        expect(updated.outs!.hosts).to.deep.equal(["10.0.1.9:81"]);
        expect(updated.outs!.ownedKeys).to.have.members(["/services/t2/api/scheme", "/services/t2/api/hosts/0", "/services/t2/api/host_port"]);

        expect((await provider.diff!(id, updated.outs, { ...news, service: "api2" })).replaces).to.deep.equal(["service"]);
        expect((await provider.diff!(id, updated.outs, { ...news, prefix: "/other" })).replaces).to.deep.equal(["prefix"]);
        await provider.delete!(id, updated.outs);
        expect(await under("/services/t2/")).to.deep.equal({});
    });

    it("reports drift on read (host changed, host removed, host_port removed) and the next update puts it back", async () => {
        const inputs = await checked("drift", { service: "drift", scheme: "tcp", hosts: ["10.0.2.1:80", "10.0.2.2:80", "10.0.2.3:80"], hostPort: 7000, prefix: "/services/t3" });
        const { id, outs } = await provider.create(inputs);
        await etcd.put("/services/t3/drift/hosts/0").value("10.9.9.9:80");
        await etcd.delete().key("/services/t3/drift/hosts/2");
        await etcd.delete().key("/services/t3/drift/host_port");

        const read = await provider.read!(id, outs);
        expect(read.props!.hosts).to.deep.equal(["10.9.9.9:80", "10.0.2.2:80"]);
        expect(read.props!.hostPort).to.equal(undefined);
        const diff = await provider.diff!(id, read.props, inputs);
        expect(diff.changes).to.equal(true);

        const repaired = await provider.update!(id, read.props, inputs);
        expect(await under("/services/t3/")).to.deep.equal({
            "/services/t3/drift/scheme": "tcp",
            "/services/t3/drift/hosts/0": "10.0.2.1:80",
            "/services/t3/drift/hosts/1": "10.0.2.2:80",
            "/services/t3/drift/hosts/2": "10.0.2.3:80",
            "/services/t3/drift/host_port": "7000",
        });
        expect((await provider.diff!(id, (await provider.read!(id, repaired.outs)).props, inputs)).changes).to.equal(false);
        await provider.delete!(id, repaired.outs);
    });

    it("read of a registration removed entirely by hand reports it gone", async () => {
        const inputs = await checked("gone", { service: "gone", scheme: "http", hosts: ["10.0.3.1:80"], prefix: "/services/t4" });
        const { id, outs } = await provider.create(inputs);
        await etcd.delete().prefix("/services/t4/");
        await etcd.delete().key("/coreos-cluster/owners/services/t4/gone");
        expect((await provider.read!(id, outs)).id).to.equal("");
    });

    it("delete leaves keys other writers added under the same service", async () => {
        const inputs = await checked("shared", { service: "shared", scheme: "http", hosts: ["10.0.4.1:80", "10.0.4.2:80"], prefix: "/services/t5" });
        const { id, outs } = await provider.create(inputs);
        await etcd.put("/services/t5/shared/hosts/sidekick-1").value("10.0.4.77:80");
        await etcd.put("/services/t5/shared/weight").value("3");
        await provider.delete!(id, outs);
        expect(await under("/services/t5/")).to.deep.equal({ "/services/t5/shared/hosts/sidekick-1": "10.0.4.77:80", "/services/t5/shared/weight": "3" });
    });

    it("refuses to take over a service registered by another tool or owner, unless adopt: true", async () => {
        await etcd.put("/services/t6/legacy/scheme").value("http");
        await etcd.put("/services/t6/legacy/hosts/0").value("10.0.5.1:80");
        const before = await under("/services/t6/");
        const inputs = await checked("legacy", { service: "legacy", scheme: "http", hosts: ["10.0.5.2:80"], prefix: "/services/t6" });
        let refusal: Error | undefined;
        await provider.create(inputs).catch((e) => (refusal = e));
        expect(refusal?.message).to.match(/ServiceRegistration "legacy": \/services\/t6\/legacy already has keys in etcd with no owner marker.*adopt: true/);
        expect(await under("/services/t6/")).to.deep.equal(before);
        expect(await etcd.get("/coreos-cluster/owners/services/t6/legacy").string()).to.equal(null);

        const adopter = await provider.create({ ...inputs, adopt: true });
        expect(await under("/services/t6/")).to.deep.equal({ "/services/t6/legacy/scheme": "http", "/services/t6/legacy/hosts/0": "10.0.5.2:80" });

        // A second resource for the same service is refused: the marker names the first.
        const rival = await checked("legacy-copy", { service: "legacy", scheme: "http", hosts: ["10.0.5.3:80", "10.0.5.4:80"], prefix: "/services/t6" });
        let second: Error | undefined;
        await provider.create(rival).catch((e) => (second = e));
        expect(second?.message).to.include(`already registered by another owner (${adopter.id}`);
        expect(await under("/services/t6/")).to.deep.equal({ "/services/t6/legacy/scheme": "http", "/services/t6/legacy/hosts/0": "10.0.5.2:80" });

        // With adopt it takes over; the first owner's delete then leaves the service alone.
        const taker = await provider.create({ ...rival, adopt: true });
        await provider.delete!(adopter.id, adopter.outs);
        expect(await under("/services/t6/")).to.deep.equal({ "/services/t6/legacy/scheme": "http", "/services/t6/legacy/hosts/0": "10.0.5.3:80", "/services/t6/legacy/hosts/1": "10.0.5.4:80" });
        await provider.delete!(taker.id, taker.outs);
        expect(await under("/services/t6/")).to.deep.equal({});
    });

    it("mirrors the same layout into the v2 keyspace, which stays separate from v3", async () => {
        const inputs = await checked("mirror", { service: "mirror", scheme: "tcp", hosts: ["10.0.6.1:5432"], hostPort: 5432, prefix: "/services/t7", mirrorToV2: true });
        const { id, outs } = await provider.create(inputs);
        expect((await v2Get("/services/t7/mirror/scheme")).body.node.value).to.equal("tcp");
        expect((await v2Get("/services/t7/mirror/hosts/0")).body.node.value).to.equal("10.0.6.1:5432");
        expect((await v2Get("/services/t7/mirror/host_port")).body.node.value).to.equal("5432");
        expect(await under("/services/t7/")).to.have.keys("/services/t7/mirror/scheme", "/services/t7/mirror/hosts/0", "/services/t7/mirror/host_port");

        // Separate keyspaces: a v3-only key is invisible to v2, a v2-only key invisible to v3.
        await etcd.put("/services/t7/v3only").value("x");
        expect((await v2Get("/services/t7/v3only")).status).to.equal(404);
        await v2Put("/services/t7/v2only", "y", 1);
        expect(await etcd.get("/services/t7/v2only").string()).to.equal(null);

        // v2 drift is seen by read and repaired by update.
        await v2Put("/services/t7/mirror/hosts/0", "10.6.6.6:1");
        const read = await provider.read!(id, outs);
        expect(read.props!.v2InSync).to.equal(false);
        expect((await provider.diff!(id, read.props, inputs)).changes).to.equal(true);
        const repaired = await provider.update!(id, read.props, inputs);
        expect((await v2Get("/services/t7/mirror/hosts/0")).body.node.value).to.equal("10.0.6.1:5432");

        await provider.delete!(id, repaired.outs);
        expect((await v2Get("/services/t7/mirror/scheme")).status).to.equal(404);
        expect((await v2Get("/services/t7/mirror")).status).to.equal(404);
        expect((await v2Get("/services/t7/v2only")).status).to.equal(200);
        expect(await under("/services/t7/")).to.deep.equal({ "/services/t7/v3only": "x" });
    });

    it("turning mirroring off removes the v2 copy and keeps v3", async () => {
        const inputs = await checked("toggle", { service: "toggle", scheme: "http", hosts: ["10.0.7.1:80"], prefix: "/services/t8", mirrorToV2: true });
        const { id, outs } = await provider.create(inputs);
        const off = await provider.update!(id, outs, { ...inputs, mirrorToV2: false });
        expect((await v2Get("/services/t8/toggle/scheme")).status).to.equal(404);
        expect(await under("/services/t8/")).to.have.keys("/services/t8/toggle/scheme", "/services/t8/toggle/hosts/0");
        await provider.delete!(id, off.outs);
    });

    it("check names the resource and field of malformed input, and create refuses it leaving etcd unchanged", async () => {
        const news = { resourceName: "bad", connection, service: "bad", scheme: "http", hosts: ["10.0.8.1:80", "10.0.8.1"], prefix: "/services/t9" };
        const result = await provider.check!({}, news);
        expect(result.failures).to.deep.equal([{ property: "hosts", reason: 'ServiceRegistration "bad": hosts[1] "10.0.8.1" is not ip:port (a canonical IPv4 address and a port 1-65535, e.g. 10.10.0.5:8080)' }]);
        const tcp = await provider.check!({}, { ...news, hosts: ["10.0.8.1:80"], scheme: "tcp" });
        expect(tcp.failures!.map((f) => f.reason)).to.deep.equal(['ServiceRegistration "bad": hostPort is required when scheme is tcp (the port the service is published on)']);
        const badEndpoint = await provider.check!({}, { ...news, hosts: ["10.0.8.1:80"], connection: { endpoints: ["127.0.5.10"] , password: "x" } });
        expect(badEndpoint.failures!.map((f) => f.property)).to.deep.equal(["connection"]);
        expect(badEndpoint.failures!.map((f) => f.reason).join()).not.to.include('"x"');

        let err: Error | undefined;
        await provider.create({ ...news, mirrorToV2: false, adopt: false }).catch((e) => (err = e));
        expect(err?.message).to.match(/^ServiceRegistration "bad": hosts\[1\]/);
        expect(await under("/services/t9/")).to.deep.equal({});
        expect(await etcd.getAll().prefix("/coreos-cluster/owners/services/t9/").keys()).to.deep.equal([]);
    });

    it("unreachable endpoints: a clear error naming them, within the configured retries, nothing written", async () => {
        // The production shape (https, the deployer's certificate), plus a password: none of the secrets may show.
        const tls = cluster.identity("deployer");
        const nowhere: EtcdConnectionArgs = { endpoints: ["https://127.0.5.19:2379", "https://127.0.5.18:2379"], tls, timeoutMs: 1000, retries: 1, password: "pw-never-shown", username: "root" };
        const inputs = await checked("lost", { service: "lost", scheme: "http", hosts: ["10.0.9.1:80"], prefix: "/services/t10" });
        let err: Error | undefined;
        await provider.create({ ...inputs, connection: nowhere }).catch((e) => (err = e));
        expect(err?.message).to.include('ServiceRegistration "lost"');
        expect(err?.message).to.include("https://127.0.5.19:2379");
        expect(err?.message).to.include("https://127.0.5.18:2379");
        expect(err?.message).to.include("no endpoint is reachable");
        expect(err?.message).not.to.include("pw-never-shown");
        for (const line of tls.key.split("\n").filter((l) => l.length > 16 && !l.startsWith("-----"))) expect(err!.message).not.to.include(line);
        expect(await under("/services/t10/")).to.deep.equal({});
    });

    it("seedServices writes many services in batched transactions, each service whole, through the create path", async () => {
        const services = Array.from({ length: 150 }, (_, i) => ({ service: `svc-${i}`, scheme: "tcp" as const, hosts: [`10.1.${i % 250}.1:80`, `10.1.${i % 250}.2:80`], hostPort: 10000 + i }));
        const seeded = await seedServices(connection, services, "/services/t11");
        expect(seeded).to.have.length(150);
        const keys = await under("/services/t11/");
        expect(Object.keys(keys)).to.have.length(150 * 4);
        expect(keys["/services/t11/svc-149/host_port"]).to.equal("10149");
        expect(await etcd.getAll().prefix("/coreos-cluster/owners/services/t11/").count()).to.equal(150);
        // Seeding again is refused service by service: they are owned now.
        let err: Error | undefined;
        await seedServices(connection, services.slice(0, 2), "/services/t11").catch((e) => (err = e));
        expect(err?.message).to.match(/svc-0 is already registered by another owner[\s\S]*svc-1 is already registered/);
    });

    it("a create run again by the same resource after its result was lost converges to exactly the declared keys; another resource is still refused", async () => {
        const ownerKey = "organization/shop/dev/again";
        const inputs = await checked("again", { ownerKey, service: "again", scheme: "http", hosts: ["10.0.14.1:80", "10.0.14.2:80", "10.0.14.3:80"], prefix: "/services/t13" });
        const first = await provider.create(inputs);
        expect(first.id).to.equal("/services/t13/again@organization/shop/dev/again");
        await etcd.put("/services/t13/again/weight").value("3"); // another writer's key: never touched

        // The engine lost `first` (killed before saving it) and runs the create again, hosts since shrunk.
        const second = await provider.create({ ...inputs, hosts: ["10.0.14.9:80"] });
        expect(second.id).to.equal(first.id);
        expect(await under("/services/t13/")).to.deep.equal({ "/services/t13/again/scheme": "http", "/services/t13/again/hosts/0": "10.0.14.9:80", "/services/t13/again/weight": "3" });
        expect(second.outs.ownedKeys).to.have.members(["/services/t13/again/scheme", "/services/t13/again/hosts/0"]);
        expect(JSON.parse((await etcd.get("/coreos-cluster/owners/services/t13/again").string())!)).to.deep.equal({ owner: first.id, relativeKeys: ["hosts/0", "scheme"] });

        // A different resource (another stack's) for the same service is refused and writes nothing.
        const rival = await checked("again", { ...inputs, ownerKey: "organization/shop/prod/again" });
        const before = await under("/");
        let refusal: Error | undefined;
        await provider.create(rival).catch((e) => (refusal = e));
        expect(refusal?.message).to.include(`/services/t13/again is already registered by another owner (${first.id} at /coreos-cluster/owners/services/t13/again); set adopt: true`);
        expect(await under("/")).to.deep.equal(before);

        await provider.delete!(second.id, second.outs);
        expect(await under("/services/t13/")).to.deep.equal({ "/services/t13/again/weight": "3" });
        expect(await etcd.get("/coreos-cluster/owners/services/t13/again").string()).to.equal(null);
        const bad = await provider.check!({}, { ...inputs, ownerKey: "" });
        expect(bad.failures!.map((f) => f.reason)).to.deep.equal(['ServiceRegistration "again": ownerKey must be a non-empty string (the resource\'s owner identity)']);
    });

    it("read by id with only the inputs (a recovered create) owns what the marker lists, v2 copies included; update and delete then clean up", async () => {
        const inputs = await checked("recovered", { ownerKey: "organization/shop/dev/recovered", service: "recovered", scheme: "tcp", hosts: ["10.0.15.1:80", "10.0.15.2:80"], hostPort: 6000, prefix: "/services/t14", mirrorToV2: true });
        const { id, outs } = await provider.create(inputs);
        const recovered = (await provider.read!(id, inputs)).props as Record<string, any>;
        expect(recovered.ownedKeys).to.have.members(outs.ownedKeys);
        expect(recovered.mirroredKeys).to.have.members(outs.mirroredKeys);
        expect(recovered.v2InSync).to.equal(true);
        expect((await provider.diff!(id, recovered, inputs)).changes).to.equal(false);

        // Someone else's marker: read by id owns nothing.
        const stranger = (await provider.read!("/services/t14/recovered@organization/shop/dev/other", inputs)).props as Record<string, any>;
        expect(stranger.ownedKeys).to.deep.equal([]);

        const shrunk = await provider.update!(id, recovered, { ...inputs, hosts: ["10.0.15.1:80"] });
        expect(await under("/services/t14/")).to.deep.equal({ "/services/t14/recovered/scheme": "tcp", "/services/t14/recovered/hosts/0": "10.0.15.1:80", "/services/t14/recovered/host_port": "6000" });
        expect((await v2Get("/services/t14/recovered/hosts/1")).status).to.equal(404);
        await provider.delete!(id, shrunk.outs);
        expect(await under("/services/t14/")).to.deep.equal({});
        expect((await v2Get("/services/t14/recovered")).status).to.equal(404);
    });

    it("state written by provider 1.0.0 (random id, no ownerKey) keeps working: update keeps that owner, delete removes what the marker lists", async () => {
        const legacyInputs = await checked("legacy-state", { service: "oldstate", scheme: "http", hosts: ["10.0.16.1:80", "10.0.16.2:80"], prefix: "/services/t15", providerVersion: "1.0.0" });
        const { id, outs } = await provider.create(legacyInputs);
        expect(id).to.match(/^\/services\/t15\/oldstate@[0-9a-f-]{36}$/);
        // The program now sends an ownerKey and the new provider version: an update, same id and owner.
        const news = await checked("legacy-state", { ...legacyInputs, ownerKey: "organization/shop/dev/legacy-state", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
        expect((await provider.diff!(id, outs, news)).replaces).to.deep.equal([]);
        const updated = await provider.update!(id, outs, news);
        expect(JSON.parse((await etcd.get("/coreos-cluster/owners/services/t15/oldstate").string())!).owner).to.equal(id);
        // A 1.0.0 refresh by id recorded no owned keys; delete still removes every key the marker lists.
        await provider.delete!(id, { ...updated.outs, ownedKeys: [] });
        expect(await under("/services/t15/")).to.deep.equal({});
        expect(await etcd.get("/coreos-cluster/owners/services/t15/oldstate").string()).to.equal(null);
    });

    it("a marker in the format of providers up to 1.2.0 (absolute keys) is still its owner's record: refresh, update and delete use it", async () => {
        const inputs = await checked("old-marker", { service: "oldmarker", scheme: "http", hosts: ["10.0.17.1:80", "10.0.17.2:80"], prefix: "/services/t16" });
        const { id, outs } = await provider.create(inputs);
        // As provider 1.2.0 wrote it: the same owner, absolute keys.
        await etcd.put("/coreos-cluster/owners/services/t16/oldmarker").value(JSON.stringify({ owner: id, keys: ["/services/t16/oldmarker/hosts/0", "/services/t16/oldmarker/hosts/1", "/services/t16/oldmarker/scheme"] }));
        const read = (await provider.read!(id, { ...outs, ownedKeys: [] })).props as Record<string, any>;
        expect(read.ownedKeys, "ownership comes back from the old marker").to.have.members(["/services/t16/oldmarker/scheme", "/services/t16/oldmarker/hosts/0", "/services/t16/oldmarker/hosts/1"]);
        const updated = await provider.update!(id, read, { ...inputs, hosts: ["10.0.17.1:80"] });
        expect(await under("/services/t16/"), "the host dropped is removed").to.deep.equal({ "/services/t16/oldmarker/scheme": "http", "/services/t16/oldmarker/hosts/0": "10.0.17.1:80" });
        expect(JSON.parse((await etcd.get("/coreos-cluster/owners/services/t16/oldmarker").string())!), "rewritten in the current format").to.deep.equal({ owner: id, relativeKeys: ["hosts/0", "scheme"] });
        await provider.delete!(id, updated.outs);
        expect(await under("/services/t16/")).to.deep.equal({});
    });

    it("when the v2 mirror fails after the v3 transaction, v3 is rolled back to exactly what it was", async () => {
        const legacy = { "/services/t12/legacy/scheme": "http", "/services/t12/legacy/hosts/0": "10.0.12.1:80", "/services/t12/legacy/hosts/1": "10.0.12.2:80" };
        for (const [k, v] of Object.entries(legacy)) await etcd.put(k).value(v);
        // In v2, make "hosts" a plain key: putting hosts/0 under it is refused ("Not a directory").
        await v2Put("/services/t12/legacy/hosts", "not-a-dir");
        const inputs = await checked("rollback", { service: "legacy", scheme: "tcp", hosts: ["10.0.12.9:80"], hostPort: 9000, prefix: "/services/t12", mirrorToV2: true, adopt: true });
        let err: Error | undefined;
        await provider.create(inputs).catch((e) => (err = e));
        expect(err?.message).to.match(/ServiceRegistration "rollback": mirroring to the v2 keyspace failed \(v2 put \/services\/t12\/legacy\/hosts\/0 answered HTTP 400: Not a directory\); the changes were rolled back/);
        expect(await under("/services/t12/")).to.deep.equal(legacy);
        expect(await etcd.get("/coreos-cluster/owners/services/t12/legacy").string()).to.equal(null);
        expect((await v2Get("/services/t12/legacy/hosts")).body.node.value).to.equal("not-a-dir");
        expect((await v2Get("/services/t12/legacy/scheme")).status).to.equal(404);
    });
});

describe("ServiceRegistration mirroring to a member without the v2 API (127.0.5.15)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.5.15", enableV2: false });
    });
    after(async () => {
        await cluster?.stop();
    });

    it("says to enable v2 and writes nothing", async () => {
        // No prefix: the default one, /services, which is the deployer's.
        const connection = cluster.connection("deployer", { timeoutMs: 2000, retries: 0 });
        const inputs = (await provider.check!({}, { resourceName: "nov2", connection, service: "nov2", scheme: "http", hosts: ["10.0.13.1:80"], mirrorToV2: true })).inputs;
        expect(inputs.prefix).to.equal("/services");
        let err: Error | undefined;
        await provider.create(inputs).catch((e) => (err = e));
        expect(err?.message).to.match(/ServiceRegistration "nov2": .*--enable-v2/);
        // The v2 API really is off (a client certificate would be enough on a member that serves it).
        expect((await cluster.v2("/services")).status).to.equal(404);
        expect(await cluster.client("root").getAll().keys()).to.deep.equal([]);
    });
});
