// ServiceRegistrationSet's provider against a real 3-member etcd (Debian's etcd 3.4) on
// 127.0.5.70-72: many services as one resource, batched; per-service ownership, drift, adoption,
// hand-over from per-service registrations, v2 mirroring, bad input; and from its serialized form.
// The etcd is secured as in production (mutual TLS, auth on: test/support/secure-etcd.ts) and the
// providers connect as `deployer`, so the prefixes are folders of /services, where it may write.
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../../support/secure-etcd";
import { serviceRegistrationSetProvider as provider, SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../../../components/services/service-registration-set";
import { serviceRegistrationProvider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../../components/services/service-registration";
import { registrationOwnerKey } from "../../../model/service-keys";
import { decodeSetRecord, setRecordsPrefix } from "../../../model/set-records";
import { EtcdConnectionArgs } from "../../../components/etcd/etcd-client";
import { failureOf } from "../../support/failure-of";

const requireFromString: (code: string) => any = require(require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] }));

const ownerKeyOf = (resourceName: string) => registrationOwnerKey({ organization: "organization", project: "coreos-cluster", stack: "test", resourceName });

describe("ServiceRegistrationSet provider against real etcd (127.0.5.70-72)", function () {
    this.timeout(60000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let connection: EtcdConnectionArgs;

    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.5.70", enableV2: true });
        // root: sees the whole keyspace and plays the other writers (a sidekick, another tool).
        etcd = cluster.client("root");
        connection = cluster.connection("deployer", { timeoutMs: 3000, retries: 1 });
    });
    after(async () => {
        etcd?.close();
        await cluster?.stop();
    });

    /** What the engine would pass after check(). */
    async function checked(resourceName: string, fields: Record<string, unknown>) {
        const news = { resourceName, ownerKey: ownerKeyOf(resourceName), connection, providerVersion: SERVICE_REGISTRATION_SET_PROVIDER_VERSION, ...fields };
        const result = await provider.check!({}, news);
        expect(result.failures ?? []).to.deep.equal([]);
        return result.inputs as Record<string, any>;
    }
    const under = (prefix: string) => etcd.getAll().prefix(prefix).strings();
    const revision = async () => Number((await etcd.kv.range({ key: Buffer.from("/"), limit: "1" })).header.revision);
    /** Per-service markers under a prefix's owner namespace (the set records excluded). */
    const markersOf = async (prefix: string) => Object.keys(await under(`/coreos-cluster/owners${prefix}/`)).filter((k) => !k.startsWith(setRecordsPrefix(prefix))).sort();
    /** Every set record under a prefix, decoded: owner and the services each lists with their relative keys. */
    const recordsOf = async (prefix: string) => {
        const found = await etcd.getAll().prefix(setRecordsPrefix(prefix)).strings();
        return Object.entries(found).map(([key, value]) => {
            const record = decodeSetRecord(key, value, "0");
            expect(record, `${key} is a set record`).not.to.equal(undefined);
            return { key, owner: record!.owner, services: Object.fromEntries([...record!.services].map(([s, line]) => [s, [...line.keys].sort()])) };
        });
    };
    /** Service name to relative keys, over all of a prefix's records (a service listed twice fails). */
    const claimedIn = async (prefix: string) => {
        const all: Record<string, string[]> = {};
        for (const r of await recordsOf(prefix)) {
            for (const [s, keys] of Object.entries(r.services)) {
                expect(all, `${s} is listed by one record only`).not.to.have.property(s);
                all[s] = keys;
            }
        }
        return all;
    };
    /** Write requests for fresh services under `prefix`, as a set (`owner` "set:...") or per-service markers writes them. */
    const freshRequests = (prefix: string, names: string[], owner: string, host: string, recordedBySet: boolean) =>
        names.map((service) => ({
            owner: `${prefix}/${service}@${owner}`,
            definition: { service, scheme: "http" as const, hosts: [host], prefix },
            ownedBefore: [],
            mirrorToV2: false,
            mirroredBefore: [],
            adopt: false,
            recordedBySet,
        }));
    /** registerServices through a session whose `run` goes through `wrap` (a racing writer, a lost answer). */
    async function registerThrough(
        wrap: (what: string, run: () => Promise<any>) => Promise<any>,
        requests: ReturnType<typeof freshRequests>,
        set?: { owner: string; prefix: string },
    ): Promise<unknown> {
        const { withEtcd } = await import("../../../components/etcd/etcd-client");
        const { registerServices } = await import("../../../components/services/service-store");
        return withEtcd(connection, (session) => registerServices({ ...session, run: (what, fn) => wrap(what, () => session.run(what, fn)) }, requests, undefined, set));
    }
    /** A wrap that runs `race` once, just before the write's first transaction. */
    const racingWith = (race: () => Promise<void>) => {
        let raced = false;
        return async (what: string, run: () => Promise<any>) => {
            if (what === "transaction" && !raced) {
                raced = true;
                await race();
            }
            return run();
        };
    };
    const web = { service: "web", scheme: "http", hosts: ["10.1.0.1:80", "10.1.0.2:80"] };
    const db = { service: "db", scheme: "tcp", hosts: ["10.1.0.9:5432"], hostPort: 5432 };

    it("creates every service's exact layout with one ownership record for the transaction, reads back with no diff, and deletes exactly that", async () => {
        const inputs = await checked("both", { services: [web, db], prefix: "/services/s1" });
        expect(inputs.services.map((s: { service: string }) => s.service), "sorted by name").to.deep.equal(["db", "web"]);
        const { id, outs } = await provider.create(inputs);
        expect(await under("/services/s1/")).to.deep.equal({
            "/services/s1/db/scheme": "tcp",
            "/services/s1/db/hosts/0": "10.1.0.9:5432",
            "/services/s1/db/host_port": "5432",
            "/services/s1/web/scheme": "http",
            "/services/s1/web/hosts/0": "10.1.0.1:80",
            "/services/s1/web/hosts/1": "10.1.0.2:80",
        });
        expect(await markersOf("/services/s1"), "no per-service marker").to.deep.equal([]);
        const records = await recordsOf("/services/s1");
        expect(records).to.have.length(1);
        expect(records[0].owner).to.equal(`set:${ownerKeyOf("both")}`);
        expect(records[0].services).to.deep.equal({ db: ["host_port", "hosts/0", "scheme"], web: ["hosts/0", "hosts/1", "scheme"] });
        expect(outs.ownedKeys.web).to.have.members(["/services/s1/web/scheme", "/services/s1/web/hosts/0", "/services/s1/web/hosts/1"]);

        const read = await provider.read!(id, outs);
        expect(read.id).to.equal(id);
        expect((await provider.diff!(id, read.props, inputs)).changes).to.equal(false);
        const reordered = await checked("both", { services: [db, web], prefix: "/services/s1" });
        expect((await provider.diff!(id, read.props, reordered)).changes, "reordering the list is no change").to.equal(false);

        await etcd.put("/services/s1/web/hosts/sidekick").value("10.1.0.7:80");
        await provider.delete!(id, outs);
        expect(await under("/services/s1/")).to.deep.equal({ "/services/s1/web/hosts/sidekick": "10.1.0.7:80" });
        expect(await under("/coreos-cluster/owners/services/s1/")).to.deep.equal({});
    });

    it("writes many services in transactions of at most 128 operations, never splitting one (300 services: 15 commits)", async () => {
        const services = Array.from({ length: 300 }, (_, i) => ({ service: `svc-${i}`, scheme: "tcp", hosts: [`10.2.${i >> 8}.${i & 255}:9000`, `10.3.${i >> 8}.${i & 255}:9000`, `10.4.${i >> 8}.${i & 255}:9000`], hostPort: 9000 + i }));
        const inputs = await checked("many", { services, prefix: "/services/s2" });
        const before = await revision();
        const { id, outs } = await provider.create(inputs);
        // 5 operations per service, one record per transaction: 25 services per transaction, each commit one revision.
        expect((await revision()) - before).to.equal(Math.ceil(300 / Math.floor(127 / 5)));
        expect(Object.keys(await under("/services/s2/")).length).to.equal(1500);
        expect(Object.keys(await claimedIn("/services/s2")).length, "every service in exactly one record").to.equal(300);
        expect(await markersOf("/services/s2")).to.deep.equal([]);
        await provider.delete!(id, outs);
        expect(await under("/services/s2/")).to.deep.equal({});
        expect(await under("/coreos-cluster/owners/services/s2/")).to.deep.equal({});
    });

    it("refuses, before writing any service, one that needs more than etcd's 128 operations per transaction", async () => {
        // The scheme and 127 hosts: 128 operations, and the transaction's ownership record one more.
        const crowded = { service: "crowded", scheme: "http", hosts: Array.from({ length: 127 }, (_, i) => `10.6.${i >> 8}.${i & 255}:80`) };
        const err = await failureOf(provider.create(await checked("crowded", { services: [web, db, crowded], prefix: "/services/s11" })));
        expect(err.message).to.match(/service "crowded": needs 128 operations and its ownership record one more, more than etcd's 128-operation transaction limit/);
        expect(await under("/services/s11/")).to.deep.equal({});
        expect(await under("/coreos-cluster/owners/services/s11/")).to.deep.equal({});
    });

    it("an update writes only the services that changed, removes the ones dropped, and a prefix change replaces", async () => {
        const inputs = await checked("upd", { services: [web, db], prefix: "/services/s3" });
        const { id, outs } = await provider.create(inputs);
        const dbRevision = (await etcd.kv.range({ key: Buffer.from("/services/s3/db/scheme") })).kvs[0].mod_revision;
        const cache = { service: "cache", scheme: "tcp", hosts: ["10.1.0.5:6379"], hostPort: 6379 };
        const news = await checked("upd", { services: [db, { ...web, hosts: ["10.1.0.3:80"] }, cache], prefix: "/services/s3" });
        const diff = await provider.diff!(id, outs, news);
        expect(diff).to.include({ changes: true });
        expect(diff.replaces).to.deep.equal([]);
        const updated = await provider.update!(id, outs, news);
        expect(await under("/services/s3/")).to.deep.equal({
            "/services/s3/cache/scheme": "tcp",
            "/services/s3/cache/hosts/0": "10.1.0.5:6379",
            "/services/s3/cache/host_port": "6379",
            "/services/s3/db/scheme": "tcp",
            "/services/s3/db/hosts/0": "10.1.0.9:5432",
            "/services/s3/db/host_port": "5432",
            "/services/s3/web/scheme": "http",
            "/services/s3/web/hosts/0": "10.1.0.3:80",
        });
        expect((await etcd.kv.range({ key: Buffer.from("/services/s3/db/scheme") })).kvs[0].mod_revision, "unchanged service not rewritten").to.equal(dbRevision);
        expect(updated.outs!.ownedKeys.web).to.deep.equal(["/services/s3/web/scheme", "/services/s3/web/hosts/0"]);

        const fewer = await checked("upd", { services: [db], prefix: "/services/s3" });
        const shrunk = await provider.update!(id, updated.outs, fewer);
        expect(Object.keys(await under("/services/s3/")).sort()).to.deep.equal(["/services/s3/db/host_port", "/services/s3/db/hosts/0", "/services/s3/db/scheme"]);
        expect(await claimedIn("/services/s3"), "the records list db alone: web's old line and cache's are tidied away").to.deep.equal({ db: ["host_port", "hosts/0", "scheme"] });
        expect(await markersOf("/services/s3")).to.deep.equal([]);
        expect((await provider.diff!(id, shrunk.outs, { ...fewer, prefix: "/services/other" })).replaces).to.deep.equal(["prefix"]);
        await provider.delete!(id, shrunk.outs);
        expect(await under("/services/s3/")).to.deep.equal({});
    });

    it("a service named like a built-in property (constructor) is a service like any other: added by update, refreshed, removed", async () => {
        const inputs = await checked("builtin", { services: [web], prefix: "/services/s40" });
        const { id, outs } = await provider.create(inputs);
        const ctor = { service: "constructor", scheme: "http", hosts: ["10.1.0.7:80"] };
        const news = await checked("builtin", { services: [web, ctor], prefix: "/services/s40" });
        const updated = await provider.update!(id, outs, news);
        expect(updated.outs!.ownedKeys.constructor).to.deep.equal(["/services/s40/constructor/scheme", "/services/s40/constructor/hosts/0"]);
        expect(await under("/services/s40/constructor/")).to.deep.equal({ "/services/s40/constructor/scheme": "http", "/services/s40/constructor/hosts/0": "10.1.0.7:80" });
        const read = await provider.read!(id, updated.outs);
        expect(read.props.ownedKeys.constructor).to.have.members(["/services/s40/constructor/scheme", "/services/s40/constructor/hosts/0"]);
        const back = await provider.update!(id, read.props, await checked("builtin", { services: [web], prefix: "/services/s40" }));
        expect(Object.keys(await under("/services/s40/")).sort()).to.deep.equal(["/services/s40/web/hosts/0", "/services/s40/web/hosts/1", "/services/s40/web/scheme"]);
        await provider.delete!(id, back.outs);
    });

    it("refresh reports drift (a host changed, a service removed by hand) and the next update puts it back", async () => {
        const inputs = await checked("drift", { services: [web, db], prefix: "/services/s4" });
        const { id, outs } = await provider.create(inputs);
        await etcd.put("/services/s4/web/hosts/1").value("10.9.9.9:80");
        await etcd.delete().prefix("/services/s4/db/");
        const read = await provider.read!(id, outs);
        // db's keys are gone but the set's record still claims it: present, with nothing in it.
        expect(read.props.services).to.deep.equal([
            { service: "db", scheme: "", hosts: [] },
            { service: "web", scheme: "http", hosts: ["10.1.0.1:80", "10.9.9.9:80"] },
        ]);
        expect((await provider.diff!(id, read.props, inputs)).changes).to.equal(true);
        const repaired = await provider.update!(id, read.props, inputs);
        expect(await under("/services/s4/")).to.include({ "/services/s4/web/hosts/1": "10.1.0.2:80", "/services/s4/db/host_port": "5432" });
        expect((await provider.diff!(id, (await provider.read!(id, repaired.outs)).props, inputs)).changes).to.equal(false);

        await etcd.delete().prefix("/services/s4/");
        await etcd.delete().prefix("/coreos-cluster/owners/services/s4/");
        expect((await provider.read!(id, repaired.outs)).id, "every service removed by hand: the set is gone").to.equal("");
    });

    it("refuses, writing nothing, a service another owner registered; adopt: true takes it over", async () => {
        const other = await serviceRegistrationProvider.check!({}, { resourceName: "theirs", ownerKey: ownerKeyOf("theirs"), connection, service: "web", scheme: "http", hosts: ["10.7.0.1:80"], prefix: "/services/s5", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
        const theirs = await serviceRegistrationProvider.create(other.inputs);
        const inputs = await checked("mine", { services: [web, db], prefix: "/services/s5" });
        const err = await failureOf(provider.create(inputs));
        expect(err.message).to.match(/^ServiceRegistrationSet "mine": service "web": \/services\/s5\/web is already registered by another owner/);
        expect(err.message).to.include("adopt: true");
        expect(Object.keys(await under("/services/s5/")).sort(), "db not written either").to.deep.equal(["/services/s5/web/hosts/0", "/services/s5/web/scheme"]);

        const adopted = await provider.create(await checked("mine", { services: [web, db], prefix: "/services/s5", adopt: true }));
        expect(await under("/services/s5/web/")).to.deep.equal({ "/services/s5/web/scheme": "http", "/services/s5/web/hosts/0": "10.1.0.1:80", "/services/s5/web/hosts/1": "10.1.0.2:80" });
        await serviceRegistrationProvider.delete!(theirs.id, theirs.outs);
        expect(Object.keys(await under("/services/s5/web/")).length, "the former owner's delete leaves what it no longer owns").to.equal(3);
        await provider.delete!(adopted.id, adopted.outs);
        expect(await under("/services/s5/")).to.deep.equal({});
    });

    it("takeOverFrom hands over this stack's per-service registrations, and only those", async () => {
        const legacy = async (resourceName: string, service: string) => {
            const c = await serviceRegistrationProvider.check!({}, { resourceName, ownerKey: ownerKeyOf(resourceName), connection, service, scheme: "http", hosts: ["10.8.0.1:80"], prefix: "/services/s6", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
            return serviceRegistrationProvider.create(c.inputs);
        };
        const oldWeb = await legacy("c-service-web", "web");
        const stranger = await legacy("someone-else", "db");
        const takeOverFrom = [ownerKeyOf("c-service-web"), ownerKeyOf("c-service-db")];
        const refused = await failureOf(provider.create(await checked("c-services", { services: [web, db], prefix: "/services/s6", takeOverFrom })));
        expect(refused.message).to.include('service "db": /services/s6/db is already registered by another owner');
        expect(refused.message).not.to.include('service "web"');

        await serviceRegistrationProvider.delete!(stranger.id, stranger.outs);
        const set = await provider.create(await checked("c-services", { services: [web, db], prefix: "/services/s6", takeOverFrom }));
        // The old resource is deleted by the provider code stored in its state, which reads markers only: web's must name the set.
        expect(JSON.parse((await etcd.get("/coreos-cluster/owners/services/s6/web").string())!).owner).to.equal(`/services/s6/web@set:${ownerKeyOf("c-services")}`);
        expect(await markersOf("/services/s6"), "db had no marker: none is written").to.deep.equal(["/coreos-cluster/owners/services/s6/web"]);
        await serviceRegistrationProvider.delete!(oldWeb.id, oldWeb.outs);
        expect(await under("/services/s6/web/"), "the old resource's delete leaves the handed-over service").to.deep.equal({ "/services/s6/web/scheme": "http", "/services/s6/web/hosts/0": "10.1.0.1:80", "/services/s6/web/hosts/1": "10.1.0.2:80" });
        await provider.delete!(set.id, set.outs);
        expect(await under("/services/s6/")).to.deep.equal({});
    });

    it("a create run again after its result was lost converges (same owner key); v2 mirror kept in sync", async () => {
        const inputs = await checked("again", { services: [web, db], prefix: "/services/s7", mirrorToV2: true });
        await provider.create(inputs);
        const { id, outs } = await provider.create({ ...inputs, services: [db, { ...web, hosts: ["10.1.0.1:80"] }] });
        expect(Object.keys(await under("/services/s7/web/")).sort()).to.deep.equal(["/services/s7/web/hosts/0", "/services/s7/web/scheme"]);
        expect(await claimedIn("/services/s7"), "the first run's record is tidied away").to.deep.equal({ db: ["host_port", "hosts/0", "scheme"], web: ["hosts/0", "scheme"] });
        const v2 = (await cluster.v2("/services/s7/web/hosts/0")).body as { node: { value: string } };
        expect(v2.node.value).to.equal("10.1.0.1:80");
        await cluster.v2("/services/s7/db/host_port", { method: "PUT", form: { value: "1" } });
        const read = await provider.read!(id, outs);
        expect(read.props.v2InSync).to.equal(false);
        expect((await provider.diff!(id, read.props, read.props)).changes).to.equal(true);
        const fixed = await provider.update!(id, read.props, { ...read.props, services: outs.services });
        expect(fixed.outs!.v2InSync).to.equal(true);
        expect(((await cluster.v2("/services/s7/db/host_port")).body as { node: { value: string } }).node.value).to.equal("5432");
        await provider.delete!(id, fixed.outs);
        expect(await under("/services/s7/")).to.deep.equal({});
        expect((await cluster.v2("/services/s7/db/host_port")).status).to.equal(404);
    });

    it("one range guard per batch of fresh services: another owner's service sorted between them is no conflict, and is left alone", async () => {
        const other = await serviceRegistrationProvider.check!({}, { resourceName: "between", ownerKey: ownerKeyOf("between"), connection, service: "m-middle", scheme: "http", hosts: ["10.9.0.1:80"], prefix: "/services/s12", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
        await serviceRegistrationProvider.create(other.inputs);
        const theirs = await under("/services/s12/m-middle/");
        const services = ["a-first", "z-last", ...Array.from({ length: 70 }, (_, i) => `n-${String(i).padStart(2, "0")}`)].map((service, i) => ({ service, scheme: "http", hosts: [`10.2.${i >> 8}.${i & 255}:80`] }));
        const { id, outs } = await provider.create(await checked("around", { services, prefix: "/services/s12" }));
        expect(Object.keys(outs.ownedKeys)).to.have.length(72);
        expect(Object.keys(await claimedIn("/services/s12")), "72 services in the set's records").to.have.length(72);
        expect(await markersOf("/services/s12"), "and the other owner's marker").to.deep.equal(["/coreos-cluster/owners/services/s12/m-middle"]);
        expect(await under("/services/s12/m-middle/"), "the other owner's service is untouched").to.deep.equal(theirs);
        await provider.delete(id, outs);
        expect(Object.keys(await under("/services/s12/")), "only the other owner's keys remain").to.deep.equal(Object.keys(theirs));
    });

    it("a service taken by another writer between the read and the commit is not overwritten: the create fails naming it", async () => {
        const { encodeOwnerMarker } = await import("../../../model/service-keys");
        const intruder = encodeOwnerMarker({ owner: "/services/s13/p-two@someone-else", keys: ["/services/s13/p-two/scheme"] }, "/services/s13/p-two");
        // Another writer registers p-two just before this write's first transaction.
        const race = racingWith(async () => {
            await etcd.put("/coreos-cluster/owners/services/s13/p-two").value(intruder);
            await etcd.put("/services/s13/p-two/scheme").value("tcp");
        });
        const err = await failureOf(registerThrough(race, freshRequests("/services/s13", ["p-one", "p-two", "p-three"], "set:race", "10.3.0.1:80", false)));
        expect(err.message).to.match(/\/services\/s13\/p-two changed while being written \(another writer\)/);
        expect(await under("/services/s13/"), "the other writer's key stands").to.deep.equal({ "/services/s13/p-two/scheme": "tcp" });
        expect(await under("/coreos-cluster/owners/services/s13/")).to.deep.equal({ "/coreos-cluster/owners/services/s13/p-two": intruder });
    });

    it("check names the resource and the field of bad input (malformed host, duplicate name, tcp without host_port)", async () => {
        const result = await provider.check!({}, {
            resourceName: "bad",
            connection,
            services: [web, { service: "web", scheme: "http", hosts: [] }, { service: "q", scheme: "tcp", hosts: ["10.0.0.1"] }],
            prefix: "/services/s8",
        });
        const reasons = (result.failures ?? []).map((f) => f.reason);
        expect(reasons).to.include('ServiceRegistrationSet "bad": services[1].service "web" is listed twice (also services[0])');
        expect(reasons.some((r) => r.startsWith('ServiceRegistrationSet "bad": services[2].hosts[0] "10.0.0.1" is not ip:port'))).to.equal(true);
        expect(reasons.some((r) => r.startsWith('ServiceRegistrationSet "bad": services[2].hostPort is required'))).to.equal(true);
        expect((result.failures ?? []).every((f) => f.property === "services")).to.equal(true);
        expect(await under("/services/s8/")).to.deep.equal({});
    });

    it("unreachable endpoints: an error naming the resource and the endpoints, nothing written", async () => {
        const nowhere = { endpoints: ["http://127.0.5.79:2379"], timeoutMs: 500, retries: 0 };
        const inputs = { ...(await checked("far", { services: [web], prefix: "/services/s9" })), connection: nowhere };
        const err = await failureOf(provider.create(inputs));
        expect(err.message).to.match(/^ServiceRegistrationSet "far": /);
        expect(err.message).to.include("http://127.0.5.79:2379");
    });

    it("a ServiceRegistration refuses a service a set's record claims, naming the set; adopt takes it over and the set lets go", async () => {
        const set = await provider.create(await checked("holder", { services: [web, db], prefix: "/services/s20" }));
        const single = (adopt: boolean) =>
            serviceRegistrationProvider.check!({}, { resourceName: "single", ownerKey: ownerKeyOf("single"), connection, service: "web", scheme: "http", hosts: ["10.7.0.1:80"], prefix: "/services/s20", adopt, providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
        const refused = await failureOf(serviceRegistrationProvider.create((await single(false)).inputs));
        expect(refused.message).to.include(`/services/s20/web is already registered by another owner (/services/s20/web@set:${ownerKeyOf("holder")} at ${setRecordsPrefix("/services/s20")}`);
        expect(await under("/services/s20/web/hosts/"), "nothing written").to.deep.equal({ "/services/s20/web/hosts/0": "10.1.0.1:80", "/services/s20/web/hosts/1": "10.1.0.2:80" });

        const taken = await serviceRegistrationProvider.create((await single(true)).inputs);
        expect(await under("/services/s20/web/")).to.deep.equal({ "/services/s20/web/scheme": "http", "/services/s20/web/hosts/0": "10.7.0.1:80" });
        expect(await claimedIn("/services/s20"), "the set's record no longer lists web").to.deep.equal({ db: ["host_port", "hosts/0", "scheme"] });
        const read = await provider.read!(set.id, set.outs);
        expect(read.props.ownedKeys.web, "the set owns nothing of web any more").to.deep.equal([]);
        await provider.delete!(set.id, read.props);
        expect(await under("/services/s20/"), "the set's delete leaves the taken service").to.deep.equal({ "/services/s20/web/scheme": "http", "/services/s20/web/hosts/0": "10.7.0.1:80" });
        expect(await recordsOf("/services/s20")).to.deep.equal([]);
        await serviceRegistrationProvider.delete!(taken.id, taken.outs);
        expect(await under("/services/s20/")).to.deep.equal({});
        expect(await under("/coreos-cluster/owners/services/s20/")).to.deep.equal({});
    });

    it("a set created by provider 1.2.0 (one marker per service) keeps working: a rewritten service moves to a record, delete removes the markers left", async () => {
        const { encodeOwnerMarker } = await import("../../../model/service-keys");
        const inputs = await checked("legacy", { services: [web, db], prefix: "/services/s21" });
        // What 1.2.0 wrote: the keys, a marker per service naming the set, and ownedKeys in state.
        const ownedKeys: Record<string, string[]> = {};
        for (const s of [web, db]) {
            const root = `/services/s21/${s.service}`;
            const keys: Record<string, string> = { [`${root}/scheme`]: s.scheme, ...Object.fromEntries(s.hosts.map((h, i) => [`${root}/hosts/${i}`, h])), ...("hostPort" in s ? { [`${root}/host_port`]: String(s.hostPort) } : {}) };
            for (const [k, v] of Object.entries(keys)) await etcd.put(k).value(v);
            await etcd.put(`/coreos-cluster/owners${root}`).value(encodeOwnerMarker({ owner: `${root}@set:${ownerKeyOf("legacy")}`, keys: Object.keys(keys) }, root));
            ownedKeys[s.service] = Object.keys(keys);
        }
        const state = { ...inputs, providerVersion: "1.2.0", ownedKeys, mirroredKeys: { web: [], db: [] }, v2InSync: true };
        const id = `/services/s21@set:${ownerKeyOf("legacy")}`;
        const read = await provider.read!(id, state);
        const sorted = (byService: Record<string, string[]>) => Object.fromEntries(Object.entries(byService).map(([k, v]) => [k, [...v].sort()]));
        expect(sorted(read.props.ownedKeys), "the markers are the set's claims").to.deep.equal(sorted(ownedKeys));
        const news = await checked("legacy", { services: [db, { ...web, hosts: ["10.1.0.3:80"] }], prefix: "/services/s21" });
        expect((await provider.diff!(id, read.props, news)).changes).to.equal(true);
        const updated = await provider.update!(id, read.props, news);
        expect(await markersOf("/services/s21"), "both markers stay, naming the set, for code that predates set records").to.deep.equal(["/coreos-cluster/owners/services/s21/db", "/coreos-cluster/owners/services/s21/web"]);
        expect(JSON.parse((await etcd.get("/coreos-cluster/owners/services/s21/web").string())!)).to.deep.equal({ owner: `/services/s21/web@set:${ownerKeyOf("legacy")}`, relativeKeys: ["hosts/0", "scheme"] });
        expect(await claimedIn("/services/s21")).to.deep.equal({ web: ["hosts/0", "scheme"] });
        const again = await provider.read!(id, updated.outs!);
        expect((await provider.diff!(id, again.props, news)).changes, "both claims read as the set's").to.equal(false);
        await provider.delete!(id, again.props);
        expect(await under("/services/s21/")).to.deep.equal({});
        expect(await under("/coreos-cluster/owners/services/s21/")).to.deep.equal({});
    });

    it("delete also removes services its records claim that its state lacks (a create whose result the engine lost)", async () => {
        const inputs = await checked("lost", { services: [web, db], prefix: "/services/s22" });
        const first = await provider.create(inputs);
        const cache = { service: "cache", scheme: "tcp", hosts: ["10.1.0.5:6379"], hostPort: 6379 };
        // An update whose result was lost: etcd has cache, the state the engine kept does not.
        await provider.update!(first.id, first.outs, await checked("lost", { services: [web, db, cache], prefix: "/services/s22" }));
        await provider.delete!(first.id, first.outs);
        expect(await under("/services/s22/")).to.deep.equal({});
        expect(await under("/coreos-cluster/owners/services/s22/")).to.deep.equal({});
    });

    it("a set's batch whose service another writer changed between the read and the commit is not written, nor its record", async () => {
        // Another tool writes q-two with no marker and no record: only its key changed.
        const race = racingWith(async () => void (await etcd.put("/services/s23/q-two/scheme").value("tcp")));
        const err = await failureOf(registerThrough(race, freshRequests("/services/s23", ["q-one", "q-two", "q-three"], "set:race", "10.3.0.1:80", true), { owner: "set:race", prefix: "/services/s23" }));
        expect(err.message).to.match(/\/services\/s23\/q-one, \/services\/s23\/q-three, \/services\/s23\/q-two changed while being written \(another writer\)/);
        expect(await under("/services/s23/")).to.deep.equal({ "/services/s23/q-two/scheme": "tcp" });
        expect(await recordsOf("/services/s23")).to.deep.equal([]);
        await etcd.delete().prefix("/services/s23/");
    });

    it("a batch's guard covers every service's keys whatever their names sort like ('a-b/' sorts before 'a/')", async () => {
        const race = racingWith(async () => void (await etcd.put("/services/s25/a-b/scheme").value("tcp")));
        const err = await failureOf(registerThrough(race, freshRequests("/services/s25", ["a", "a-b", "b"], "set:order", "10.3.0.3:80", true), { owner: "set:order", prefix: "/services/s25" }));
        expect(err.message).to.include("changed while being written (another writer)");
        expect(await under("/services/s25/"), "the other writer's key stands, nothing else written").to.deep.equal({ "/services/s25/a-b/scheme": "tcp" });
        expect(await recordsOf("/services/s25")).to.deep.equal([]);
        await etcd.delete().prefix("/services/s25/");
    });

    it("a superseded line a tidy missed claims nothing once the registration that superseded it is deleted", async () => {
        const { encodeSetRecord, setRecordKey } = await import("../../../model/set-records");
        const single = (name: string) =>
            serviceRegistrationProvider.check!({}, { resourceName: name, ownerKey: ownerKeyOf(name), connection, service: "web", scheme: "http", hosts: ["10.7.0.2:80"], prefix: "/services/s26", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION });
        const first = await serviceRegistrationProvider.create((await single("first")).inputs);
        // A line a tidy missed (it lost a race): a set claimed web at revision 1, before the marker.
        const ghost = setRecordKey("/services/s26", "set:ghost", "left-0");
        await etcd.put(ghost).value(encodeSetRecord("set:ghost", [["web", { since: "1", keys: ["scheme"] }]]));
        expect((await serviceRegistrationProvider.read!(first.id, first.outs)).props.ownedKeys, "the marker, newer than the line, is the claim").to.have.length(2);
        await serviceRegistrationProvider.delete!(first.id, first.outs);
        expect(await recordsOf("/services/s26"), "the delete took the superseded line with it").to.deep.equal([]);
        const second = await serviceRegistrationProvider.create((await single("second")).inputs);
        await serviceRegistrationProvider.delete!(second.id, second.outs);
        expect(await under("/services/s26/")).to.deep.equal({});
    });

    it("a transaction etcd applied whose answer was lost, sent again, is recognised as done", async () => {
        let resent = 0;
        // The first send commits; its answer is dropped and the same request goes again (a client retry).
        const twice = async (what: string, run: () => Promise<any>) => {
            if (what !== "transaction") return run();
            await run();
            resent++;
            return run();
        };
        await registerThrough(twice, freshRequests("/services/s24", ["r-one", "r-two"], "set:twice", "10.3.0.2:80", true), { owner: "set:twice", prefix: "/services/s24" });
        expect(resent, "the write was sent twice").to.be.greaterThan(0);
        expect(await under("/services/s24/")).to.deep.equal({ "/services/s24/r-one/scheme": "http", "/services/s24/r-one/hosts/0": "10.3.0.2:80", "/services/s24/r-two/scheme": "http", "/services/s24/r-two/hosts/0": "10.3.0.2:80" });
        expect(await claimedIn("/services/s24")).to.deep.equal({ "r-one": ["hosts/0", "scheme"], "r-two": ["hosts/0", "scheme"] });
        await etcd.delete().prefix("/services/s24/");
        await etcd.delete().prefix("/coreos-cluster/owners/services/s24/");
    });

    it("works from the form the engine stores: serialized by the SDK, loaded back, no module captured", async () => {
        const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        expect(serialized.text.split("\n").filter((line) => /^\S.*\brequire\(/.test(line)), "module captured at top level").to.deep.equal([]);
        for (const internal of ["ConnectionPool", "class Etcd3", "ChannelCredentials"]) expect(serialized.text).not.to.include(internal);
        expect(serialized.containsSecrets).to.equal(false);
        const loaded = requireFromString(serialized.text).handler() as pulumi.dynamic.ResourceProvider;
        const inputs = (await loaded.check!({}, { resourceName: "serialized", ownerKey: ownerKeyOf("serialized"), connection, services: [db], prefix: "/services/s10" })).inputs;
        const { id, outs } = await loaded.create(inputs);
        expect(await under("/services/s10/")).to.deep.equal({ "/services/s10/db/scheme": "tcp", "/services/s10/db/hosts/0": "10.1.0.9:5432", "/services/s10/db/host_port": "5432" });
        await loaded.delete!(id, outs);
        expect(await under("/services/s10/")).to.deep.equal({});
    });
});
