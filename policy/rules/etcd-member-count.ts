// etcd keeps working while a majority of its members is up: 3 members survive 1 failure,
// 5 survive 2, 7 survive 3. An even count adds a member without adding tolerance (4 still
// survives only 1) and makes every write wait for one more acknowledgement; beyond 7,
// replication cost grows for no practical gain.
import {
    CONFIG_NAMESPACE,
    Finding,
    PlainResource,
    StackContext,
    TYPES,
    configValue,
    isLocalMachine,
    isProductionContext,
    isRecord,
    labelsOf,
} from "./resource-data";

export const ALLOWED_MEMBER_COUNTS: readonly number[] = [3, 5, 7];

interface CountEvidence {
    cluster: string;
    count: number;
    /** Where the number comes from, for the message. */
    source: string;
    urn?: string;
}

/** The cluster an etcd machine belongs to: its `cluster` label, or `<cluster>` of a local `<cluster>-etcd-<n>`. */
function memberCluster(r: PlainResource): string | undefined {
    if (r.type === TYPES.instance) {
        const labels = labelsOf(r);
        return labels.role === "etcd" ? labels.cluster || "(no cluster label)" : undefined;
    }
    if (isLocalMachine(r) && r.props.role === "etcd") {
        const name = String(r.props.name ?? r.name);
        return name.replace(/-etcd-\d+$/, "") || name;
    }
    return undefined;
}

/** etcd member machines (GCE instances labelled role=etcd, local machines of role etcd), per cluster. */
function countsFromMachines(resources: PlainResource[]): CountEvidence[] {
    const byCluster = new Map<string, PlainResource[]>();
    for (const r of resources) {
        const cluster = memberCluster(r);
        if (cluster === undefined) continue;
        byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), r]);
    }
    return [...byCluster.entries()].map(([cluster, unordered]) => {
        const members = [...unordered].sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
        return {
            cluster,
            count: members.length,
            source: `etcd machines: ${members.map((m) => m.name).join(", ")}`,
            urn: members[0].urn,
        };
    });
}

/**
 * The coreos-cluster components (GcpCluster, LocalCluster, EtcdCentralServices...) when
 * their inputs carry the validated config or the plan: the only evidence on platforms
 * whose machines are not labelled GCE instances.
 */
function countsFromComponents(resources: PlainResource[]): CountEvidence[] {
    const byCluster = new Map<string, CountEvidence>();
    for (const r of resources) {
        if (!r.type.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
        const config = r.props.config;
        const plan = r.props.plan;
        let count: number | undefined;
        let cluster = r.name;
        if (isRecord(config) && isRecord(config.etcd) && typeof config.etcd.count === "number") {
            count = config.etcd.count;
            if (typeof config.name === "string") cluster = config.name;
        } else if (isRecord(plan) && Array.isArray(plan.members)) {
            count = plan.members.length;
        }
        if (count === undefined || byCluster.has(cluster)) continue;
        byCluster.set(cluster, { cluster, count, source: `inputs of ${r.name} (${r.type})`, urn: r.urn });
    }
    return [...byCluster.values()];
}

function countFromConfig(ctx: StackContext): CountEvidence[] {
    const raw = configValue(ctx, "etcdCount");
    if (raw === undefined) return [];
    const count = Number(raw);
    if (!Number.isFinite(count)) return [];
    return [{ cluster: configValue(ctx, "clusterName") ?? "(stack)", count, source: `stack config ${CONFIG_NAMESPACE}:etcdCount` }];
}

/** A single member is the documented dev-only exception (isDev + allowSingleMember, never prod). */
function singleMemberAllowed(ctx: StackContext): boolean {
    return (
        configValue(ctx, "isDev") === "true" &&
        configValue(ctx, "allowSingleMember") === "true" &&
        !isProductionContext(undefined, ctx)
    );
}

/**
 * Stack-level: the etcd member count of every cluster in the stack must be 3, 5 or 7.
 * The member machines are the strongest evidence, then component inputs, then the stack
 * config; a stack with none of them (an application stack) has nothing to check.
 */
export function etcdMemberCountFindings(resources: PlainResource[], ctx: StackContext): Finding[] {
    let evidence = countsFromMachines(resources);
    if (evidence.length === 0) evidence = countsFromComponents(resources);
    if (evidence.length === 0) evidence = countFromConfig(ctx);
    const findings: Finding[] = [];
    for (const e of evidence) {
        if (ALLOWED_MEMBER_COUNTS.includes(e.count)) continue;
        if (e.count === 1 && singleMemberAllowed(ctx)) continue;
        findings.push({
            urn: e.urn,
            message:
                `cluster "${e.cluster}" has ${e.count} etcd member${e.count === 1 ? "" : "s"} (${e.source}); ` +
                `etcd needs an odd count of 3, 5 or 7 (set ${CONFIG_NAMESPACE}:etcdCount). ` +
                `A quorum is a majority, so an even count tolerates no more failures than the odd count below it.`,
        });
    }
    return findings;
}
