// The pure flow check (issue 14): flows derived from each role's rendered user-data and the outside
// dialers, against the firewall matrix, for the shipped dev, prod and local stacks.
import { expect } from "chai";
import { readStackFile } from "../../model/stack-config";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { firewallMatrix } from "../../model/firewall";
import { renderMachines } from "../../cloud-config";
import { checkFlows, deriveFlows, describeFlow, DIALERS } from "../../model/flows";

function forStack(stack: string) {
    const config = loadConfig(readStackFile(stack), stack);
    const plan = planCluster(config);
    const flows = deriveFlows(config, plan, renderMachines(config, plan));
    return { config, plan, flows, rules: firewallMatrix(config, plan) };
}

describe("model/flows: the firewall admits exactly the flows the rendered machines need", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: every derived flow is admitted and nothing else is open`, () => {
            const { config, flows, rules } = forStack(stack);
            const d = flows.map(describeFlow).join("\n");
            expect(d).to.match(/worker etcd proxy: worker -> etcd tcp\/2380/).and.match(/worker etcd proxy: worker -> etcd tcp\/2379/);
            expect(d).to.match(/etcd member: etcd -> etcd tcp\/2380/);
            expect(checkFlows(config, flows, rules).problems, d).to.deep.equal([]);
        });
    }

    it("the worker router reads the members' v3 gateway on 2379 (its own dialer, from ROUTER_ETCD_ENDPOINTS)", () => {
        const { config, plan } = forStack("dev");
        const router = DIALERS.filter((d) => d.name === "worker router");
        const flows = deriveFlows(config, plan, renderMachines(config, plan), router).map(describeFlow);
        expect(flows).to.have.length(1);
        expect(flows[0]).to.match(/^worker router: worker -> etcd tcp\/2379 \(watches the service keys/);
    });

    it("without <cluster>-etcd-peer-proxies the check fails, naming the proxy's flow to 2380", () => {
        const { config, flows, rules } = forStack("dev");
        const check = checkFlows(config, flows, rules.filter((r) => r.name !== "coreos-dev-etcd-peer-proxies"));
        expect(check.problems.join("\n")).to.match(/not admitted by any firewall rule: worker etcd proxy: worker -> etcd tcp\/2380 \(reads the member list/);
    });

    it("a port opened for no flow is named", () => {
        const { config, flows, rules } = forStack("dev");
        const extra = [...rules, { name: "coreos-dev-extra", description: "", direction: "INGRESS" as const, sourceTags: ["coreos-dev-worker"], targetTags: ["coreos-dev-etcd"], allow: [{ protocol: "tcp" as const, ports: ["4001"] }] }];
        expect(checkFlows(config, flows, extra).problems).to.deep.equal(["open for no flow: rule coreos-dev-extra lets worker (tag coreos-dev-worker) reach etcd on tcp/4001"]);
    });
});
