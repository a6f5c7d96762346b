import { expect } from "chai";
import * as fc from "fast-check";
import { createHash } from "crypto";
import { loadConfig, validateConfig } from "../../model/validate";
import { clusterToken, planCluster, roleTag } from "../../model/plan";
import { formatIpv4, parseCidr, parseIpv4 } from "../../model/ipv4";
import { ClusterPlan } from "../../model/types";
import { gcpRaw, localRaw } from "./raw-configs";

function perZone(plan: ClusterPlan): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of plan.members) counts.set(m.zone, (counts.get(m.zone) ?? 0) + 1);
    return counts;
}

describe("model/plan: GCE address and zone plan", () => {
    const config = loadConfig(gcpRaw({ etcdCount: 5 }), "dev");
    const plan = planCluster(config);

    it("names members <cluster>-etcd-<i> and spreads them round-robin over the zones", () => {
        expect(plan.members.map((m) => [m.index, m.name, m.zone])).to.deep.equal([
            [0, "demo-etcd-0", "europe-west1-b"],
            [1, "demo-etcd-1", "europe-west1-c"],
            [2, "demo-etcd-2", "europe-west1-d"],
            [3, "demo-etcd-3", "europe-west1-b"],
            [4, "demo-etcd-4", "europe-west1-c"],
        ]);
    });

    it("gives members static IPs from the subnet start, skipping the network address and the gateway", () => {
        expect(plan.members.map((m) => m.privateIp)).to.deep.equal(["10.10.0.2", "10.10.0.3", "10.10.0.4", "10.10.0.5", "10.10.0.6"]);
    });

    it("builds client and peer URLs on 2379/2380, the initial cluster and client list", () => {
        expect(plan.members[0].clientUrl).to.equal("https://10.10.0.2:2379");
        expect(plan.members[0].peerUrl).to.equal("https://10.10.0.2:2380");
        expect(plan.initialCluster).to.equal(plan.members.map((m) => `${m.name}=https://${m.privateIp}:2380`).join(","));
        expect(plan.clientUrls).to.deep.equal(plan.members.map((m) => `https://${m.privateIp}:2379`));
    });

    it("derives a stable cluster token from the cluster name, distinct per cluster", () => {
        const digest = createHash("sha256").update("coreos-cluster/demo").digest("hex").slice(0, 12);
        expect(plan.clusterToken).to.equal(`demo-etcd-${digest}`);
        expect(planCluster(config).clusterToken).to.equal(plan.clusterToken);
        expect(clusterToken("other")).to.not.equal(clusterToken("demo"));
    });

    it("lets the worker group span every configured zone and plans no fixed workers on GCE", () => {
        expect(plan.workerZones).to.deep.equal(["europe-west1-b", "europe-west1-c", "europe-west1-d"]);
        expect(plan.workers).to.deep.equal([]);
    });

    it("tags roles <cluster>-etcd and <cluster>-worker", () => {
        expect(roleTag("demo", "etcd")).to.equal("demo-etcd");
        expect(roleTag("demo", "worker")).to.equal("demo-worker");
    });

    it("uses only the addresses GCE leaves usable in a /29, and refuses more members than fit", () => {
        // /29 at .8: .8 network, .9 gateway, .14 second-to-last and .15 broadcast are GCE's: .10-.13 remain.
        const small = loadConfig(gcpRaw({ subnetCidr: "10.10.0.8/29", etcdCount: 3, workerMin: 1, workerMax: 1 }), "dev");
        expect(planCluster(small).members.map((m) => m.privateIp)).to.deep.equal(["10.10.0.10", "10.10.0.11", "10.10.0.12"]);
        const five = { ...small, etcd: { ...small.etcd, count: 5 } };
        expect(() => planCluster(five)).to.throw(/has 4 usable addresses/);
        const refused = validateConfig(gcpRaw({ subnetCidr: "10.10.0.8/29", etcdCount: 5, workerMin: 0, workerMax: 0 }), "dev");
        expect(refused.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:subnetCidr"]);
    });
});

describe("model/plan: local platform", () => {
    it("gives members and then workers consecutive loopback addresses from localFirstAddress", () => {
        const plan = planCluster(loadConfig(localRaw(), "local"));
        expect(plan.members.map((m) => [m.name, m.privateIp, m.clientUrl])).to.deep.equal([
            ["local-etcd-0", "10.213.10.10", "https://10.213.10.10:2379"],
            ["local-etcd-1", "10.213.10.11", "https://10.213.10.11:2379"],
            ["local-etcd-2", "10.213.10.12", "https://10.213.10.12:2379"],
        ]);
        expect(plan.workers).to.deep.equal([
            { name: "local-worker-0", zone: "local-a", privateIp: "10.213.10.13" },
            { name: "local-worker-1", zone: "local-a", privateIp: "10.213.10.14" },
        ]);
        expect(plan.workerZones).to.deep.equal(["local-a"]);
    });

    it("keeps the machines in the /24 of localFirstAddress; validation refuses one past .254", () => {
        const plan = planCluster(loadConfig(localRaw({ localFirstAddress: "10.213.9.250", localWorkers: 1 }), "local"));
        expect([...plan.members.map((m) => m.privateIp), ...plan.workers.map((w) => w.privateIp)]).to.deep.equal(["10.213.9.250", "10.213.9.251", "10.213.9.252", "10.213.9.253"]);
        const result = validateConfig(localRaw({ localFirstAddress: "10.213.9.250", localWorkers: 3 }), "local");
        expect(result.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:localFirstAddress"]);
        expect(result.problems[0].message).to.match(/must fit \.4-\.254 of its \/24/);
    });
});

describe("model/plan: properties (fast-check)", () => {
    const letters = "bcdfgh".split("");
    const gcpCase = fc.record({
        count: fc.constantFrom(1, 3, 5, 7),
        zoneLetters: fc.uniqueArray(fc.constantFrom(...letters), { minLength: 1, maxLength: letters.length }),
        prefix: fc.integer({ min: 8, max: 29 }),
        networkSeed: fc.integer({ min: 0, max: 2 ** 24 - 1 }),
        workerMax: fc.integer({ min: 0, max: 5 }),
    });

    it("any valid count/zone/subnet gives distinct in-subnet addresses, an odd quorum and a balanced zone spread", () => {
        fc.assert(
            fc.property(gcpCase, ({ count, zoneLetters, prefix, networkSeed, workerMax }) => {
                const size = 2 ** (32 - prefix);
                const network = 10 * 2 ** 24 + ((networkSeed * size) % 2 ** 24);
                const subnetCidr = `${formatIpv4(network)}/${prefix}`;
                const zones = zoneLetters.map((l) => `us-east1-${l}`);
                const raw = gcpRaw({ region: "us-east1", zones, subnetCidr, etcdCount: count, allowSingleMember: count === 1, workerMin: Math.min(1, workerMax), workerMax });
                const result = validateConfig(raw, "dev");
                if (!result.config) {
                    // Only a subnet too small for members + workers may be refused here.
                    expect(result.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:subnetCidr"]);
                    return;
                }
                const plan = planCluster(result.config);
                const cidr = parseCidr(subnetCidr);
                if ("problem" in cidr) throw new Error(cidr.problem);
                const ips = plan.members.map((m) => parseIpv4(m.privateIp)!);
                expect(new Set(ips).size).to.equal(count);
                for (const ip of ips) {
                    expect(ip).to.be.at.least(network + 2); // not the network address or the gateway
                    expect(ip).to.be.at.most(network + size - 3); // not the second-to-last or broadcast
                }
                expect(plan.members.length % 2).to.equal(1);
                const counts = [...perZone(plan).values()];
                expect(Math.max(...counts) - Math.min(...counts)).to.be.at.most(1);
                expect(perZone(plan).size).to.equal(Math.min(count, zones.length));
                for (const m of plan.members) expect(zones).to.include(m.zone);
                expect(new Set(plan.members.map((m) => m.name)).size).to.equal(count);
                expect(plan.initialCluster.split(",")).to.have.length(count);
            }),
            { numRuns: 300 },
        );
    });

    it("local plans keep every machine on its own address inside the VPC's /24, clear of .1, .2 and .3 (deployer, load balancer, Prometheus)", () => {
        fc.assert(
            fc.property(
                fc.constantFrom(1, 3, 5, 7),
                fc.integer({ min: 0, max: 64 }),
                fc.integer({ min: 0, max: 255 }),
                fc.integer({ min: 0, max: 255 }),
                (count, workers, third, host) => {
                    const first = `10.213.${third}.${host}`;
                    const result = validateConfig(localRaw({ etcdCount: count, allowSingleMember: true, localWorkers: workers, localFirstAddress: first }), "local");
                    if (host < 4 || host + count + workers - 1 > 254) {
                        expect(result.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:localFirstAddress"]);
                        return;
                    }
                    expect(result.problems).to.deep.equal([]);
                    const plan = planCluster(result.config!);
                    const all = [...plan.members.map((m) => m.privateIp), ...plan.workers.map((w) => w.privateIp!)];
                    expect(new Set(all).size).to.equal(count + workers);
                    for (const ip of all) expect(ip.startsWith(`10.213.${third}.`)).to.equal(true);
                    expect(all[0]).to.equal(first);
                },
            ),
            { numRuns: 300 },
        );
    });
});
