// The policy pack the engine runs with `pulumi preview|up --policy-pack policy`.
// It only wires: the rules live in ./rules, their names and levels in ./policies.
import { PolicyPack } from "@pulumi/policy";
import { buildPolicies } from "./policies";
import { stackContextFromEnv } from "./stack-context";

new PolicyPack("coreos-cluster", {
    description: "Guard rails for coreos-cluster stacks: etcd quorum and protection, exposure, GCE limits, safe worker updates.",
    policies: buildPolicies(() => stackContextFromEnv(process.env)),
});
