// The firewall, exactly as the pure rule matrix (model/firewall.ts) says: one GCE rule per
// entry, nothing decided here, so the matrix tests are the firewall tests.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { FirewallRuleSpec } from "../../model/firewall";

export interface FirewallArgs {
    project: string;
    network: pulumi.Input<string>;
    rules: FirewallRuleSpec[];
}

export class Firewall extends pulumi.ComponentResource {
    public readonly rules: gcp.compute.Firewall[];

    constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:Firewall", name, {}, opts);
        this.rules = args.rules.map(
            (rule) =>
                new gcp.compute.Firewall(
                    rule.name,
                    {
                        name: rule.name,
                        project: args.project,
                        network: args.network,
                        description: rule.description,
                        direction: rule.direction,
                        sourceRanges: rule.sourceRanges,
                        sourceTags: rule.sourceTags,
                        targetTags: rule.targetTags,
                        allows: rule.allow.map((a) => ({
                            protocol: a.protocol,
                            ports: a.ports?.map((p) => String(p)),
                        })),
                    },
                    { parent: this },
                ),
        );
        this.registerOutputs({ ruleNames: this.rules.map((r) => r.name) });
    }
}
