// The pure flow check (issue 14): flows derived from each role's rendered user-data and the outside
// dialers, against the firewall matrix, for the shipped dev, prod and local stacks.
import { expect } from "chai";
import { readStackFile } from "../../model/stack-config";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { firewallMatrix } from "../../model/firewall";
import { renderMachines } from "../../cloud-config";
import { checkFlows, deriveFlows, describeFlow, DIALERS } from "../../flow-check/flows";
import { ClusterConfig } from "../../model/types";
import { gcpRaw, LOCAL_TUNNEL, localRaw } from "../model/raw-configs";

function forStack(stack: string) {
    const config = loadConfig(readStackFile(stack), stack);
    const plan = planCluster(config);
    const flows = deriveFlows(config, plan, renderMachines(config, plan));
    return { config, plan, flows, rules: firewallMatrix(config, plan) };
}

function forConfig(config: ClusterConfig) {
    const plan = planCluster(config);
    return { config, plan, flows: deriveFlows(config, plan, renderMachines(config, plan)), rules: firewallMatrix(config, plan) };
}

function routerFlows(config: ClusterConfig): string[] {
    const plan = planCluster(config);
    return deriveFlows(config, plan, renderMachines(config, plan), DIALERS.filter((d) => d.name === "worker router")).map(describeFlow);
}

describe("flow-check/flows: the firewall admits exactly the flows the rendered machines need", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every derived flow is admitted and nothing else is open`, () => {
            const { config, flows, rules } = forStack(stack);
            const d = flows.map(describeFlow).join("\n");
            expect(d).to.match(/worker etcd gateway: worker -> etcd tcp\/2379/);
            expect(d, "no worker dials the peer port").to.not.match(/worker -> etcd tcp\/2380/);
            expect(d).to.match(/etcd member: etcd -> etcd tcp\/2380/);
            expect(checkFlows(config, flows, rules).problems, d).to.deep.equal([]);
        });
    }

    it("the worker router reads the members' v3 gateway on 2379 and dials the services' hosts on workers", () => {
        const flows = routerFlows(forStack("dev").config);
        expect(flows).to.have.length(3);
        expect(flows[0]).to.match(/^worker router: worker -> etcd tcp\/2379 \(watches the service keys/);
        // dev's Pulumi.dev.yaml: redis on 10.10.0.11:6379, web on 10.10.0.10:8080 (subnet addresses of the worker group).
        expect(flows.slice(1)).to.deep.equal([
            "worker router: worker -> worker tcp/6379 (proxies service redis to its host 10.10.0.11:6379 (/services/redis/hosts/0))",
            "worker router: worker -> worker tcp/8080 (proxies service web to its host 10.10.0.10:8080 (/services/web/hosts/0))",
        ]);
    });

    it("locally each worker's router dials the other worker's hosts, never its own", () => {
        const flows = routerFlows(loadConfig(localRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.213.10.13:8080"] }], sshTunnel: LOCAL_TUNNEL }), "local"));
        expect(flows.filter((f) => / -> worker /.test(f))).to.deep.equal(["worker router: worker -> worker tcp/8080 (proxies service web to its host 10.213.10.13:8080 (/services/web/hosts/0))"]);
        const alone = routerFlows(loadConfig(localRaw({ localWorkers: 1, services: [{ name: "web", scheme: "http", hosts: ["10.213.10.13:8080"] }], sshTunnel: LOCAL_TUNNEL }), "local"));
        expect(alone.filter((f) => / -> worker /.test(f))).to.deep.equal([]);
    });

    it("a host outside the subnet is no flow (egress), a host on a member is a flow the matrix does not admit", () => {
        const external = forConfig(loadConfig(gcpRaw({ services: [{ name: "ext", scheme: "http", hosts: ["203.0.113.7:8443", "10.10.0.20:8080"] }] }), "dev"));
        expect(external.flows.map(describeFlow).join("\n")).to.not.match(/8443/);
        expect(checkFlows(external.config, external.flows, external.rules).problems).to.deep.equal([]);
        // The config refuses a host on a member (model/service-hosts.ts); the flow check must still see one.
        const memberConfig = loadConfig(gcpRaw({ services: [] }), "dev");
        memberConfig.services.push({ name: "db", scheme: "tcp", hosts: ["10.10.0.2:7000"], hostPort: 7000 });
        const onMember = forConfig(memberConfig);
        expect(checkFlows(onMember.config, onMember.flows, onMember.rules).problems.filter((p) => /tcp\/7000/.test(p) && /worker router/.test(p))).to.deep.equal([
            "not admitted by any firewall rule: worker router: worker -> etcd tcp/7000 (proxies service db to its host 10.10.0.2:7000 (/services/db/hosts/0))",
        ]);
    });

    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: without <cluster>-service-backends the check fails, naming the router's flows to its backends`, () => {
            const { config, flows, rules } = forStack(stack);
            const without = rules.filter((r) => r.name !== `${config.name}-service-backends`);
            expect(without).to.have.length(rules.length - 1);
            const problems = checkFlows(config, flows, without).problems;
            expect(problems.length).to.be.greaterThan(0);
            for (const p of problems) expect(p).to.match(/^not admitted by any firewall rule: worker router: worker -> worker tcp\/\d+ \(proxies service [a-z-]+ to its host /);
            if (stack === "local") expect(problems.join("\n")).to.match(/tcp\/8080 \(proxies service web to its host 10\.213\.10\.14:8080/);
        });
    }

    it("without <cluster>-etcd-client the check fails, naming the gateway's flow to 2379", () => {
        const { config, flows, rules } = forStack("dev");
        const check = checkFlows(config, flows, rules.filter((r) => r.name !== "coreos-dev-etcd-client"));
        expect(check.problems.join("\n")).to.match(/not admitted by any firewall rule: worker etcd gateway: worker -> etcd tcp\/2379 \(carries its clients' TLS/);
    });

    it("a rule opening the peer port to workers is open for no flow", () => {
        const { config, flows, rules } = forStack("dev");
        const extra = [...rules, { name: "coreos-dev-etcd-peer-proxies", description: "", direction: "INGRESS" as const, sourceTags: ["coreos-dev-worker"], targetTags: ["coreos-dev-etcd"], allow: [{ protocol: "tcp" as const, ports: ["2380"] }] }];
        expect(checkFlows(config, flows, extra).problems).to.deep.equal(["open for no flow: rule coreos-dev-etcd-peer-proxies lets worker (tag coreos-dev-worker) reach etcd on tcp/2380"]);
    });

    it("a port opened for no flow is named", () => {
        const { config, flows, rules } = forStack("dev");
        const extra = [...rules, { name: "coreos-dev-extra", description: "", direction: "INGRESS" as const, sourceTags: ["coreos-dev-worker"], targetTags: ["coreos-dev-etcd"], allow: [{ protocol: "tcp" as const, ports: ["4001"] }] }];
        expect(checkFlows(config, flows, extra).problems).to.deep.equal(["open for no flow: rule coreos-dev-extra lets worker (tag coreos-dev-worker) reach etcd on tcp/4001"]);
    });
});
