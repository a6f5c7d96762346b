// The one function that turns service keys into HAProxy text: its routing rules, what it does
// with bad data (each bad service skipped with its reasons, every other one rendered), and that
// what it renders is accepted by the real `haproxy -c`.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ROUTER_HAPROXY_USER } from "../../model/router-contract";
import { SERVICE_NAME } from "../../model/service-naming";
import { KeyEntry, parseServiceKeys, renderHaproxyConfig, RouterConfigOptions, RouterConfigResult, shown } from "../../router/haproxy-config";

const OPTIONS: RouterConfigOptions = {
    prefix: "/services",
    bindAddress: "0.0.0.0",
    httpPorts: [80, 443],
    healthPort: 10256,
    memberAddresses: ["10.0.0.2", "10.0.0.3"],
    runDir: "/run/coreos-router",
};

const KEYS = {
    "/services/web/scheme": "http",
    "/services/web/hosts/1": "10.0.0.6:8080",
    "/services/web/hosts/0": "10.0.0.5:8080",
    "/services/redis/scheme": "tcp",
    "/services/redis/host_port": "6379",
    "/services/redis/hosts/0": "10.0.0.7:6379",
    "/services/idle/scheme": "http",
    "/other/app/scheme": "http",
    "/servicesx/app/scheme": "http",
};
const GOOD = ["idle", "redis", "web"];

function render(keys: Record<string, string> | Map<string, string | KeyEntry>, options: Partial<RouterConfigOptions> = {}): RouterConfigResult {
    return renderHaproxyConfig(keys, { ...OPTIONS, ...options });
}

function text(keys: Record<string, string>): string {
    const result = render(keys);
    if (!result.ok) throw new Error(result.problems.join("; "));
    expect(result.skipped, "nothing skipped").to.deep.equal([]);
    return result.text;
}

/** Renders KEYS plus `bad`, and checks: the good services still render, exactly `skipped` are skipped, each with a reason matching. */
function expectSkipped(bad: Record<string, string>, skipped: Record<string, RegExp>, good = GOOD): RouterConfigResult & { ok: true } {
    const result = render({ ...KEYS, ...bad });
    expect(result.ok, "renders").to.equal(true);
    const ok = result as RouterConfigResult & { ok: true };
    expect(ok.services.map((s) => s.name), "the good services keep routing").to.deep.equal(good);
    expect(ok.skipped.map((s) => s.service).sort()).to.deep.equal(Object.keys(skipped).sort());
    for (const [service, reason] of Object.entries(skipped)) {
        const entry = ok.skipped.find((s) => s.service === service)!;
        expect(entry.problems.some((p) => reason.test(p)), `${service}: ${reason} in\n${entry.problems.join("\n")}`).to.equal(true);
    }
    for (const name of good) expect(ok.text).to.match(new RegExp(`(backend http_|frontend tcp_)${name}\\n`));
    for (const s of ok.skipped) expect(ok.text, `no section for skipped ${s.service}`).to.not.match(new RegExp(`(http|tcp)_${s.service}\\b`));
    return ok;
}

describe("renderHaproxyConfig (pure)", () => {
    it("reads only <prefix>/<name>/..., services by name, hosts by key", () => {
        const { services, skipped } = parseServiceKeys(KEYS, "/services");
        expect(skipped).to.deep.equal([]);
        expect(services).to.deep.equal([
            { name: "idle", scheme: "http", hosts: [] },
            { name: "redis", scheme: "tcp", hosts: [{ id: "0", address: "10.0.0.7:6379" }], hostPort: 6379 },
            { name: "web", scheme: "http", hosts: [{ id: "0", address: "10.0.0.5:8080" }, { id: "1", address: "10.0.0.6:8080" }] },
        ]);
    });

    it("binds every HTTP port, routes Host then path (stripping /<name>), round robin, 404 and 503 text", () => {
        const cfg = text(KEYS);
        expect(cfg).to.contain("    bind 0.0.0.0:80\n    bind 0.0.0.0:443\n");
        expect(cfg).to.contain("acl host_web hdr_beg(host) -i web.");
        expect(cfg).to.contain("acl path_web path /web\n    acl path_web path_beg /web/");
        expect(cfg).to.contain("http-request set-path %[path,regsub(^/web/?,/)] if { var(txn.route) -m str web } !host_web");
        // Hosts sit in slots (router/slots.ts): 8 server lines, the free ones disabled (maintenance).
        expect(cfg).to.match(/backend http_web\n    mode http\n    balance roundrobin\n.*\n    server s1 10\.0\.0\.5:8080 check[^\n]*\n    server s2 10\.0\.0\.6:8080 check[^\n]*\n    server s3 0\.0\.0\.0:1 disabled check/);
        expect(cfg.match(/    server s\d+ /g)).to.have.length(3 * 8);
        expect(cfg).to.contain('status 404 content-type "text/plain" string "404 no service routes this Host or path (http services: idle, web)"');
        // No host at all is the same 503 as no live host: a first host then needs no reload.
        expect(cfg).to.contain('http-error status 503 content-type "text/plain" string "503 service idle has no live host (none registered, or none answers its check)"');
        expect(cfg).to.not.contain("http-request return status 503");
        expect(cfg).to.not.contain("backend http_redis");
        expect(cfg).to.contain("frontend tcp_redis\n    mode tcp\n    bind 0.0.0.0:6379\n    default_backend tcp_redis");
    });

    it("HAProxy's workers drop root; the admin socket stays root's alone (mode 600, bound by the root master)", () => {
        const cfg = text(KEYS);
        expect(cfg).to.contain(`\n    user ${ROUTER_HAPROXY_USER}\n    group ${ROUTER_HAPROXY_USER}\n`);
        expect(cfg).to.contain("stats socket /run/coreos-router/haproxy.sock mode 600 level admin expose-fd listeners");
        expect(cfg, "no owner handed to the workers' user").to.not.match(/stats socket .*\b(uid|user|gid|group)\b/);
    });

    it("is deterministic: the same keys in any order give the same text, a Map as a record", () => {
        const reversed = Object.fromEntries(Object.entries(KEYS).reverse());
        expect(text(reversed)).to.equal(text(KEYS));
        const asMap = render(new Map(Object.entries(KEYS).map(([k, v], i) => [k, { value: v, createRevision: 100 - i }])));
        expect(asMap.ok && asMap.text).to.equal(text(KEYS));
    });

    it("an http service with a host_port also gets a TCP frontend", () => {
        expect(text({ ...KEYS, "/services/web/host_port": "8081" })).to.contain("frontend tcp_web\n    mode tcp\n    bind 0.0.0.0:8081");
    });

    it("no services at all still renders a config that answers 404", () => {
        expect(text({})).to.contain("(http services: none)");
    });

    it("only a problem of the router itself renders nothing: no HTTP port", () => {
        const result = render(KEYS, { httpPorts: [] });
        expect(result.ok).to.equal(false);
        expect((result as { problems: string[] }).problems.join()).to.contain("no HTTP port");
    });

    describe("a bad service is skipped and reported; every other one renders", () => {
        it("a key whose name segment is not a service name (and a key right under the prefix)", () => {
            const ok = expectSkipped(
                { "/services/Bad_Name/scheme": "http", "/services/Bad_Name/hosts/0": "10.0.0.8:80", "/services/stray": "x", "/services//scheme": "http" },
                {
                    Bad_Name: /Bad_Name is not a service name.*\/services\/Bad_Name\/hosts\/0, \/services\/Bad_Name\/scheme/,
                    '""': /is not a service name/,
                    // A valid name with no scheme: a service missing its scheme.
                    stray: /\/services\/stray\/scheme is missing/,
                },
            );
            expect(ok.skipped).to.have.length(3);
        });

        it("a bad scheme, a missing scheme", () => {
            expectSkipped(
                { "/services/odd/scheme": "udp", "/services/odd/hosts/0": "10.0.0.8:80", "/services/noscheme/hosts/0": "10.0.0.8:80" },
                { odd: /\/services\/odd\/scheme: udp must be http or tcp/, noscheme: /\/services\/noscheme\/scheme is missing/ },
            );
        });

        it("a host that breaks the grammar: not ip:port, a name, IPv6, leading zeros, port 0, a bad host key", () => {
            const hosts = ["not-a-host", "db.internal:5432", "[fd00::1]:80", "10.0.0.08:80", "10.0.0.8:0", "10.0.0.8:70000", " 10.0.0.8:80", "10.0.0.8:80\nserver x 1.2.3.4:1"];
            const bad: Record<string, string> = {};
            const skipped: Record<string, RegExp> = {};
            hosts.forEach((h, i) => {
                bad[`/services/g${i}/scheme`] = "http";
                bad[`/services/g${i}/hosts/0`] = h;
                skipped[`g${i}`] = /is not ip:port/;
            });
            bad["/services/badid/scheme"] = "http";
            bad["/services/badid/hosts/bad id"] = "10.0.0.9:80";
            skipped.badid = /host key "bad id" must be 1-64/;
            const ok = expectSkipped(bad, skipped);
            expect(ok.text).to.not.contain("1.2.3.4");
        });

        it("a host on loopback, link-local (the metadata server), unspecified, multicast, broadcast", () => {
            const hosts: Record<string, RegExp> = {
                "127.0.0.1:2379": /loopback/,
                "127.8.9.10:8080": /loopback/,
                "169.254.169.254:80": /link-local/,
                "0.0.0.0:80": /unspecified/,
                "224.0.0.1:80": /multicast/,
                "255.255.255.255:80": /broadcast/,
            };
            const bad: Record<string, string> = {};
            const skipped: Record<string, RegExp> = {};
            Object.entries(hosts).forEach(([h, why], i) => {
                bad[`/services/h${i}/scheme`] = "http";
                bad[`/services/h${i}/hosts/0`] = "10.0.0.5:8080"; // a good host does not save the service
                bad[`/services/h${i}/hosts/1`] = h;
                skipped[`h${i}`] = why;
            });
            expectSkipped(bad, skipped);
        });

        it("a host on an etcd member's address, on the health port, on another port the cluster keeps (2379, 2380, 22, 53)", () => {
            expectSkipped(
                {
                    "/services/member/scheme": "http",
                    "/services/member/hosts/0": "10.0.0.3:8080",
                    "/services/health/scheme": "http",
                    "/services/health/hosts/0": "10.0.0.9:10256",
                    "/services/proxy/scheme": "http",
                    "/services/proxy/hosts/0": "10.0.0.9:2379",
                    "/services/peer/scheme": "tcp",
                    "/services/peer/host_port": "7000",
                    "/services/peer/hosts/0": "10.0.0.9:2380",
                    "/services/ssh/scheme": "tcp",
                    "/services/ssh/host_port": "7001",
                    "/services/ssh/hosts/0": "10.0.0.9:22",
                    "/services/dns/scheme": "http",
                    "/services/dns/hosts/0": "10.0.0.9:53",
                },
                { member: /etcd member/, health: /port 10256, the worker health check/, proxy: /port 2379/, peer: /port 2380/, ssh: /port 22/, dns: /port 53/ },
            );
        });

        it("a host_port that is not a port, a system port, in Docker's ephemeral range, on a fixed role, on an HTTP port; a tcp service without one", () => {
            const ports: Record<string, RegExp> = {
                "70000": /must be a port 1-65535/,
                "0": /must be a port 1-65535/,
                "06380": /no leading zero/,
                "63 80": /must be a port/,
                "22": /system port/,
                "25": /system port/,
                "1023": /system port/,
                "32768": /Docker.s range for containers. published ports/,
                "60999": /Docker.s ephemeral port range/,
                "2379": /etcd client port/,
                "2380": /etcd peer port/,
                "10256": /the worker health check/,
                "443": /HTTP port of the router/,
                "80": /HTTP port of the router/,
            };
            const bad: Record<string, string> = { "/services/db/scheme": "tcp", "/services/db/hosts/0": "10.0.0.9:5432" };
            const skipped: Record<string, RegExp> = { db: /\/services\/db\/host_port is missing \(required for a tcp service\)/ };
            Object.entries(ports).forEach(([port, why], i) => {
                bad[`/services/p${i}/scheme`] = i % 2 ? "tcp" : "http";
                bad[`/services/p${i}/host_port`] = port;
                bad[`/services/p${i}/hosts/0`] = "10.0.0.9:7000";
                skipped[`p${i}`] = why;
            });
            expectSkipped(bad, skipped);
        });

        it("two services on one host_port: the one registered first (lower create revision of its host_port key) keeps it", () => {
            const keys = new Map<string, string | KeyEntry>(Object.entries(KEYS).map(([k, v]) => [k, { value: v, createRevision: 10 }]));
            keys.set("/services/cache/scheme", { value: "tcp", createRevision: 20 });
            keys.set("/services/cache/host_port", { value: "6379", createRevision: 20 });
            keys.set("/services/cache/hosts/0", { value: "10.0.0.9:6379", createRevision: 20 });
            const result = render(keys) as RouterConfigResult & { ok: true };
            expect(result.services.map((s) => s.name)).to.deep.equal(GOOD);
            expect(result.skipped).to.have.length(1);
            expect(result.skipped[0].service).to.equal("cache");
            expect(result.skipped[0].problems.join()).to.match(/\/services\/cache\/host_port: port 6379 is the host_port of service cache here and also the host_port of service redis/);
            expect(result.skipped[0].problems.join()).to.contain("redis registered it first (its host_port key was created at etcd revision 10, this one at 20)");
            // Written first by name order or not, the earlier revision wins.
            keys.set("/services/aaa/scheme", { value: "tcp", createRevision: 5 });
            keys.set("/services/aaa/host_port", { value: "6379", createRevision: 5 });
            const again = render(keys) as RouterConfigResult & { ok: true };
            expect(again.services.map((s) => s.name)).to.deep.equal(["aaa", "idle", "web"]);
            expect(again.skipped.map((s) => s.service)).to.deep.equal(["cache", "redis"]);
        });

        it("two services on one host_port created in the same revision (or with no revisions known): neither keeps it", () => {
            expectSkipped(
                { "/services/twin/scheme": "tcp", "/services/twin/host_port": "6379", "/services/twin/hosts/0": "10.0.0.9:6379" },
                { twin: /neither keeps it/, redis: /neither keeps it/ },
                ["idle", "web"],
            );
        });

        it("names that are an object's built-in properties are services like any other", () => {
            const names = ["constructor", "hasownproperty", "tostring", "valueof", "isprototypeof", "proto", "prototype", "propertyisenumerable", "tolocalestring", "define-getter"];
            const keys: Record<string, string> = { ...KEYS };
            for (const name of names) {
                keys[`/services/${name}/scheme`] = "http";
                keys[`/services/${name}/hosts/0`] = "10.0.0.9:8080";
            }
            // An own "__proto__" key (JSON, Object.defineProperty) is data too.
            const withProto = JSON.parse(JSON.stringify(keys).replace(/^\{/, '{"/services/__proto__/scheme":"http","__proto__":"x",'));
            const result = render(withProto) as RouterConfigResult & { ok: true };
            expect(result.ok).to.equal(true);
            expect(result.services.map((s) => s.name)).to.deep.equal([...GOOD, ...names].sort());
            expect(result.skipped.map((s) => s.service)).to.deep.equal(["__proto__"]);
            expect(Object.prototype).to.not.have.property("hosts");
        });

        it("shows a hostile key or value escaped and short, never raw", () => {
            const ok = expectSkipped(
                { "/services/x\nbad/scheme": "http", "/services/evil/scheme": "http\nglobal", "/services/evil/hosts/0": `${"9".repeat(500)}\u2028` },
                { '"x\\nbad"': /is not a service name/, evil: /\/services\/evil\/scheme: "http\\nglobal" must be http or tcp/ },
            );
            const text = JSON.stringify(ok.skipped);
            expect(text.length).to.be.below(2000);
            expect(shown("a\u2028b")).to.equal('"a\\u2028b"');
        });

        it("a service with thousands of bad keys is one short report", () => {
            const bad: Record<string, string> = { "/services/flood/scheme": "http" };
            for (let i = 0; i < 5000; i++) bad[`/services/flood/hosts/${i}`] = `127.0.0.${i % 250}:80`;
            const ok = expectSkipped(bad, { flood: /loopback/ });
            expect(ok.skipped[0].problems).to.have.length(11);
            expect(ok.skipped[0].problems[10]).to.equal("and 4990 more");
        });
    });

    it("property: any service name and any values never throw, and never cost a valid sibling its route", () => {
        const name = fc.stringMatching(SERVICE_NAME);
        const anyText = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("http", "tcp", "80", "6379", "10.0.0.9:80", "127.0.0.1:80", "", "constructor"));
        const field = fc.oneof(fc.constantFrom("scheme", "host_port", "hosts/0", "hosts/1", "hosts", "hosts/", "hosts/a/b", ""), fc.string());
        const junk = fc.array(fc.record({ name: fc.oneof(name, fc.string()), field, value: anyText }), { maxLength: 12 });
        fc.assert(
            fc.property(junk, fc.integer({ min: 1, max: 3 }), (entries, siblings) => {
                const keys = new Map<string, string>();
                for (const e of entries) keys.set(`/services/${e.name}${e.field === "" ? "" : `/${e.field}`}`, e.value);
                const touched = new Set([...keys.keys()].map((k) => k.slice("/services/".length).split("/")[0]));
                // Valid siblings: names the junk does not write, their own hosts and host_ports.
                const valid: string[] = [];
                for (let i = 0; i < siblings; i++) {
                    const sibling = `valid-sibling-${i}`;
                    if (touched.has(sibling)) continue;
                    valid.push(sibling);
                    keys.set(`/services/${sibling}/scheme`, "http");
                    keys.set(`/services/${sibling}/hosts/0`, `10.9.0.${i + 1}:8080`);
                }
                const result = renderHaproxyConfig(keys, OPTIONS);
                expect(result.ok).to.equal(true);
                const ok = result as RouterConfigResult & { ok: true };
                for (const v of valid) {
                    expect(ok.services.map((s) => s.name)).to.include(v);
                    expect(ok.text).to.contain(`backend http_${v}\n`);
                }
                // Whatever is routed passed every rule; whatever is not is reported.
                for (const s of ok.services) expect(SERVICE_NAME.test(s.name)).to.equal(true);
                for (const s of ok.skipped) expect(s.problems.length).to.be.greaterThan(0);
                for (const line of ok.text.split("\n")) expect(line).to.match(/^[\x20-\x7e]*$/);
            }),
            { numRuns: 400 },
        );
    });

    it("what it renders passes the real haproxy -c (Debian's HAProxy), the workers' user included, with bad services in the keys", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "router-cfg-"));
        try {
            const withBad = { ...KEYS, "/services/constructor/scheme": "http", "/services/constructor/hosts/0": "10.0.0.9:80", "/services/evil/scheme": "tcp", "/services/evil/host_port": "22" };
            for (const [name, keys] of Object.entries({ full: KEYS, empty: {} as Record<string, string>, withBad })) {
                const file = path.join(dir, `${name}.cfg`);
                const result = render(keys);
                fs.writeFileSync(file, (result as { text: string }).text);
                execFileSync("haproxy", ["-c", "-q", "-f", file]);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
