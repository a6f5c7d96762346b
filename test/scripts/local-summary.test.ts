// The summary `npm run local` prints after `pulumi up` (scripts/local/summary.ts), from plain outputs.
import { expect } from "chai";
import { curlLines, localSummary, notAppliedCount, SUMMARY_TITLE } from "../../scripts/local/summary";
import { localViewFixture } from "./local-fixtures";

const notApplied = {
    machines: {
        "local-etcd-0": ["fleet.service (no fleetd here)", "locksmithd.service"],
        "local-etcd-1": ["fleet.service (no fleetd here)", "locksmithd.service"],
        "local-worker-0": ["fleet.service (no fleetd here)"],
        "local-worker-1": [],
    },
    fleetServices: { demo: "no fleetd: neither the rolling update nor the sidekicks run here" },
};

describe("npm run local: the summary after up (scripts/local/summary.ts)", () => {
    const outputs = { localCluster: localViewFixture(), loadBalancerIp: "10.213.10.2", notAppliedLocally: notApplied };
    const text = localSummary(outputs, "/repo");

    it("names every machine with its address, the load balancer with its ports, and who holds the way in", () => {
        expect(text.startsWith(`${SUMMARY_TITLE}: 3 etcd members, 2 workers`)).to.equal(true);
        for (const [name, address] of [["local-etcd-0", "10.213.10.10"], ["local-etcd-2", "10.213.10.12"], ["local-worker-1", "10.213.10.14"], ["local-ingress", "10.213.10.2"]]) {
            expect(text).to.match(new RegExp(`^  ${name}\\s+${address.replace(/\./g, "\\.")}\\s`, "m"));
        }
        expect(text).to.match(/local-etcd-0 .*sshd :22, the deployer's way in/);
        expect(text).to.contain("ports 80, 443");
        expect(text).to.match(/local-worker-0 .*stand-in backends of web, redis/);
        expect(text).to.match(/local-worker-1 .*stand-in backends of web$/m);
    });

    it("gives curl lines by Host and by path for each HTTP service, none for TCP ones", () => {
        expect(curlLines(outputs.localCluster, "10.213.10.2")).to.deep.equal(["curl -H 'Host: web.example.com' http://10.213.10.2/", "curl http://10.213.10.2/web/"]);
        expect(text).to.contain("  curl http://10.213.10.2/web/\n");
        expect(text).to.contain("redis on every worker's :6379");
        const onPort = { ...outputs.localCluster, loadBalancer: { ...outputs.localCluster.loadBalancer, httpPorts: [8081] } };
        expect(curlLines(onPort, "10.213.10.2")[1]).to.equal("curl http://10.213.10.2:8081/web/");
        expect(curlLines({ ...onPort, loadBalancer: { ...onPort.loadBalancer, httpPorts: [] } }, "10.213.10.2")).to.deep.equal([]);
    });

    it("says what did not apply locally once, as a count, and where the list is", () => {
        expect(notAppliedCount(notApplied)).to.deep.equal({ items: 6, machines: 3, fleetServices: 1 });
        expect(text.match(/not applied/gi)).to.have.length(1);
        expect(text).to.contain("Not applied on the local platform: 6 items of 3 machines and 1 fleet service");
        expect(text).to.contain("npm run local -- outputs notAppliedLocally");
        expect(text).to.not.contain("locksmithd");
        expect(localSummary({ ...outputs, notAppliedLocally: { machines: {} } })).to.not.match(/not applied/i);
    });

    it("says where the logs are (relative to where it runs), how to see the status and how to destroy", () => {
        expect(text).to.contain("npm run local -- logs [machine] [-f]   (files: .local-machines/<machine>/*.log)");
        expect(text).to.contain("npm run local -- status");
        expect(text).to.contain("Destroy: npm run local -- destroy");
        expect(localSummary(outputs, "/elsewhere/else")).to.contain("(files: /repo/.local-machines/<machine>/*.log)");
    });

    it("fits on one screen, and says what to do when the stack has no local view", () => {
        expect(text.trimEnd().split("\n").length).to.be.at.most(24);
        expect(Math.max(...text.split("\n").map((l) => l.length))).to.be.at.most(160);
        expect(localSummary({ localCluster: null })).to.match(/no localCluster output.*npm run local/);
    });

    it("says where the local Prometheus's UI is and what it scrapes, when the stack runs one", () => {
        const prometheus = { name: "local-prometheus", address: "10.213.10.3", port: 9090, url: "http://10.213.10.3:9090", namespace: "ccl-local-prometheus", root: "/repo/.local-machines/local-prometheus", scrapes: [{ job: "etcd", port: 2381, machines: ["local-etcd-0", "local-etcd-1", "local-etcd-2"] }, { job: "haproxy", port: 8405, machines: ["local-worker-0", "local-worker-1"] }] };
        const withMetrics = localSummary({ ...outputs, localCluster: { ...localViewFixture(), prometheus } }, "/repo");
        expect(withMetrics.startsWith(`${SUMMARY_TITLE}: 3 etcd members, 2 workers, a load balancer, Prometheus,`)).to.equal(true);
        expect(withMetrics).to.match(/^  local-prometheus\s+10\.213\.10\.3\s+Prometheus: scrapes etcd :2381 on 3 machines, haproxy :8405 on 2 machines$/m);
        expect(withMetrics).to.contain("Metrics: http://10.213.10.3:9090/   (Prometheus's UI, from this machine; docs/metrics.md)\n");
        expect(text).to.not.contain("Metrics:");
    });
});
