// The worker health checks as plain data: one plan read by the GCE components (the load
// balancer's RegionHealthCheck and the group's autohealing one) and by the local platform's load
// balancer and autohealer, so the two platforms can never judge a worker by different rules.
import type { ClusterConfig } from "./types";

export interface HealthCheckPlan {
    /** The worker's router health endpoint (healthCheckPort / healthCheckPath). */
    port: number;
    path: string;
    checkIntervalSec: number;
    timeoutSec: number;
    /** Consecutive successes that make an unhealthy worker healthy. */
    healthyThreshold: number;
    /** Consecutive failures that make a healthy worker unhealthy. */
    unhealthyThreshold: number;
}

export interface AutohealingPlan extends HealthCheckPlan {
    /** Seconds a (re)created worker gets to boot before its failures count. */
    initialDelaySec: number;
}

/** GCE: a new worker's VM boot, cloud-init and the first etcd/router image pulls (Typhoon's value). */
export const GCE_AUTOHEALING_INITIAL_DELAY_SEC = 300;
/**
 * Local: a worker is a few processes in a namespace that answer within seconds (no VM, no image
 * pull), so 300 s would only mean five minutes of a dead worker nobody recreates. 30 s (a tenth,
 * 270 s less) still leaves several times a worker's boot on a loaded 2-core CI machine.
 */
export const LOCAL_AUTOHEALING_INITIAL_DELAY_SEC = 30;

/** The load balancer's check: quick, so a sick worker leaves the rotation within ~10 s. */
export function loadBalancerHealthCheck(config: ClusterConfig): HealthCheckPlan {
    return { port: config.healthCheck.port, path: config.healthCheck.path, checkIntervalSec: 5, timeoutSec: 5, healthyThreshold: 2, unhealthyThreshold: 2 };
}

/**
 * Autohealing's check: separate from the balancer's and more patient (6 × 10 s), because
 * recreating a worker is drastic where taking it out of rotation is not.
 */
export function autohealingHealthCheck(config: ClusterConfig): AutohealingPlan {
    return {
        port: config.healthCheck.port,
        path: config.healthCheck.path,
        checkIntervalSec: 10,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 6,
        initialDelaySec: config.platform === "local" ? LOCAL_AUTOHEALING_INITIAL_DELAY_SEC : GCE_AUTOHEALING_INITIAL_DELAY_SEC,
    };
}

/** A plan as the arguments of a GCE (Region)HealthCheck. */
export function gceHealthCheckArgs(plan: HealthCheckPlan) {
    return {
        checkIntervalSec: plan.checkIntervalSec,
        timeoutSec: plan.timeoutSec,
        healthyThreshold: plan.healthyThreshold,
        unhealthyThreshold: plan.unhealthyThreshold,
        httpHealthCheck: { port: plan.port, requestPath: plan.path },
    };
}
