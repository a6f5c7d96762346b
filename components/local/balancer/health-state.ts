// How a health checker turns probe results into a verdict, and when autohealing recreates a
// worker, as GCE documents them: a backend is healthy after `healthyThreshold` consecutive
// successes and unhealthy after `unhealthyThreshold` consecutive failures (it starts unhealthy,
// as a new backend does until it has passed); autohealing ignores failures during the initial
// delay after a (re)creation. Pure: plain data in, plain data out.
import type { AutohealingPlan, HealthCheckPlan } from "../../../model/health-checks";

export interface CheckState {
    healthy: boolean;
    consecutiveSuccesses: number;
    consecutiveFailures: number;
    /** What the last probe saw (`200`, `503`, `connect ECONNREFUSED`, `timeout`). */
    last?: string;
}

export const INITIAL_CHECK_STATE: CheckState = { healthy: false, consecutiveSuccesses: 0, consecutiveFailures: 0 };

export function afterProbe(state: CheckState, plan: HealthCheckPlan, ok: boolean, seen: string): CheckState {
    const successes = ok ? state.consecutiveSuccesses + 1 : 0;
    const failures = ok ? 0 : state.consecutiveFailures + 1;
    let healthy = state.healthy;
    if (!healthy && successes >= plan.healthyThreshold) healthy = true;
    if (healthy && failures >= plan.unhealthyThreshold) healthy = false;
    return { healthy, consecutiveSuccesses: successes, consecutiveFailures: failures, last: seen };
}

/**
 * The autohealing check's state after a probe at `now` (ms) for a worker (re)created at `bornAt`:
 * within the initial delay a failure does not count (GCE: "the MIG ignores unsuccessful health
 * checks" then), so the count starts only after it.
 */
export function afterAutohealingProbe(state: CheckState, plan: AutohealingPlan, ok: boolean, seen: string, bornAt: number, now: number): CheckState {
    const next = afterProbe(state, plan, ok, seen);
    if (!ok && now - bornAt < plan.initialDelaySec * 1000) return { ...next, consecutiveFailures: 0 };
    return next;
}

/** True when autohealing recreates the worker: past its initial delay, and failing the check `unhealthyThreshold` times in a row. */
export function shouldRecreate(state: CheckState, plan: AutohealingPlan, bornAt: number, now: number): boolean {
    return now - bornAt >= plan.initialDelaySec * 1000 && state.consecutiveFailures >= plan.unhealthyThreshold;
}

/**
 * The backends a new connection may go to: the healthy ones; when none is healthy, all of them
 * (GCE: "when all backend VMs are unhealthy, the load balancer distributes new connections among
 * all backends as a last resort").
 */
export function eligibleBackends<T extends { name: string }>(backends: T[], healthy: (name: string) => boolean): T[] {
    const up = backends.filter((b) => healthy(b.name));
    return up.length > 0 ? up : backends;
}
