// etcd member-count rules and the reasoning the error messages give (Raft majority
// arithmetic, as in the CoreOS cluster-sizing guide's fault-tolerance table).

import { ConfigProblem } from "./types";
import { qualifiedKey } from "./defaults";

export const ALLOWED_MEMBER_COUNTS = [3, 5, 7] as const;

export function majority(size: number): number {
    return Math.floor(size / 2) + 1;
}

export function failureTolerance(size: number): number {
    return size - majority(size);
}

function failures(n: number): string {
    return `${n} failure${n === 1 ? "" : "s"}`;
}

/** The table from the sizing guide, computed (sizes 1 and 3 to 8). */
export function faultToleranceTable(): string {
    const rows = [1, 3, 4, 5, 6, 7, 8].map((n) => `    ${String(n).padStart(12)} | ${String(majority(n)).padStart(8)} | ${failureTolerance(n)}`);
    return ["Fault tolerance:", "    cluster size | majority | failure tolerance", ...rows].join("\n");
}

const EVEN_REASON =
    "an even size needs a larger majority but tolerates no more failures than the odd size below it, " +
    "and a network partition can split it into two halves with no majority";

/** Why `count` members are refused, or undefined when the count is allowed. */
export function memberCountProblem(count: number, singleMemberAllowed: boolean): string | undefined {
    if (count === 1) {
        if (singleMemberAllowed) return undefined;
        return (
            `1 member has a majority of 1 and tolerates 0 failures: allowed only on a stack marked isDev: true with allowSingleMember: true; use 3, 5 or 7.\n` +
            faultToleranceTable()
        );
    }
    if ((ALLOWED_MEMBER_COUNTS as readonly number[]).includes(count)) return undefined;
    if (count > 0 && count % 2 === 0) {
        const lower = count - 1;
        return (
            `must be odd: ${count} members need a majority of ${majority(count)} and tolerate ${failures(failureTolerance(count))}, ` +
            `the same failure tolerance as ${lower} member${lower === 1 ? "" : "s"} (majority ${majority(lower)}); ${EVEN_REASON}. Use 3, 5 or 7.\n` +
            faultToleranceTable()
        );
    }
    return (
        `must be 3, 5 or 7 (got ${count}): fewer than 3 members tolerate no failure, and more than 7 slow every write ` +
        `(each is replicated to a majority) for tolerance a cluster of this kind does not need.\n` +
        faultToleranceTable()
    );
}

/**
 * Refuses a member-count change on a deployed cluster that quorum cannot survive: a change
 * by an even number, an even or out-of-range result, or fewer than 3 members outside dev.
 * Members bootstrap with a static initial cluster (initial_cluster_state=new), so new
 * members cannot join the running cluster in one deploy; etcd grows one member at a time
 * (`etcdctl member add`), and every second step of that passes through an even size.
 */
export function memberCountChangeProblems(previous: number, next: number, isDev: boolean): ConfigProblem[] {
    if (previous === next) return [];
    const key = qualifiedKey("etcdCount");
    const problems: ConfigProblem[] = [];
    const delta = next - previous;
    const change = `changing the deployed etcd member count from ${previous} to ${next}`;
    if (!isDev && next < 3) {
        problems.push({
            key,
            message:
                `${change} is refused: outside a dev stack the cluster keeps at least 3 members; ${next} member(s) ` +
                `have a majority of ${majority(Math.max(next, 1))} and tolerate ${failures(failureTolerance(Math.max(next, 1)))}.\n` +
                faultToleranceTable(),
        });
    }
    if (delta % 2 === 0) {
        const through = previous + Math.sign(delta);
        problems.push({
            key,
            message:
                `${change} (by ${Math.abs(delta)}, an even number) is refused: members bootstrap with a static initial cluster, ` +
                `so new members cannot join and removed members cannot leave in one deploy. Membership changes one member at a time ` +
                `(etcdctl member add/remove), which passes through ${through} members (majority ${majority(through)}, tolerating ` +
                `${failures(failureTolerance(through))}); ${EVEN_REASON}. Change the membership by hand, one member at a time, then set etcdCount to match.\n` +
                faultToleranceTable(),
        });
    } else if (next % 2 === 0) {
        problems.push({
            key,
            message:
                `${change} is refused: ${next} members need a majority of ${majority(next)} and tolerate ` +
                `${failures(failureTolerance(next))}, no more than ${next - 1}; ${EVEN_REASON}.\n` +
                faultToleranceTable(),
        });
    }
    return problems;
}
