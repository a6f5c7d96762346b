// The flow check's monitoring dialer: Prometheus, wherever the operator runs it, scrapes from the
// monitoring ranges (coreos-cluster:monitoringRanges) what the machines' RENDERED user-data says they
// serve: each member's ETCD_LISTEN_METRICS_URLS and each worker router's ROUTER_METRICS_PORT. No range:
// no flow, and a rule admitting the metrics ports from anywhere is then open for nothing.
import { etcdEnvironmentOf } from "../cloud-config/inspect";
import { ROUTER_ENV } from "../model/router-contract";
import { monitoringRanges } from "../model/monitoring";
import type { MachineRole } from "../model/types";
import type { Dialer, Flow } from "./flows";
import { routerEnvironmentOf } from "./unit-environment";

/** The ports of a comma-separated URL list (the host is the machine's own; only the port is a flow's). */
function urlPorts(value: string | undefined): number[] {
    return (value ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
            const url = new URL(s.replace("$private_ipv4", "private-ipv4.invalid"));
            return Number(url.port || (url.protocol === "https:" ? 443 : 80));
        });
}

export const monitoringDialer: Dialer = {
    name: "monitoring (Prometheus)",
    flows: (ctx) => {
        const ranges = monitoringRanges(ctx.config);
        if (ranges.length === 0) return [];
        const from = { ranges, label: "monitoringRanges" };
        const flows: Flow[] = [];
        for (const m of ctx.machines) {
            const metricsUrls = m.role === "etcd" ? etcdEnvironmentOf(m.userData).ETCD_LISTEN_METRICS_URLS : undefined;
            for (const port of urlPorts(metricsUrls)) {
                flows.push({ dialer: "monitoring (Prometheus)", from, to: "etcd" as MachineRole, port, why: `scrapes etcd's metrics listener (ETCD_LISTEN_METRICS_URLS, port ${port})` });
            }
            const routerPort = routerEnvironmentOf(m.userData)[ROUTER_ENV.metricsPort];
            if (routerPort) {
                flows.push({ dialer: "monitoring (Prometheus)", from, to: m.role, port: Number(routerPort), why: `scrapes HAProxy's Prometheus exporter (${ROUTER_ENV.metricsPort} ${routerPort})` });
            }
        }
        return flows;
    },
};
