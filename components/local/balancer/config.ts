// What the local load balancer process is told (BALANCER_CONFIG) and what it reports (its status file).
import type { AutohealingPlan, HealthCheckPlan } from "../../../model/health-checks";
import type { CheckState } from "./health-state";

export interface BalancerBackend {
    name: string;
    address: string;
    /** The worker's root: its template (machine-lifecycle.ts templatePath) lies beside it. */
    root: string;
}

export interface BalancerConfig {
    /** `<cluster>-ingress`, for logs and errors. */
    name: string;
    /** The frontend address (loadBalancerIp); probes and forwarded connections leave from it too. */
    address: string;
    ports: number[];
    backends: BalancerBackend[];
    health: HealthCheckPlan;
    autohealing: AutohealingPlan;
    statusFile: string;
}

export interface BackendStatus {
    loadBalancer: CheckState;
    autohealing: CheckState;
    /** ms since the epoch: the worker's (re)creation, from its template's mtime. */
    bornAt?: number;
    recreations: number;
    recreating: boolean;
    lastRecreation?: { at: string; ok: boolean; error?: string };
    /** The router's last health answer (JSON: config.services, haproxy), absent when it did not answer. */
    report?: Record<string, unknown>;
}

export interface BalancerStatus {
    pid: number;
    updatedAt: string;
    /** Ports listening on the frontend address. */
    listening: number[];
    backends: Record<string, BackendStatus>;
}

export const BALANCER_CONFIG_ENV = "BALANCER_CONFIG";
