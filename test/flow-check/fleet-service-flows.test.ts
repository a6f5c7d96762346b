// FleetServices in the firewall matrix and the flow check: every router dials the instances on
// other workers at the ports their sidekicks announce (Docker's ephemeral host ports for the image
// form, instancePort for a unit file), and a tcp FleetService's hostPort is served to the VPC.
import { expect } from "chai";
import { loadConfig } from "../../model/validate";
import { planCluster } from "../../model/plan";
import { DOCKER_EPHEMERAL_PORTS, firewallMatrix, internalServicePorts, loadBalancedPorts } from "../../model/firewall";
import { renderMachines } from "../../cloud-config";
import { checkFlows, deriveFlows, describeFlow } from "../../flow-check/flows";
import { gcpRaw, LOCAL_TUNNEL, localRaw } from "../model/raw-configs";

const IMAGE = { name: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 3 };
const UNIT = { name: "queue", content: "[Service]\nExecStart=/usr/bin/queue --port 5672 %i\n", instancePort: 5672, count: 2, scheme: "tcp", hostPort: 5673 };

function check(raw: Record<string, unknown>, stack: string) {
    const config = loadConfig(raw, stack);
    const plan = planCluster(config);
    const rules = firewallMatrix(config, plan);
    const flows = deriveFlows(config, plan, renderMachines(config, plan));
    return { config, plan, rules, flows, result: checkFlows(config, flows, rules) };
}

describe("model/firewall + flows: FleetService instances and host ports", () => {
    it("GCE: <cluster>-fleet-service-instances admits workers to workers on the ephemeral range and each instancePort, and the check passes", () => {
        const { config, rules, flows, result } = check(gcpRaw({ fleetServices: [IMAGE, UNIT] }), "dev");
        const rule = rules.find((r) => r.name === `${config.name}-fleet-service-instances`)!;
        expect(rule, "the rule").to.not.equal(undefined);
        expect(rule.sourceTags).to.deep.equal([`${config.name}-worker`]);
        expect(rule.targetTags).to.deep.equal([`${config.name}-worker`]);
        expect(rule.sourceRanges).to.equal(undefined);
        expect(rule.allow).to.deep.equal([{ protocol: "tcp", ports: ["5672", `${DOCKER_EPHEMERAL_PORTS.first}-${DOCKER_EPHEMERAL_PORTS.last}`] }]);
        const d = flows.map(describeFlow).join("\n");
        expect(d).to.match(/worker router: worker -> worker tcp\/32768-60999 \(proxies the FleetServices' instances/);
        expect(d).to.match(/worker router: worker -> worker tcp\/5672 /);
        expect(result.problems, d).to.deep.equal([]);
    });

    it("a tcp FleetService's hostPort is internal (subnet only), not on the external load balancer, unless listed in lbTcpPorts", () => {
        const internal = check(gcpRaw({ fleetServices: [UNIT] }), "dev");
        expect(internalServicePorts(internal.config)).to.include(5673);
        expect(loadBalancedPorts(internal.config)).to.not.include(5673);
        const rule = internal.rules.find((r) => r.name === `${internal.config.name}-ingress-internal`)!;
        expect(rule.sourceRanges).to.deep.equal([internal.config.gcp.subnetCidr]);
        expect(rule.allow[0].ports).to.include("5673");
        expect(internal.result.problems).to.deep.equal([]);
        const listed = check(gcpRaw({ fleetServices: [UNIT], lbTcpPorts: [5673] }), "dev");
        expect(loadBalancedPorts(listed.config)).to.include(5673);
        expect(internalServicePorts(listed.config)).to.not.include(5673);
        expect(listed.result.problems).to.deep.equal([]);
    });

    it("without the rule the check fails, naming the router's flow to the instances", () => {
        const { config, flows, rules } = check(gcpRaw({ fleetServices: [IMAGE] }), "dev");
        const without = rules.filter((r) => r.name !== `${config.name}-fleet-service-instances`);
        expect(checkFlows(config, flows, without).problems.join("\n")).to.match(/not admitted by any firewall rule: worker router: worker -> worker tcp\/32768-60999/);
    });

    it("a rule that covers only part of the range does not admit the flow", () => {
        const { config, flows, rules } = check(gcpRaw({ fleetServices: [IMAGE] }), "dev");
        const narrowed = rules.map((r) => (r.name === `${config.name}-fleet-service-instances` ? { ...r, allow: [{ protocol: "tcp" as const, ports: ["32768-40000"] }] } : r));
        expect(checkFlows(config, flows, narrowed).missing.map(describeFlow).join("\n")).to.match(/tcp\/32768-60999/);
    });

    it("no FleetService, no rule; on a one-worker local stack no other router exists, so no rule either", () => {
        const none = check(gcpRaw({ fleetServices: [] }), "dev");
        expect(none.rules.map((r) => r.name)).to.not.include(`${none.config.name}-fleet-service-instances`);
        const lone = check(localRaw({ localWorkers: 1, sshTunnel: LOCAL_TUNNEL, fleetServices: [IMAGE] }), "local");
        expect(lone.rules.map((r) => r.name)).to.not.include("local-fleet-service-instances");
        expect(lone.result.problems).to.deep.equal([]);
        const two = check(localRaw({ sshTunnel: LOCAL_TUNNEL, fleetServices: [IMAGE] }), "local");
        expect(two.rules.map((r) => r.name)).to.include("local-fleet-service-instances");
        expect(two.result.problems).to.deep.equal([]);
    });
});
