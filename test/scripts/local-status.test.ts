// `npm run local -- status`: the table (scripts/local/status-table.ts) and the pure parts of its
// gathering (scripts/local/status-probe.ts), from plain data.
import { expect } from "chai";
import { memberIdHex, statusRows, statusTable, StatusReport } from "../../scripts/local/status-table";
import { servicesFromKeys, workersFromBalancer } from "../../scripts/local/status-probe";
import type { BalancerStatus } from "../../components/local/balancer/config";
import { localViewFixture } from "./local-fixtures";

const ids = { a: "11400000000000a1", b: "11400000000000b2", c: "11400000000000c3" };
const dec = (hex: string) => BigInt(`0x${hex}`).toString(10);

function report(): StatusReport {
    return {
        members: [
            { name: "local-etcd-0", address: "10.213.10.10", status: { memberId: dec(ids.a), leaderId: dec(ids.b), version: "3.4.23", raftTerm: "4" } },
            { name: "local-etcd-1", address: "10.213.10.11", status: { memberId: dec(ids.b), leaderId: dec(ids.b), version: "3.4.23", raftTerm: "4" } },
            { name: "local-etcd-2", address: "10.213.10.12", error: "SSH tunnel root@10.213.10.10:22 -> 10.213.10.12:2379: connect ECONNREFUSED" },
        ],
        memberIds: { [ids.a]: "local-etcd-0", [ids.b]: "local-etcd-1", [ids.c]: "local-etcd-2" },
        workers: [
            { name: "local-worker-0", address: "10.213.10.13", inRotation: true, lastProbe: "200", report: { healthy: true, config: { loaded: true, services: ["redis", "web"] }, haproxy: { running: true } }, recreations: 0, recreating: false },
            { name: "local-worker-1", address: "10.213.10.14", inRotation: false, lastProbe: "connect ECONNREFUSED 10.213.10.14:10256", recreations: 0, recreating: false },
        ],
        loadBalancer: { name: "local-ingress", address: "10.213.10.2", ports: [80, 443], running: true },
        services: [
            { name: "redis", scheme: "tcp", hosts: ["10.213.10.13:16379"], hostPort: "6379" },
            { name: "web", scheme: "http", hosts: ["10.213.10.13:8080", "10.213.10.14:8080"] },
        ],
    };
}

describe("npm run local -- status: the table (scripts/local/status-table.ts)", () => {
    it("gives each member's health and the leader by name, and a stopped member as DOWN with why", () => {
        const rows = statusRows(report());
        expect(rows[0]).to.include({ part: "member", name: "local-etcd-0", state: "healthy" });
        expect(rows[0].detail).to.match(/^leader: local-etcd-1, etcd 3\.4\.23, term 4$/);
        expect(rows[1].detail).to.match(/^leader,/);
        expect(rows[2]).to.include({ name: "local-etcd-2", state: "DOWN" });
        expect(rows[2].detail).to.contain("ECONNREFUSED");
    });

    it("says NO LEADER for a member that answers without one", () => {
        const r = report();
        r.members[0].status!.leaderId = "0";
        expect(statusRows(r)[0]).to.include({ state: "NO LEADER" });
    });

    it("gives each worker's router health, what it serves, and whether it is in rotation", () => {
        const rows = statusRows(report()).filter((r) => r.part === "worker");
        expect(rows[0]).to.include({ name: "local-worker-0", state: "router healthy" });
        expect(rows[0].detail).to.equal("in rotation; serves redis, web");
        expect(rows[1]).to.include({ name: "local-worker-1", state: "router DOWN" });
        expect(rows[1].detail).to.equal("OUT of rotation (last probe: connect ECONNREFUSED 10.213.10.14:10256)");
    });

    it("gives the load balancer's backends in and out of rotation, and GCE's last resort when none is in", () => {
        const lb = statusRows(report()).find((r) => r.part === "balancer")!;
        expect(lb.state).to.equal("1 of 2 in rotation");
        expect(lb.detail).to.equal("ports 80, 443; in: local-worker-0; out: local-worker-1");
        const r = report();
        r.workers[0].inRotation = false;
        expect(statusRows(r).find((x) => x.part === "balancer")!.detail).to.contain("none healthy: new connections go to all");
        r.loadBalancer.running = false;
        expect(statusRows(r).find((x) => x.part === "balancer")!.state).to.equal("DOWN");
    });

    it("lists the registered services and their hosts, or why they could not be read", () => {
        const rows = statusRows(report()).filter((r) => r.part === "service");
        expect(rows.map((r) => [r.name, r.where, r.state, r.detail])).to.deep.equal([
            ["redis", "tcp :6379", "1 host", "10.213.10.13:16379"],
            ["web", "http", "2 hosts", "10.213.10.13:8080, 10.213.10.14:8080"],
        ]);
        const r = report();
        r.servicesError = "no endpoint is reachable";
        expect(statusRows(r).filter((x) => x.part === "service")).to.deep.equal([{ part: "service", name: "?", where: "", state: "UNREAD", detail: "no endpoint is reachable" }]);
    });

    it("prints one aligned table with a header", () => {
        const lines = statusTable(report()).trimEnd().split("\n");
        expect(lines[0]).to.match(/^PART\s+NAME\s+ADDRESS\s+STATE\s+DETAIL$/);
        expect(lines).to.have.length(1 + 3 + 2 + 1 + 2);
        const column = lines[0].indexOf("STATE");
        for (const line of lines.slice(1)) expect(line[column - 1]).to.equal(" ");
        expect(lines.find((l) => /^member\s+local-etcd-2 /.test(l))).to.match(/DOWN\s+no answer through the tunnel/);
    });

    it("takes member ids in decimal or hex", () => {
        expect(memberIdHex(dec(ids.a))).to.equal(ids.a);
        expect(memberIdHex(`0x${ids.a}`)).to.equal(ids.a);
        expect(memberIdHex("not a number")).to.equal("not a number");
    });
});

describe("npm run local -- status: the gathered data (scripts/local/status-probe.ts)", () => {
    it("groups the service keys into services, hosts in their numeric order, ignoring other keys", () => {
        const keys = {
            "/services/web/scheme": "http",
            "/services/web/hosts/10": "10.0.0.3:80",
            "/services/web/hosts/2": "10.0.0.2:80",
            "/services/redis/scheme": "tcp",
            "/services/redis/hosts/0": "10.0.0.4:6379",
            "/services/redis/host_port": "6379",
            "/services/redis/hosts/0/extra": "ignored",
            "/services-other/x/scheme": "http",
        };
        expect(servicesFromKeys(keys, "/services")).to.deep.equal([
            { name: "redis", scheme: "tcp", hosts: ["10.0.0.4:6379"], hostPort: "6379" },
            { name: "web", scheme: "http", hosts: ["10.0.0.2:80", "10.0.0.3:80"] },
        ]);
    });

    it("reads the workers from the load balancer's status: rotation, last probe, the router's report", () => {
        const check = (healthy: boolean, last: string) => ({ healthy, consecutiveSuccesses: 0, consecutiveFailures: 0, last });
        const status: BalancerStatus = {
            pid: 1,
            updatedAt: "",
            listening: [80],
            backends: {
                "local-worker-0": { loadBalancer: check(true, "200"), autohealing: check(true, "200"), recreations: 1, recreating: false, report: { healthy: true, config: { services: ["web"] } } },
                "local-worker-1": { loadBalancer: check(false, "timeout after 5 s"), autohealing: check(false, "timeout"), recreations: 0, recreating: true },
            },
        };
        const workers = workersFromBalancer(localViewFixture(), status);
        expect(workers[0]).to.deep.include({ name: "local-worker-0", inRotation: true, lastProbe: "200", recreations: 1 });
        expect(workers[0].report!.config!.services).to.deep.equal(["web"]);
        expect(workers[1]).to.deep.include({ name: "local-worker-1", inRotation: false, recreating: true });
        expect(workers[1]).to.not.have.property("report");
        // No status (the balancer is down): nobody is in rotation, nothing is known.
        expect(workersFromBalancer(localViewFixture(), undefined).map((w) => w.inRotation)).to.deep.equal([false, false]);
    });
});
