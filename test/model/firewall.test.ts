import { expect } from "chai";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { FirewallRuleSpec, firewallMatrix, loadBalancedPorts, serviceBackendPorts } from "../../model/firewall";
import { readStackFile } from "../../model/stack-config";
import { ClusterConfig } from "../../model/types";
import { gcpRaw, LOCAL_TUNNEL, localRaw, prodRaw } from "./raw-configs";

function matrixFor(config: ClusterConfig): FirewallRuleSpec[] {
    return firewallMatrix(config, planCluster(config));
}

/** Does `rule` let TCP `port` in from anywhere on the internet? */
function opensToWorld(rule: FirewallRuleSpec, port: number): boolean {
    const world = (rule.sourceRanges ?? []).some((r) => r.endsWith("/0"));
    return world && rule.allow.some((a) => !a.ports || a.ports.some((p) => portIn(p, port)));
}

function portIn(spec: string, port: number): boolean {
    const [lo, hi] = spec.split("-").map(Number);
    return port >= lo && port <= (hi ?? lo);
}

describe("model/firewall: the least-privilege matrix, as data", () => {
    const config = loadConfig(gcpRaw({ lbTcpPorts: [8443], sshSourceRanges: ["35.235.240.0/20", "203.0.113.0/24"] }), "dev");
    const rules = matrixFor(config);
    const byName = new Map(rules.map((r) => [r.name, r]));

    it("has exactly these rules, named <cluster>-<purpose>", () => {
        expect(rules.map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-client", "demo-ssh", "demo-ingress", "demo-ingress-internal", "demo-service-backends", "demo-health-check"]);
        for (const r of rules) expect(r.direction).to.equal("INGRESS");
    });

    it("allows the etcd peer port only from etcd members to etcd members", () => {
        expect(byName.get("demo-etcd-peer")).to.deep.include({
            sourceTags: ["demo-etcd"],
            targetTags: ["demo-etcd"],
            allow: [{ protocol: "tcp", ports: ["2380"] }],
        });
        expect(byName.get("demo-etcd-peer")!.sourceRanges).to.equal(undefined);
    });

    it("admits nothing but members to the peer port: the workers' etcd gateway dials client ports only", () => {
        const toPeerPort = rules.filter((r) => r.allow.some((a) => a.ports?.includes("2380")));
        expect(toPeerPort.map((r) => r.name)).to.deep.equal(["demo-etcd-peer"]);
        expect(byName.has("demo-etcd-peer-proxies")).to.equal(false);
    });

    it("allows the etcd client port only from workers and members, to members", () => {
        expect(byName.get("demo-etcd-client")).to.deep.include({
            sourceTags: ["demo-etcd", "demo-worker"],
            targetTags: ["demo-etcd"],
            allow: [{ protocol: "tcp", ports: ["2379"] }],
        });
        expect(byName.get("demo-etcd-client")!.sourceRanges).to.equal(undefined);
    });

    it("allows SSH only from the configured ranges, to both roles", () => {
        expect(byName.get("demo-ssh")).to.deep.include({
            sourceRanges: ["35.235.240.0/20", "203.0.113.0/24"],
            targetTags: ["demo-etcd", "demo-worker"],
            allow: [{ protocol: "tcp", ports: ["22"] }],
        });
        expect(byName.get("demo-ssh")!.sourceTags).to.equal(undefined);
    });

    it("forwards HTTP ports and extra TCP ports from the world to workers; a tcp service's host_port only from the subnet", () => {
        expect(byName.get("demo-ingress")).to.deep.include({
            sourceRanges: ["0.0.0.0/0"],
            targetTags: ["demo-worker"],
            allow: [{ protocol: "tcp", ports: ["80", "8443"] }],
        });
        expect(loadBalancedPorts(config)).to.deep.equal([80, 8443]);
        expect(byName.get("demo-ingress-internal")).to.deep.include({
            sourceRanges: [config.gcp.subnetCidr],
            targetTags: ["demo-worker"],
            allow: [{ protocol: "tcp", ports: ["6379"] }],
        });
    });

    it("opens a service's host_port to the world only when the service says public: true", () => {
        const services = [{ name: "redis", scheme: "tcp", hosts: ["10.10.0.22:6379"], host_port: 6379, public: true }];
        const open = matrixFor(loadConfig(gcpRaw({ services }), "dev"));
        expect(open.find((r) => r.name === "demo-ingress")!.allow[0].ports).to.include("6379");
        expect(open.map((r) => r.name)).to.not.include("demo-ingress-internal");
    });

    it("admits workers' routers to the services' hosts on workers: worker tag to worker tag, exactly the hosts' ports", () => {
        const rule = byName.get("demo-service-backends")!;
        expect(rule).to.deep.equal({
            name: "demo-service-backends",
            description: rule.description,
            direction: "INGRESS",
            sourceTags: ["demo-worker"],
            targetTags: ["demo-worker"],
            allow: [{ protocol: "tcp", ports: ["6379", "8080"] }],
        });
        expect(rule.sourceRanges).to.equal(undefined);
    });

    it("counts http and tcp services' hosts, each port once, sorted", () => {
        const services = [
            { name: "web", scheme: "http", hosts: ["10.10.0.20:8080", "10.10.0.21:8080", "10.10.0.23:9090"] },
            { name: "api", scheme: "http", hosts: ["10.10.0.24:8080"] },
            { name: "pg", scheme: "tcp", hosts: ["10.10.0.25:5432", "10.10.0.26:5432"], host_port: 15432 },
        ];
        const rule = matrixFor(loadConfig(gcpRaw({ services }), "dev")).find((r) => r.name === "demo-service-backends")!;
        expect(rule.allow).to.deep.equal([{ protocol: "tcp", ports: ["5432", "8080", "9090"] }]);
    });

    it("has no backends rule when no service is declared", () => {
        const none = matrixFor(loadConfig(gcpRaw({ services: [], fleetUnits: [] }), "dev"));
        expect(none.map((r) => r.name)).to.not.include("demo-service-backends");
        expect(none.filter((r) => (r.sourceTags ?? []).includes("demo-worker") && r.targetTags.includes("demo-worker"))).to.deep.equal([]);
    });

    it("leaves out hosts outside the subnet (egress, not the firewall's concern) and hosts on a member's address", () => {
        const config = loadConfig(gcpRaw({ services: [{ name: "ext", scheme: "http", hosts: ["203.0.113.7:8443", "10.10.0.20:8080"] }] }), "dev");
        // The config refuses a host on a member (model/service-hosts.ts); the matrix must leave one out all the same.
        config.services.push({ name: "onmember", scheme: "tcp", hosts: ["10.10.0.2:7000"], hostPort: 7000 });
        expect(serviceBackendPorts(config, planCluster(config))).to.deep.equal([8080]);
        const onlyExternal = loadConfig(gcpRaw({ services: [{ name: "ext", scheme: "http", hosts: ["203.0.113.7:8443"] }] }), "dev");
        expect(matrixFor(onlyExternal).map((r) => r.name)).to.not.include("demo-service-backends");
    });

    it("on the local platform counts hosts on planned workers, and only when another worker's router dials them", () => {
        const services = [
            { name: "web", scheme: "http", hosts: ["10.213.10.13:8080", "10.213.10.14:8081"] },
            { name: "elsewhere", scheme: "http", hosts: ["10.213.10.99:9000"] },
        ];
        const two = loadConfig(localRaw({ services, localWorkers: 2, sshTunnel: LOCAL_TUNNEL }), "local");
        expect(serviceBackendPorts(two, planCluster(two))).to.deep.equal([8080, 8081]);
        const one = loadConfig(localRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.213.10.13:8080"] }], localWorkers: 1, sshTunnel: LOCAL_TUNNEL }), "local");
        expect(serviceBackendPorts(one, planCluster(one))).to.deep.equal([]);
    });

    it("lets health checks in only from Google's probe ranges, on the health-check port, to workers", () => {
        expect(byName.get("demo-health-check")).to.deep.include({
            sourceRanges: ["35.191.0.0/16", "130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22"],
            targetTags: ["demo-worker"],
            allow: [{ protocol: "tcp", ports: ["10256"] }],
        });
    });

    it("targets members only with etcd and SSH rules, nothing load-balanced", () => {
        const toMembers = rules.filter((r) => r.targetTags.includes("demo-etcd"));
        expect(toMembers.map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-client", "demo-ssh"]);
    });

    it("never opens 2379, 2380 or 22 to 0.0.0.0/0 in any shipped stack or by default", () => {
        const configs = [
            loadConfig(gcpRaw(), "dev"),
            loadConfig(prodRaw(), "prod"),
            ...["dev", "prod", "local"].map((s) => loadConfig(readStackFile(s), s)),
        ];
        for (const c of configs) {
            for (const rule of matrixFor(c)) {
                for (const port of [22, 2379, 2380]) {
                    expect(opensToWorld(rule, port), `${rule.name} opens ${port} to the world`).to.equal(false);
                }
            }
        }
    });

    it("the only rule with a world source is the load-balanced ingress to workers", () => {
        const world = rules.filter((r) => (r.sourceRanges ?? []).includes("0.0.0.0/0"));
        expect(world.map((r) => [r.name, r.targetTags])).to.deep.equal([["demo-ingress", ["demo-worker"]]]);
    });

    it("drops the SSH rule when no source range is configured, and the ingress rule when no port is balanced", () => {
        const closed = loadConfig(gcpRaw({ sshSourceRanges: [], lbHttpPorts: [], services: [] }), "dev");
        expect(matrixFor(closed).map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-client", "demo-health-check"]);
    });

    it("opens SSH to the world only when sshAllowWorld says so", () => {
        const open = loadConfig(gcpRaw({ sshSourceRanges: ["0.0.0.0/0"], sshAllowWorld: true }), "dev");
        const ssh = matrixFor(open).find((r) => r.name === "demo-ssh")!;
        expect(opensToWorld(ssh, 22)).to.equal(true);
    });
});
