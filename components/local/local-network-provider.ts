// LocalNetwork: the local VPC as one resource: the bridge, a namespace per machine (and one for the
// load balancer), their veths and addresses, and the firewall matrix as nftables rules in each.
// A changed matrix is applied in place (atomically per namespace); a changed subnet or bridge
// replaces the VPC. Refresh notices missing parts; destroy removes everything it recorded.
//
// The provider's side of LocalNetwork (local-network.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import type { VpcPlan } from "./vpc/addressing";
import { applyRulesets, ensureVpc, missingParts, readRecord, removeVpc, VpcRecord } from "./vpc/netns";

export interface LocalNetworkInputs {
    vpc: VpcPlan;
    /** nftables ruleset text per namespace (components/local/vpc/firewall-rules.ts). */
    rulesets: Record<string, string>;
    rootGuard: { table: string; ruleset: string };
    /** Absolute data dir of the stack: the VPC's record names it. */
    dataDir: string;
    providerVersion: string;
}

export interface LocalNetworkState extends LocalNetworkInputs {
    /** Parts found missing when last read (empty when whole). */
    missing: string[];
}

function recordOf(inputs: LocalNetworkInputs): VpcRecord {
    return {
        bridge: inputs.vpc.bridge,
        subnet: inputs.vpc.subnet,
        namespaces: [...inputs.vpc.machines.map((m) => m.namespace), inputs.vpc.probeNamespace, ...(inputs.vpc.prometheusNamespace ? [inputs.vpc.prometheusNamespace] : [])],
        rootGuardTable: inputs.rootGuard.table,
        dataDir: inputs.dataDir,
        createdAt: new Date().toISOString(),
    };
}

export const provider: ProviderOperations = {
    async check(_olds: LocalNetworkInputs, news: LocalNetworkInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.dataDir === "string" && !news.dataDir.startsWith("/")) failures.push({ property: "dataDir", reason: "dataDir must be absolute" });
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: LocalNetworkState, news: LocalNetworkInputs) {
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        const replaces = [
            ...(olds.vpc.bridge !== news.vpc.bridge || olds.vpc.subnet !== news.vpc.subnet ? ["vpc"] : []),
            ...(olds.dataDir !== news.dataDir ? ["dataDir"] : []),
        ];
        const changes =
            replaces.length > 0 ||
            (olds.missing ?? []).length > 0 ||
            !same(olds.vpc, news.vpc) ||
            !same(olds.rulesets, news.rulesets) ||
            !same(olds.rootGuard, news.rootGuard) ||
            olds.providerVersion !== news.providerVersion;
        return { changes, replaces, deleteBeforeReplace: true };
    },
    async create(inputs: LocalNetworkInputs) {
        ensureVpc(inputs.vpc, inputs.rulesets, inputs.rootGuard, inputs.dataDir);
        return { id: inputs.vpc.bridge, outs: { ...inputs, missing: [] } };
    },
    async read(id: string, props: LocalNetworkState) {
        return { id, props: { ...props, missing: missingParts(props.vpc) } };
    },
    async update(_id: string, _olds: LocalNetworkState, news: LocalNetworkInputs) {
        // Completes what is missing and re-applies every namespace's rules.
        ensureVpc(news.vpc, news.rulesets, news.rootGuard, news.dataDir);
        applyRulesets(news.rulesets);
        return { outs: { ...news, missing: [] } };
    },
    async delete(_id: string, props: LocalNetworkState) {
        await removeVpc(readRecord(props.vpc.bridge) ?? recordOf(props));
    },
};
