import { expect } from "chai";
import { externalIpViolations } from "../../policy/rules/external-ip";
import { firewallDatabaseExposureFindings, firewallExposureViolations, portSpecCovers } from "../../policy/rules/firewall-exposure";
import { DEV, PROD, etcdMember, firewall, runResourcePolicy, workerTemplate } from "./policy-harness";

const FW = "firewall-no-world-etcd-or-ssh";

describe("policy: firewall-no-world-etcd-or-ssh (mandatory)", () => {
    it("accepts the product's own matrix: SSH from IAP, etcd between tags, HTTP from the world", async () => {
        const rules = [
            firewall("coreos-ssh", { sourceRanges: ["35.235.240.0/20"], targetTags: ["coreos-etcd", "coreos-worker"], allows: [{ protocol: "tcp", ports: ["22"] }] }),
            firewall("coreos-etcd-peers", { sourceTags: ["coreos-etcd"], targetTags: ["coreos-etcd"], allows: [{ protocol: "tcp", ports: ["2379", "2380"] }] }),
            firewall("coreos-etcd-clients", { sourceTags: ["coreos-worker"], targetTags: ["coreos-etcd"], allows: [{ protocol: "tcp", ports: ["2379"] }] }),
            firewall("coreos-ingress", { sourceRanges: ["0.0.0.0/0"], targetTags: ["coreos-worker"], allows: [{ protocol: "tcp", ports: ["80", "443"] }] }),
        ];
        for (const rule of rules) {
            expect(firewallExposureViolations(rule), rule.name).to.deep.equal([]);
            expect(await runResourcePolicy(DEV, FW, rule), rule.name).to.deep.equal([]);
        }
    });

    it("rejects SSH open to 0.0.0.0/0", async () => {
        const rule = firewall("coreos-ssh", { sourceRanges: ["0.0.0.0/0"], allows: [{ protocol: "tcp", ports: ["22"] }] });
        const messages = await runResourcePolicy(DEV, FW, rule);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("coreos-ssh").and.to.contain("SSH port 22").and.to.contain("0.0.0.0/0");
    });

    it("rejects etcd client and peer ports open to the world, through a range too", () => {
        const rule = firewall("coreos-etcd", { sourceRanges: ["10.0.0.0/8", "0.0.0.0/0"], allows: [{ protocol: "tcp", ports: ["2379-2380"] }] });
        const messages = firewallExposureViolations(rule);
        expect(messages).to.have.length(2);
        expect(messages.join("\n")).to.contain("etcd client port 2379").and.to.contain("etcd peer port 2380");
    });

    it("rejects an all-ports or all-protocols rule to the world, and IPv6 ::/0", () => {
        const allTcp = firewall("wide-open", { sourceRanges: ["0.0.0.0/0"], allows: [{ protocol: "tcp" }] });
        expect(firewallExposureViolations(allTcp)).to.have.length(3);
        const all = firewall("everything", { sourceRanges: ["::/0"], allows: [{ protocol: "all" }] });
        expect(firewallExposureViolations(all)).to.have.length(3);
    });

    it("treats an ingress rule with no source at all as open to the world (GCE's default)", () => {
        const rule = firewall("no-source", { allows: [{ protocol: "tcp", ports: ["22"] }] });
        const messages = firewallExposureViolations(rule);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("without sources");
    });

    it("ignores egress rules, disabled rules, deny rules and UDP", () => {
        const base = { sourceRanges: ["0.0.0.0/0"] };
        expect(firewallExposureViolations(firewall("out", { ...base, direction: "EGRESS", allows: [{ protocol: "tcp", ports: ["22"] }] }))).to.deep.equal([]);
        expect(firewallExposureViolations(firewall("off", { ...base, disabled: true, allows: [{ protocol: "tcp", ports: ["22"] }] }))).to.deep.equal([]);
        expect(firewallExposureViolations(firewall("deny", { ...base, denies: [{ protocol: "tcp", ports: ["22"] }] }))).to.deep.equal([]);
        expect(firewallExposureViolations(firewall("udp", { ...base, allows: [{ protocol: "udp", ports: ["2379"] }] }))).to.deep.equal([]);
    });

    it("reads port specs exactly", () => {
        expect(portSpecCovers(["22"], 22)).to.equal(true);
        expect(portSpecCovers(["2200"], 22)).to.equal(false);
        expect(portSpecCovers(["20-30"], 22)).to.equal(true);
        expect(portSpecCovers(["2381-2390"], 2380)).to.equal(false);
        expect(portSpecCovers([], 2379)).to.equal(true);
    });

    it("does not apply to other resource types", async () => {
        expect(await runResourcePolicy(DEV, FW, etcdMember(0))).to.deep.equal([]);
    });
});

describe("policy: prod-vm-no-external-ip (advisory)", () => {
    const withExternal = { networkInterfaces: [{ subnetwork: "coreos-subnet", accessConfigs: [{}] }] };

    it("accepts private prod VMs", async () => {
        expect(await runResourcePolicy(PROD, "prod-vm-no-external-ip", workerTemplate({}, "prod"))).to.deep.equal([]);
        expect(externalIpViolations(etcdMember(0, { environment: "prod" }), PROD)).to.deep.equal([]);
    });

    it("flags a prod VM or template with an access config (IPv4 or IPv6)", async () => {
        const messages = await runResourcePolicy(PROD, "prod-vm-no-external-ip", workerTemplate(withExternal, "prod"));
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("external IP").and.to.contain("coreos-cluster:externalIps");
        const v6 = etcdMember(0, { environment: "prod", props: { networkInterfaces: [{ ipv6AccessConfigs: [{ networkTier: "PREMIUM" }] }] } });
        expect(externalIpViolations(v6, PROD)).to.have.length(1);
    });

    it("allows external IPs outside production", async () => {
        expect(await runResourcePolicy(DEV, "prod-vm-no-external-ip", workerTemplate(withExternal, "dev"))).to.deep.equal([]);
    });
});

describe("policy: firewall-world-database-port (advisory)", () => {
    it("flags a well-known database port open to the world, and not the same port open to the subnet", async () => {
        const world = firewall("coreos-ingress", { sourceRanges: ["0.0.0.0/0"], targetTags: ["coreos-worker"], allows: [{ protocol: "tcp", ports: ["80", "5432"] }] });
        const subnet = firewall("coreos-ingress-internal", { sourceRanges: ["10.10.0.0/24"], targetTags: ["coreos-worker"], allows: [{ protocol: "tcp", ports: ["5432", "6379"] }] });
        const range = firewall("coreos-ingress-range", { sourceRanges: ["0.0.0.0/0"], targetTags: ["coreos-worker"], allows: [{ protocol: "tcp", ports: ["6000-6500"] }] });
        expect(firewallDatabaseExposureFindings(world)).to.have.length(1);
        expect(firewallDatabaseExposureFindings(world)[0]).to.contain("PostgreSQL port 5432").and.to.contain("public: true");
        expect(firewallDatabaseExposureFindings(subnet)).to.deep.equal([]);
        expect(firewallDatabaseExposureFindings(range)[0]).to.contain("Redis port 6379");
        expect(await runResourcePolicy(PROD, "firewall-world-database-port", world)).to.have.length(1);
    });

    it("does not flag <cluster>-service-backends: database backends reached worker to worker, by tag, no range", async () => {
        const backends = firewall("coreos-service-backends", { sourceTags: ["coreos-worker"], targetTags: ["coreos-worker"], allows: [{ protocol: "tcp", ports: ["5432", "6379", "8080"] }] });
        expect(firewallDatabaseExposureFindings(backends)).to.deep.equal([]);
        expect(firewallExposureViolations(backends)).to.deep.equal([]);
        expect(await runResourcePolicy(PROD, "firewall-world-database-port", backends)).to.deep.equal([]);
    });
});
