// The pure parts of the GCE components: names, labels, ports, update policy, and the
// health gate's shell script (run by a real bash against a scripted etcdctl).
import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { ClusterConfig } from "../../../model/types";
import { resourceLabels, resourceName, serviceAccountId, VM_SCOPES } from "../../../components/gcp/labels";
import { forwardingRulePortGroups, ingressPorts } from "../../../components/gcp/load-balancer";
import { workerNamedPorts, workerUpdatePolicy } from "../../../components/gcp/worker-pool";
import { dialErrorLimit, healthGateScript, PER_DIAL_TIMEOUT_S } from "../../../components/gcp/cluster-health-gate";
import { isSelfLink } from "../../../components/gcp/network";
import { loadBalancedPorts } from "../../../model/firewall";

const run = promisify(execFile);

function configWith(overrides: { name?: string; environment?: string; httpPorts?: number[]; tcpPorts?: number[]; services?: ClusterConfig["services"] }): ClusterConfig {
    return {
        name: overrides.name ?? "demo",
        environment: overrides.environment ?? "dev",
        loadBalancer: { httpPorts: overrides.httpPorts ?? [80, 443], tcpPorts: overrides.tcpPorts ?? [] },
        services: overrides.services ?? [],
    } as ClusterConfig;
}

describe("GCE helpers (pure)", () => {
    describe("names and labels", () => {
        it("names resources <cluster>-<role>[-suffix]", () => {
            expect(resourceName("demo", "etcd", 0)).to.equal("demo-etcd-0");
            expect(resourceName("demo", "worker")).to.equal("demo-worker");
        });

        it("labels carry cluster, environment and role, lowercased to GCE's label charset", () => {
            expect(resourceLabels(configWith({ name: "demo", environment: "Prod.EU" }), "etcd")).to.deep.equal({
                cluster: "demo",
                environment: "prod-eu",
                role: "etcd",
            });
        });

        it("service account ids stay within GCE's 6-30 characters and stay distinct, per role and per member", () => {
            expect(serviceAccountId("demo", "etcd")).to.equal("demo-etcd");
            expect(serviceAccountId("demo", "etcd-0")).to.equal("demo-etcd-0");
            expect(serviceAccountId("a", "etcd-0")).to.equal("a-etcd-0");
            const long = "a".repeat(24);
            const longOther = "a".repeat(23) + "b";
            for (const cluster of [long, longOther, "abcdefghijklmnopqrstuvwx-y", "abcdefghijklmnopq-stuvwx", "a", "ab-c"]) {
                const ids = new Set<string>();
                for (const role of ["etcd", "worker", ...Array.from({ length: 12 }, (_, i) => `etcd-${i}`)]) {
                    const id = serviceAccountId(cluster, role);
                    expect(id, id).to.match(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
                    expect(id, id).to.not.match(/--/);
                    expect(id.endsWith(`-${role}`), id).to.equal(true);
                    ids.add(id);
                }
                expect(ids.size, cluster).to.equal(14);
            }
            expect(serviceAccountId(long, "worker")).to.not.equal(serviceAccountId(longOther, "worker"));
            expect(serviceAccountId(long, "etcd-4")).to.not.equal(serviceAccountId(longOther, "etcd-4"));
        });

        it("VMs get the cloud-platform scope only: Secret Manager has no narrower one, IAM roles are the boundary", () => {
            expect([...VM_SCOPES]).to.deep.equal(["https://www.googleapis.com/auth/cloud-platform"]);
        });

        it("tells self links from names", () => {
            expect(isSelfLink("projects/p/global/networks/n")).to.equal(true);
            expect(isSelfLink("https://www.googleapis.com/compute/v1/projects/p/global/networks/n")).to.equal(true);
            expect(isSelfLink("shared-vpc")).to.equal(false);
        });
    });

    describe("load-balanced ports", () => {
        it("forwards http/https, each public service host_port (named after it) and extra tcp ports, as the firewall opens them; an internal one is not forwarded", () => {
            const config = configWith({
                tcpPorts: [9000],
                services: [
                    { name: "web", scheme: "http", hosts: ["10.0.0.1:8080"] },
                    { name: "redis", scheme: "tcp", hosts: ["10.0.0.2:6379"], hostPort: 6379, public: true },
                    { name: "pg", scheme: "tcp", hosts: ["10.0.0.3:5432"], hostPort: 15432, public: true },
                    { name: "cache", scheme: "tcp", hosts: ["10.0.0.4:11211"], hostPort: 11211 },
                ],
            });
            const ports = ingressPorts(config);
            expect(ports).to.deep.equal([
                { name: "http", port: 80 },
                { name: "https", port: 443 },
                { name: "redis", port: 6379 },
                { name: "tcp-9000", port: 9000 },
                { name: "pg", port: 15432 },
            ]);
            expect(workerNamedPorts(ports).map((p) => p.name)).to.include.members(["http", "https", "redis", "pg"]);
            expect(ports.map((p) => p.port)).to.deep.equal(loadBalancedPorts(config));
        });

        it("forwards a port listed twice once, and never reuses a named-port name", () => {
            const ports = ingressPorts(
                configWith({
                    httpPorts: [80, 8080],
                    tcpPorts: [80, 7000],
                    services: [{ name: "http", scheme: "tcp", hosts: ["10.0.0.2:1"], hostPort: 7001, public: true }],
                }),
            );
            expect(ports.map((p) => p.port)).to.deep.equal([80, 7000, 7001, 8080]);
            const names = ports.map((p) => p.name);
            expect(new Set(names).size).to.equal(names.length);
            expect(names).to.deep.equal(["http", "tcp-7000", "tcp-7001", "http-8080"]);
        });

        it("puts the ports on forwarding rules of at most 5 ports each, every port on exactly one rule", () => {
            for (let n = 0; n <= 12; n++) {
                const ports = Array.from({ length: n }, (_, i) => ({ name: `tcp-${9000 + i}`, port: 9000 + i }));
                const groups = forwardingRulePortGroups(ports);
                expect(groups.length, `${n} ports`).to.equal(Math.ceil(n / 5));
                for (const g of groups) expect(g.length).to.be.within(1, 5);
                expect(groups.flat()).to.deep.equal(ports);
            }
        });
    });

    describe("worker update policy", () => {
        for (const zones of [1, 2, 3, 4]) {
            it(`keeps capacity with ${zones} zone(s): surge >= zones, nothing unavailable, PROACTIVE REPLACE`, () => {
                const policy = workerUpdatePolicy(zones);
                expect(policy.type).to.equal("PROACTIVE");
                expect(policy.minimalAction).to.equal("REPLACE");
                expect(policy.maxUnavailableFixed).to.equal(0);
                expect(policy.maxSurgeFixed).to.be.at.least(zones);
            });
        }
    });

    describe("health gate script", () => {
        let dir: string;
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "health-gate-"));
            // A scripted etcdctl: an endpoint is healthy once its countdown file reaches 0.
            fs.writeFileSync(
                path.join(dir, "etcdctl"),
                [
                    "#!/bin/bash",
                    'ep=""; for a in "$@"; do case "$a" in --endpoints=*) ep="${a#--endpoints=}";; esac; done',
                    `[ "$ETCDCTL_API" = 3 ] || exit 3`,
                    `f="${dir}/$(printf %s "$ep" | tr -c 'a-z0-9' '_')"`,
                    'echo "$ep" >> "' + dir + '/calls"',
                    '[ -f "$f" ] || exit 1',
                    'n=$(cat "$f"); if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$f"; exit 1; fi',
                    'echo "$ep is healthy"',
                ].join("\n"),
                { mode: 0o755 },
            );
        });
        after(() => fs.rmSync(dir, { recursive: true, force: true }));

        function setCountdown(endpoint: string, failuresBeforeHealthy: number | undefined): void {
            const file = path.join(dir, endpoint.replace(/[^a-z0-9]/g, "_"));
            if (failuresBeforeHealthy === undefined) fs.rmSync(file, { force: true });
            else fs.writeFileSync(file, String(failuresBeforeHealthy));
        }

        async function gate(urls: string[], attempts: number): Promise<{ code: number; stdout: string; stderr: string }> {
            fs.rmSync(path.join(dir, "calls"), { force: true });
            const script = healthGateScript(urls, attempts, 1);
            try {
                const { stdout, stderr } = await run("bash", ["-c", script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
                return { code: 0, stdout, stderr };
            } catch (e) {
                const err = e as { code: number; stdout: string; stderr: string };
                return { code: err.code, stdout: err.stdout, stderr: err.stderr };
            }
        }

        const urls = ["http://10.1.0.2:2379", "http://10.1.0.3:2379", "http://10.1.0.4:2379"];

        it("passes once every member answers healthy, retrying while one is still booting", async () => {
            setCountdown(urls[0], 0);
            setCountdown(urls[1], 2);
            setCountdown(urls[2], 0);
            const result = await gate(urls, 5);
            expect(result.code).to.equal(0);
            expect(result.stdout).to.contain("healthy on all members");
            const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");
            expect(calls.filter((c) => c === urls[1])).to.have.length(3);
        });

        it("gives up after the bounded attempts, naming the unhealthy member", async () => {
            setCountdown(urls[0], 0);
            setCountdown(urls[1], 0);
            setCountdown(urls[2], undefined);
            const result = await gate(urls, 3);
            expect(result.code).to.equal(1);
            expect(result.stderr).to.contain("after 3 attempts").and.contain(urls[2]);
            expect(result.stderr).to.not.contain(urls[0]);
            const calls = fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n");
            expect(calls.filter((c) => c === urls[2])).to.have.length(3);
        });

        it("refuses endpoints a shell would interpret", () => {
            expect(() => healthGateScript(["http://10.0.0.1:2379; rm -rf /"], 3, 1)).to.throw(/refusing/);
            expect(() => healthGateScript(["http://$(id):2379"], 3, 1)).to.throw(/refusing/);
            expect(() => healthGateScript(urls, 0, 1)).to.throw(/attempts/);
        });
    });

    it("dials for as long as clusterWaitSeconds allows in the worst case, and never less than pulumi-command's 10", () => {
        // Worst case of n failed dials: each waits out its timeout, then pulumi-command's backoff (100 ms x1.5, at most 5 s).
        const worst = (n: number) => {
            let total = 0;
            for (let k = 0, delay = 0.1; k < n; k++, delay = Math.min(delay * 1.5, 5)) total += PER_DIAL_TIMEOUT_S + delay;
            return total;
        };
        for (const wait of [300, 600, 1800, 3600]) {
            const n = dialErrorLimit(wait);
            expect(worst(n), `${wait} s`).to.be.at.most(wait);
            expect(worst(n + 1), `${wait} s`).to.be.greaterThan(wait);
        }
        for (const wait of [0, 10, 16, 100]) expect(dialErrorLimit(wait)).to.equal(10);
        expect(dialErrorLimit(600)).to.equal(42);
    });
});
