import { expect } from "chai";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { FirewallRuleSpec, firewallMatrix, loadBalancedPorts } from "../../model/firewall";
import { readStackFile } from "../../model/stack-config";
import { ClusterConfig } from "../../model/types";
import { gcpRaw, prodRaw } from "./raw-configs";

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
        expect(rules.map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-peer-proxies", "demo-etcd-client", "demo-ssh", "demo-ingress", "demo-ingress-internal", "demo-health-check"]);
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

    it("admits workers' proxies to the members' peer port, where they read the member list", () => {
        expect(byName.get("demo-etcd-peer-proxies")).to.deep.include({
            sourceTags: ["demo-worker"],
            targetTags: ["demo-etcd"],
            allow: [{ protocol: "tcp", ports: ["2380"] }],
        });
        expect(byName.get("demo-etcd-peer-proxies")!.sourceRanges).to.equal(undefined);
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
            allow: [{ protocol: "tcp", ports: ["80", "443", "8443"] }],
        });
        expect(loadBalancedPorts(config)).to.deep.equal([80, 443, 8443]);
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

    it("lets health checks in only from Google's probe ranges, on the health-check port, to workers", () => {
        expect(byName.get("demo-health-check")).to.deep.include({
            sourceRanges: ["35.191.0.0/16", "130.211.0.0/22", "209.85.152.0/22", "209.85.204.0/22"],
            targetTags: ["demo-worker"],
            allow: [{ protocol: "tcp", ports: ["10256"] }],
        });
    });

    it("targets members only with etcd and SSH rules, nothing load-balanced", () => {
        const toMembers = rules.filter((r) => r.targetTags.includes("demo-etcd"));
        expect(toMembers.map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-peer-proxies", "demo-etcd-client", "demo-ssh"]);
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
        expect(matrixFor(closed).map((r) => r.name)).to.deep.equal(["demo-etcd-peer", "demo-etcd-peer-proxies", "demo-etcd-client", "demo-health-check"]);
    });

    it("opens SSH to the world only when sshAllowWorld says so", () => {
        const open = loadConfig(gcpRaw({ sshSourceRanges: ["0.0.0.0/0"], sshAllowWorld: true }), "dev");
        const ssh = matrixFor(open).find((r) => r.name === "demo-ssh")!;
        expect(opensToWorld(ssh, 22)).to.equal(true);
    });
});
