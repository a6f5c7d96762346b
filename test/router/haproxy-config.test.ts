// The one function that turns service keys into HAProxy text: its routing rules, its refusals
// (each naming the key), and that what it renders is accepted by the real `haproxy -c`.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseServiceKeys, renderHaproxyConfig, RouterConfigOptions } from "../../router/haproxy-config";

const OPTIONS: RouterConfigOptions = {
    prefix: "/services",
    bindAddress: "0.0.0.0",
    httpPorts: [80, 443],
    reservedPorts: [{ port: 10256, what: "the worker health check" }],
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

function render(keys: Record<string, string>, options: Partial<RouterConfigOptions> = {}) {
    return renderHaproxyConfig(keys, { ...OPTIONS, ...options });
}

function text(keys: Record<string, string>): string {
    const result = render(keys);
    if (!result.ok) throw new Error(result.problems.join("; "));
    return result.text;
}

describe("renderHaproxyConfig (pure)", () => {
    it("reads only <prefix>/<name>/..., services by name, hosts by key", () => {
        const { services, problems } = parseServiceKeys(KEYS, "/services");
        expect(problems).to.deep.equal([]);
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
        expect(cfg).to.match(/backend http_web\n    mode http\n    balance roundrobin\n.*\n    server 0 10\.0\.0\.5:8080 check[^\n]*\n    server 1 10\.0\.0\.6:8080 check/);
        expect(cfg).to.contain('status 404 content-type "text/plain" string "404 no service routes this Host or path (http services: idle, web)"');
        expect(cfg).to.contain('http-request return status 503 content-type "text/plain" string "503 service idle has no registered host"');
        expect(cfg).to.not.contain("backend http_redis");
        expect(cfg).to.contain("frontend tcp_redis\n    mode tcp\n    bind 0.0.0.0:6379\n    default_backend tcp_redis");
        expect(cfg).to.contain("stats socket /run/coreos-router/haproxy.sock mode 600 level admin expose-fd listeners");
    });

    it("is deterministic: the same keys in any order give the same text", () => {
        const reversed = Object.fromEntries(Object.entries(KEYS).reverse());
        expect(text(reversed)).to.equal(text(KEYS));
    });

    it("an http service with a host_port also gets a TCP frontend", () => {
        expect(text({ ...KEYS, "/services/web/host_port": "8081" })).to.contain("frontend tcp_web\n    mode tcp\n    bind 0.0.0.0:8081");
    });

    it("refuses bad data with every problem, each naming its key, and renders nothing", () => {
        const result = render({
            ...KEYS,
            "/services/web/hosts/2": "not-a-host",
            "/services/web/hosts/bad id": "10.0.0.9:80",
            "/services/noscheme/hosts/0": "10.0.0.8:80",
            "/services/odd/scheme": "udp",
            "/services/db/scheme": "tcp",
            "/services/Bad_Name/scheme": "http",
            "/services/clash/scheme": "tcp",
            "/services/clash/host_port": "443",
            "/services/health/scheme": "tcp",
            "/services/health/host_port": "10256",
            "/services/twin/scheme": "tcp",
            "/services/twin/host_port": "6379",
            "/services/big/scheme": "tcp",
            "/services/big/host_port": "70000",
        });
        expect(result.ok).to.equal(false);
        const problems = (result as { problems: string[] }).problems;
        const expected = [
            '/services/web/hosts/2: "not-a-host" is not ip:port',
            '/services/web/hosts/bad id: host key "bad id"',
            "/services/noscheme/scheme is missing",
            '/services/odd/scheme: "udp" must be http or tcp',
            "/services/db/host_port is missing (required for a tcp service)",
            '/services/Bad_Name/scheme: "Bad_Name" is not a valid service name',
            "/services/clash/host_port: 443 is already taken by HTTP port 443 (lbHttpPorts)",
            "/services/health/host_port: 10256 is already taken by the worker health check",
            "/services/twin/host_port: 6379 is already taken by service redis's host_port",
            '/services/big/host_port: "70000" must be a port 1-65535',
        ];
        for (const e of expected) expect(problems.some((p) => p.startsWith(e)), `${e}\nin\n${problems.join("\n")}`).to.equal(true);
        expect(problems).to.have.length(expected.length);
    });

    it("refuses to serve without an HTTP port", () => {
        const result = render(KEYS, { httpPorts: [] });
        expect(result.ok).to.equal(false);
    });

    it("no services at all still renders a config that answers 404", () => {
        expect(text({})).to.contain("(http services: none)");
    });

    it("what it renders passes the real haproxy -c (Debian's HAProxy)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "router-cfg-"));
        try {
            for (const [name, keys] of Object.entries({ full: KEYS, empty: {} as Record<string, string> })) {
                const file = path.join(dir, `${name}.cfg`);
                fs.writeFileSync(file, text(keys));
                execFileSync("haproxy", ["-c", "-q", "-f", file]);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
