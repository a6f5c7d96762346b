// Pure tests of the service key layout, input checks, operation plans and transaction batching.
import { expect } from "chai";
import * as fc from "fast-check";
import {
    batchOperationGroups,
    compensationOps,
    decodeOwnerMarker,
    encodeOwnerMarker,
    MAX_TXN_OPS,
    normalizeServiceDefinition,
    observedFields,
    ownerMarkerKey,
    planKeyChanges,
    registrationId,
    registrationOwnerKey,
    serviceDefinitionProblems,
    serviceKeyValues,
    KeyValues,
    KeyOperation,
} from "../../../model/service-keys";
import { planServiceWrite, ServiceWriteRequest } from "../../../model/service-write-plan";
import { validateConfig } from "../../../model/validate";
import { gcpRaw } from "../../model/raw-configs";
import { connectionProblems, parseEndpoint, redactConnectionSecrets, classifyEtcdError } from "../../../components/etcd/etcd-client";

const web = { service: "web", scheme: "http" as const, hosts: ["10.0.0.1:8080", "10.0.0.2:8080"], prefix: "/services" };

describe("service keys: layout", () => {
    it("writes scheme, hosts/<n> in order and host_port under <prefix>/<name>", () => {
        expect(serviceKeyValues({ ...web, hostPort: 8000 })).to.deep.equal({
            "/services/web/scheme": "http",
            "/services/web/hosts/0": "10.0.0.1:8080",
            "/services/web/hosts/1": "10.0.0.2:8080",
            "/services/web/host_port": "8000",
        });
    });

    it("omits host_port when not given and honours a custom prefix", () => {
        expect(serviceKeyValues({ ...web, prefix: "/apps/prod" })).to.have.keys("/apps/prod/web/scheme", "/apps/prod/web/hosts/0", "/apps/prod/web/hosts/1");
    });

    it("keeps owner markers outside the confd-visible prefix", () => {
        expect(ownerMarkerKey("/services", "web")).to.equal("/coreos-cluster/owners/services/web");
        expect(ownerMarkerKey("/services", "web").startsWith("/services/")).to.equal(false);
    });

    it("defaults the prefix to /services", () => {
        expect(normalizeServiceDefinition({ service: "db", scheme: "tcp", hosts: ["10.0.0.3:5432"], hostPort: 5432 }).prefix).to.equal("/services");
    });
});

describe("service keys: input checks", () => {
    const problemKeysOf = (overrides: Record<string, unknown>) => validateConfig(gcpRaw(overrides), "dev").problems.map((p) => p.key);
    const problemsOf = (overrides: Record<string, unknown>) => serviceDefinitionProblems({ ...web, ...overrides }).map((p) => p.field);

    it("accepts a valid http and tcp service", () => {
        expect(serviceDefinitionProblems(web)).to.deep.equal([]);
        // IPv4 only, as the stack config, the firewall and the router have it (model/service-hosts.ts).
        expect(serviceDefinitionProblems({ service: "db", scheme: "tcp", hosts: ["[fd00::1]:5432"], hostPort: 15432, prefix: "/services" }).map((p) => p.field)).to.deep.equal(["hosts[0]"]);
    });

    it("names the offending field", () => {
        expect(problemsOf({ service: "a/b" })).to.deep.equal(["service"]);
        expect(problemsOf({ scheme: "https" })).to.deep.equal(["scheme"]);
        expect(problemsOf({ hosts: ["10.0.0.1:8080", "10.0.0.300:80"] })).to.deep.equal(["hosts[1]"]);
        expect(problemsOf({ hosts: ["10.0.0.1"] })).to.deep.equal(["hosts[0]"]);
        expect(problemsOf({ hosts: ["10.0.0.1:0"] })).to.deep.equal(["hosts[0]"]);
        expect(problemsOf({ hosts: ["10.0.0.1:80", "10.0.0.1:80"] })).to.deep.equal(["hosts[1]"]);
        expect(problemsOf({ hostPort: 70000 })).to.deep.equal(["hostPort"]);
        expect(problemsOf({ scheme: "tcp" })).to.deep.equal(["hostPort"]);
        expect(problemsOf({ prefix: "services" })).to.deep.equal(["prefix"]);
        expect(problemsOf({ prefix: "/services/" })).to.deep.equal(["prefix"]);
        expect(problemsOf({ prefix: "/coreos-cluster/owners" })).to.deep.equal(["prefix"]);
        expect(problemsOf({ prefix: "/coreos-cluster" })).to.deep.equal(["prefix"]);
        // etcd's v2 API cleans key paths: these would make the v2 mirror write somewhere else.
        for (const prefix of ["/services/../etc", "/services/./x", "/..", "/services//x", "//services"]) {
            expect(problemsOf({ prefix }), prefix).to.deep.equal(["prefix"]);
        }
    });

    it("a service name is a DNS label: capitals and _ are refused, as by the stack config", () => {
        for (const service of ["Web", "web_app", "-web", "web-", "1web", "a".repeat(64)]) {
            expect(problemsOf({ service }), service).to.deep.equal(["service"]);
        }
        expect(problemsOf({ service: "a".repeat(63) })).to.deep.equal([]);
    });

    it("the provider and the stack config judge service names and prefixes by the same rule", () => {
        const nameChars = fc.constantFrom(..."abzAZ09-_./".split(""));
        fc.assert(
            fc.property(fc.string({ unit: nameChars, maxLength: 70 }), (name) => {
                const byProvider = problemsOf({ service: name }).includes("service");
                const byConfig = problemKeysOf({ services: [{ name, scheme: "http", hosts: ["10.0.0.1:80"] }] }).includes("coreos-cluster:services[0].name");
                expect(byProvider, JSON.stringify(name)).to.equal(byConfig);
            }),
        );
        const prefixChars = fc.constantFrom(..."/ab._-".split(""));
        fc.assert(
            fc.property(fc.string({ unit: prefixChars, maxLength: 20 }), (prefix) => {
                const byProvider = problemsOf({ prefix }).includes("prefix");
                const byConfig = problemKeysOf({ servicesPrefix: prefix }).includes("coreos-cluster:servicesPrefix");
                expect(byProvider, JSON.stringify(prefix)).to.equal(byConfig);
            }),
        );
    });

    it("skips values not known yet (preview)", () => {
        const unknown = "??";
        expect(serviceDefinitionProblems({ ...web, hosts: [unknown, "10.0.0.1:80"], service: unknown }, (v) => v === unknown)).to.deep.equal([]);
    });

    it("throws one error listing every problem with the label", () => {
        expect(() => normalizeServiceDefinition({ service: "", scheme: "ftp", hosts: ["x"] }, 'ServiceRegistration "r"')).to.throw(
            /ServiceRegistration "r": service .*; scheme .*; hosts\[0\]/,
        );
    });

    it("host check is the config's host rule: the provider and the stack config give the same verdict", () => {
        const hostText = fc.oneof(
            fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 70000 })).map(([ip, port]) => `${ip}:${port}`),
            fc.tuple(fc.ipV4Extended(), fc.stringMatching(/^\d{1,6}$/)).map(([ip, port]) => `${ip}:${port}`),
            fc.tuple(fc.array(fc.stringMatching(/^\d{1,4}$/), { minLength: 3, maxLength: 5 }), fc.stringMatching(/^0?\d{1,5}$/)).map(([octets, port]) => `${octets.join(".")}:${port}`),
            fc.constantFrom("127.0.0.1:80", "169.254.169.254:80", "0.0.0.0:80", "224.0.0.1:80", "255.255.255.255:80", "10.0.0.9:22", "10.0.0.9:2379", "[fd00::1]:80"),
            fc.string(),
        );
        fc.assert(
            fc.property(hostText, (host) => {
                // What only the stack config knows (its members 10.10.0.2-4, its health port) is out of this comparison.
                fc.pre(!/^10\.10\.0\.[2-4]:/.test(host) && !host.endsWith(":10256"));
                const byProvider = serviceDefinitionProblems({ service: "web", scheme: "http", hosts: [host] }).some((p) => p.field === "hosts[0]");
                const byConfig = problemKeysOf({ services: [{ name: "web", scheme: "http", hosts: [host] }] }).includes("coreos-cluster:services[0].hosts[0]");
                expect(byProvider, JSON.stringify(host)).to.equal(byConfig);
            }),
            { numRuns: 2000, seed: 22 },
        );
    });

    it("checks connections: endpoints, paired credentials, tunnel fields", () => {
        expect(connectionProblems({ endpoints: ["http://10.0.0.2:2379", "10.0.0.3:2379"] })).to.deep.equal([]);
        expect(connectionProblems({ endpoints: [] }).map((p) => p.field)).to.deep.equal(["connection.endpoints"]);
        expect(connectionProblems({ endpoints: ["ftp://x:1"] }).map((p) => p.field)).to.deep.equal(["connection.endpoints[0]"]);
        expect(connectionProblems({ endpoints: ["http://a:1"], username: "root" }).map((p) => p.field)).to.deep.equal(["connection.password"]);
        expect(connectionProblems({ endpoints: ["http://a:1"], sshTunnel: { host: "b", port: 0, username: "u", privateKey: "k" } }).map((p) => p.field)).to.deep.equal([
            "connection.sshTunnel.port",
        ]);
        const embedded = connectionProblems({ endpoints: ["http://root:s3cr3t@10.0.0.2:2379"] });
        expect(embedded.map((p) => p.field)).to.deep.equal(["connection.endpoints[0]"]);
        expect(embedded[0].message).not.to.include("s3cr3t");
        expect(parseEndpoint("https://[fd00::2]:2379")).to.deep.equal({ secure: true, host: "fd00::2", port: 2379 });
    });

    it("redacts passwords and every line of private keys", () => {
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAI\n-----END OPENSSH PRIVATE KEY-----";
        const conn = { endpoints: ["http://a:1"], password: "hunter2-pass", sshTunnel: { host: "b", port: 22, username: "u", privateKey: key } };
        const out = redactConnectionSecrets(`bad hunter2-pass and AAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAI and ${key}`, conn);
        expect(out).not.to.include("hunter2-pass");
        expect(out).not.to.include("AAAAAAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAI");
        expect(out).not.to.include("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
    });

    it("classifies etcd errors into transient and fatal", () => {
        class GRPCUnavailableError extends Error {}
        class GRPCDeadlineExceededError extends Error {}
        class EtcdAuthenticationFailedError extends Error {}
        expect(classifyEtcdError(new GRPCUnavailableError("14 UNAVAILABLE: No connection established"))).to.equal("unreachable");
        expect(classifyEtcdError(new GRPCDeadlineExceededError("Deadline exceeded"))).to.equal("timeout");
        expect(classifyEtcdError(new Error("etcdserver: request timed out"))).to.equal("no-leader");
        expect(classifyEtcdError(new EtcdAuthenticationFailedError("etcdserver: authentication failed, invalid user ID or password"))).to.equal("auth");
        expect(classifyEtcdError(new Error("etcdserver: too many operations in txn request"))).to.equal("fatal");
    });
});

describe("service keys: operation plans", () => {
    it("puts every desired key and deletes only owned keys that are no longer wanted", () => {
        const ops = planKeyChanges(["/s/web/scheme", "/s/web/hosts/0", "/s/web/hosts/1", "/s/web/host_port"], { "/s/web/scheme": "http", "/s/web/hosts/0": "10.0.0.9:80" });
        expect(ops.filter((o) => o.op === "delete").map((o) => o.key)).to.deep.equal(["/s/web/hosts/1", "/s/web/host_port"]);
        expect(ops.filter((o) => o.op === "put").map((o) => o.key)).to.deep.equal(["/s/web/scheme", "/s/web/hosts/0"]);
    });

    const request = (overrides: Partial<ServiceWriteRequest> = {}): ServiceWriteRequest => ({
        owner: "me",
        definition: web,
        ownedBefore: [],
        mirrorToV2: false,
        mirroredBefore: [],
        adopt: false,
        ...overrides,
    });
    const empty = { keys: {}, markerModRevision: "0" };

    it("owner markers store keys relative to the service root, and read the absolute keys older providers wrote", () => {
        const keys = ["/services/web/scheme", "/services/web/hosts/0", "/services/web/host_port"];
        const value = encodeOwnerMarker({ owner: "me", keys }, "/services/web");
        expect(JSON.parse(value)).to.deep.equal({ owner: "me", relativeKeys: ["host_port", "hosts/0", "scheme"] });
        expect(decodeOwnerMarker(value, "/services/web")).to.deep.equal({ owner: "me", keys: ["/services/web/host_port", "/services/web/hosts/0", "/services/web/scheme"] });
        expect(decodeOwnerMarker(JSON.stringify({ owner: "old", keys }), "/services/web"), "format of providers up to 1.2.0").to.deep.equal({ owner: "old", keys });
        expect(decodeOwnerMarker("not json", "/services/web")).to.equal(undefined);
        expect(decodeOwnerMarker(JSON.stringify({ owner: "x", relativeKeys: [1] }), "/services/web")).to.equal(undefined);
        expect(() => encodeOwnerMarker({ owner: "me", keys: ["/services/other/scheme"] }, "/services/web")).to.throw(/not under it/);
    });

    it("creates into an empty service: v3 ops end with the owner marker", () => {
        const plan = planServiceWrite(request(), empty);
        expect(plan.refusal).to.equal(undefined);
        expect(plan.v3[plan.v3.length - 1]).to.deep.equal({ op: "put", key: "/coreos-cluster/owners/services/web", value: plan.markerValue });
        expect(decodeOwnerMarker(plan.markerValue, "/services/web")).to.deep.equal({ owner: "me", keys: plan.ownedKeys.slice().sort() });
        expect(plan.v2).to.deep.equal([]);
    });

    it("refuses a service marked by another owner, or with unmarked keys, unless adopting", () => {
        const marked = { keys: { "/services/web/scheme": "http" }, markerValue: encodeOwnerMarker({ owner: "other", keys: ["/services/web/scheme"] }, "/services/web"), markerModRevision: "7" };
        expect(planServiceWrite(request(), marked).refusal).to.match(/already registered by another owner \(other/);
        expect(planServiceWrite(request(), { keys: { "/services/web/hosts/0": "1.2.3.4:5" }, markerModRevision: "0" }).refusal).to.match(/no owner marker/);
        expect(planServiceWrite(request({ mirrorToV2: true }), { ...empty, v2Keys: { "/services/web/scheme": "tcp" } }).refusal).to.match(/v2 keyspace/);
        const adopted = planServiceWrite(request({ adopt: true, definition: { ...web, hosts: ["10.0.0.1:8080"] } }), {
            ...marked,
            markerValue: encodeOwnerMarker({ owner: "other", keys: ["/services/web/scheme", "/services/web/hosts/0", "/services/web/hosts/1"] }, "/services/web"),
        });
        expect(adopted.refusal).to.equal(undefined);
        expect(adopted.v3.filter((o) => o.op === "delete").map((o) => o.key)).to.deep.equal(["/services/web/hosts/1"]);
    });

    it("adoptFrom takes over only a marker naming one of the listed owners, with that owner's keys", () => {
        const marker = (owner: string) => ({ keys: { "/services/web/scheme": "http", "/services/web/hosts/1": "b:1" }, markerValue: encodeOwnerMarker({ owner, keys: ["/services/web/scheme", "/services/web/hosts/1"] }, "/services/web"), markerModRevision: "3" });
        const handedOver = planServiceWrite(request({ adoptFrom: ["old-resource"], definition: { ...web, hosts: ["10.0.0.1:8080"] } }), marker("old-resource"));
        expect(handedOver.refusal).to.equal(undefined);
        expect(handedOver.v3.filter((o) => o.op === "delete").map((o) => o.key), "the old owner's stale host goes").to.deep.equal(["/services/web/hosts/1"]);
        expect(planServiceWrite(request({ adoptFrom: ["old-resource"] }), marker("stranger")).refusal).to.match(/already registered by another owner \(stranger/);
        expect(planServiceWrite(request({ adoptFrom: ["old-resource"] }), { keys: { "/services/web/hosts/0": "1.2.3.4:5" }, markerModRevision: "0" }).refusal, "unmarked keys are still refused").to.match(/no owner marker/);
    });

    it("a create run again by the same owner (its first result never saved) takes the keys its marker lists as its own", () => {
        const earlier = ["/services/web/scheme", "/services/web/hosts/0", "/services/web/hosts/1", "/services/web/hosts/2"];
        const snap = {
            keys: { "/services/web/scheme": "http", "/services/web/hosts/0": "a:1", "/services/web/hosts/1": "b:1", "/services/web/hosts/2": "c:1", "/services/web/weight": "3" },
            markerValue: encodeOwnerMarker({ owner: "me", keys: earlier }, "/services/web"),
            markerModRevision: "9",
        };
        const again = planServiceWrite(request({ definition: { ...web, hosts: ["10.0.0.1:8080"] } }), snap);
        expect(again.refusal).to.equal(undefined);
        expect(again.v3.filter((o) => o.op === "delete").map((o) => o.key)).to.deep.equal(["/services/web/hosts/1", "/services/web/hosts/2"]);
        expect(again.v3.map((o) => o.key)).not.to.include("/services/web/weight");
        expect(planServiceWrite(request({ owner: "someone-else" }), snap).refusal).to.match(/already registered by another owner \(me at/);
        // Keys its marker does not list stay another writer's, as on an update.
        const foreign = { ...snap, markerValue: encodeOwnerMarker({ owner: "me", keys: ["/services/web/scheme", "/services/web/hosts/0"] }, "/services/web") };
        expect(planServiceWrite(request(), foreign).refusal).to.match(/overwrite keys another writer added \(\/services\/web\/hosts\/1\)/);
        // Its v2 copies too, when mirroring.
        const mirrored = planServiceWrite(request({ mirrorToV2: true, definition: { ...web, hosts: ["10.0.0.1:8080"] } }), { ...snap, v2Keys: { "/services/web/scheme": "http", "/services/web/hosts/2": "c:1" } });
        expect(mirrored.refusal).to.equal(undefined);
        expect(mirrored.v2.filter((o) => o.op === "delete").map((o) => o.key)).to.deep.equal(["/services/web/hosts/1", "/services/web/hosts/2"]);
    });

    it("re-running a create by the same owner converges from whatever its earlier create wrote: exactly the declared keys, other writers' keys untouched", () => {
        const apply = (kv: KeyValues, ops: KeyOperation[]): KeyValues => {
            const out = { ...kv };
            for (const o of ops) {
                if (o.op === "put") out[o.key] = o.value;
                else delete out[o.key];
            }
            return out;
        };
        const host = fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 })).map(([o, port]) => `10.0.0.${o}:${port}`);
        const definition = fc.record({
            scheme: fc.constantFrom("http" as const, "tcp" as const),
            hosts: fc.uniqueArray(host, { maxLength: 6 }),
            hostPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        });
        fc.assert(
            fc.property(definition, definition, (first, second) => {
                const firstKeys = serviceKeyValues({ ...web, ...first });
                const markerKey = ownerMarkerKey("/services", "web");
                const etcd: KeyValues = { ...firstKeys, "/services/web/hosts/sidekick-1": "10.9.9.9:1", [markerKey]: encodeOwnerMarker({ owner: "me", keys: Object.keys(firstKeys) }, "/services/web") };
                const { [markerKey]: markerValue, ...keys } = etcd;
                const plan = planServiceWrite(request({ definition: { ...web, ...second } }), { keys, markerValue, markerModRevision: "5" });
                expect(plan.refusal).to.equal(undefined);
                const after = apply(etcd, plan.v3);
                const want = serviceKeyValues({ ...web, ...second });
                expect(after).to.deep.equal({ ...want, "/services/web/hosts/sidekick-1": "10.9.9.9:1", [markerKey]: encodeOwnerMarker({ owner: "me", keys: Object.keys(want) }, "/services/web") });
            }),
            { numRuns: 300 },
        );
    });

    it("owner ids are the same for every run of a resource and differ between resources, stacks and services", () => {
        const key = registrationOwnerKey({ organization: "organization", project: "shop", stack: "dev", resourceName: "billing-api" });
        expect(key).to.equal("organization/shop/dev/billing-api");
        expect(registrationId("/services", "billing", key)).to.equal("/services/billing@organization/shop/dev/billing-api");
        const ids = new Set(
            ["dev", "prod"].flatMap((stack) => ["a", "b"].flatMap((resourceName) => ["/services", "/apps"].map((prefix) => registrationId(prefix, "billing", registrationOwnerKey({ organization: "o", project: "p", stack, resourceName }))))),
        );
        expect(ids.size).to.equal(8);
    });

    it("on update, refuses to overwrite a key another writer added, and leaves unrelated keys alone", () => {
        const owned = ["/services/web/scheme", "/services/web/hosts/0"];
        const snap = { keys: { "/services/web/scheme": "http", "/services/web/hosts/0": "a", "/services/web/hosts/1": "sidekick:1", "/services/web/extra": "x" }, markerModRevision: "3" };
        expect(planServiceWrite(request({ ownedBefore: owned }), { ...snap, markerValue: encodeOwnerMarker({ owner: "me", keys: owned }, "/services/web") }).refusal).to.match(/hosts\/1/);
        const shrink = planServiceWrite(request({ ownedBefore: owned, definition: { ...web, hosts: ["10.0.0.1:8080"] } }), snap);
        expect(shrink.refusal).to.equal(undefined);
        expect(shrink.v3.map((o) => o.key)).not.to.include("/services/web/extra");
    });

    it("mirrors to v2 and removes the v2 copy when mirroring is turned off", () => {
        const on = planServiceWrite(request({ mirrorToV2: true }), { ...empty, v2Keys: {} });
        expect(on.v2.map((o) => o.op)).to.deep.equal(["put", "put", "put"]);
        const off = planServiceWrite(request({ ownedBefore: on.ownedKeys, mirroredBefore: on.mirroredKeys }), empty);
        expect(off.v2.every((o) => o.op === "delete")).to.equal(true);
        expect(off.mirroredKeys).to.deep.equal([]);
    });

    it("compensation puts back previous values and deletes keys that did not exist", () => {
        expect(compensationOps([{ op: "put", key: "a", value: "new" }, { op: "delete", key: "b" }, { op: "put", key: "c", value: "x" }], { a: "old", b: "kept" })).to.deep.equal([
            { op: "put", key: "a", value: "old" },
            { op: "put", key: "b", value: "kept" },
            { op: "delete", key: "c" },
        ]);
    });

    it("observes drift: changed and removed hosts, missing host_port, foreign keys ignored", () => {
        const owned = ["/s/web/scheme", "/s/web/hosts/0", "/s/web/hosts/1", "/s/web/hosts/2", "/s/web/host_port"];
        const seen = observedFields("/s/web", owned, { "/s/web/scheme": "http", "/s/web/hosts/0": "a:1", "/s/web/hosts/2": "changed:9", "/s/web/hosts/7": "foreign:1" });
        expect(seen).to.deep.equal({ scheme: "http", hosts: ["a:1", "changed:9"] });
    });
});

describe("service keys: transaction batching", () => {
    it("never exceeds the limit, never splits a group, keeps order", () => {
        fc.assert(
            fc.property(fc.array(fc.integer({ min: 1, max: MAX_TXN_OPS }), { maxLength: 200 }), (sizes) => {
                const groups = sizes.map((n, g) => Array.from({ length: n }, (_, k) => `${g}:${k}`));
                const batches = batchOperationGroups(groups);
                for (const batch of batches) expect(batch.reduce((s, g) => s + g.length, 0)).to.be.at.most(MAX_TXN_OPS);
                expect(batches.flat()).to.deep.equal(groups);
                // Greedy packing: no two neighbouring batches could have been merged.
                for (let i = 1; i < batches.length; i++) {
                    const size = (b: string[][]) => b.reduce((s, g) => s + g.length, 0);
                    expect(size(batches[i - 1]) + batches[i][0].length).to.be.greaterThan(MAX_TXN_OPS);
                }
            }),
        );
    });

    it("rejects a single service larger than one transaction", () => {
        expect(() => batchOperationGroups([Array.from({ length: 129 }, (_, i) => i)])).to.throw(/128-operation transaction limit/);
    });
});
