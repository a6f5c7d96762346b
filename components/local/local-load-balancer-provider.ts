// LocalLoadBalancer: the local counterpart of the GCE LoadBalancer and of the worker group's
// autohealing. One detached process (balancer/main.ts) in the load balancer's namespace listens
// on the load-balanced ports at loadBalancerIp, probes every worker by the same health-check
// plans as GCE (model/health-checks.ts) through the VPC's firewall, forwards to healthy workers
// and recreates a worker that autohealing finds sick. `up` waits until every worker has passed
// the load balancer's check: a worker nothing would send traffic to fails the local stack.
//
// The provider's side of LocalLoadBalancer (local-load-balancer.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import type { AutohealingPlan, HealthCheckPlan } from "../../model/health-checks";
import type { BalancerBackend, BalancerStatus } from "./balancer/config";
import { BALANCER_CONFIG_ENV } from "./balancer/config";
import { bundleBalancer } from "./balancer/bundle";
import { removeIfEmpty } from "./processes";
import { runningProcessPid, spawnMachineProcess, stopMachineProcess, processPaths } from "./machine-process";

const PROCESS = "load-balancer";

export interface LocalLoadBalancerInputs {
    name: string;
    namespace: string;
    address: string;
    ports: number[];
    backends: BalancerBackend[];
    health: HealthCheckPlan;
    autohealing: AutohealingPlan;
    /** Absolute folder of the balancer's script, log, pid and status files. */
    root: string;
    /** balancer/main.ts, bundled by the provider where it starts the process. */
    entry: string;
    /** sha256 of the bundle (balancerDigest): a changed balancer restarts it. */
    scriptSha256: string;
    /** How long `up` waits for every worker to pass the load balancer's check. */
    readyTimeoutSeconds: number;
    providerVersion: string;
}

export interface LocalLoadBalancerState extends LocalLoadBalancerInputs {
    pid?: number;
    running: boolean;
    ip: string;
}

function statusFile(root: string): string {
    return require("path").join(root, "status.json");
}

export function readBalancerStatus(root: string): BalancerStatus | undefined {
    const fs: typeof import("fs") = require("fs");
    try {
        return JSON.parse(fs.readFileSync(statusFile(root), "utf8"));
    } catch {
        return undefined;
    }
}

/** Why the workers that have not passed the check are not healthy, as the error says it. */
function unhealthyReport(inputs: LocalLoadBalancerInputs, status: BalancerStatus | undefined): string[] {
    return inputs.backends
        .filter((b) => !status?.backends[b.name]?.loadBalancer.healthy)
        .map((b) => `${b.name}: GET http://${b.address}:${inputs.health.port}${inputs.health.path} from ${inputs.address} last saw ${status?.backends[b.name]?.loadBalancer.last ?? "nothing yet"}`);
}

async function start(inputs: LocalLoadBalancerInputs): Promise<number> {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    fs.mkdirSync(inputs.root, { recursive: true });
    fs.rmSync(statusFile(inputs.root), { force: true });
    const script = path.join(inputs.root, "balancer.js");
    fs.writeFileSync(script, bundleBalancer(inputs.entry));
    const config = { name: inputs.name, address: inputs.address, ports: inputs.ports, backends: inputs.backends, health: inputs.health, autohealing: inputs.autohealing, statusFile: statusFile(inputs.root) };
    const pid = spawnMachineProcess({ machine: inputs.name, root: inputs.root, name: PROCESS, argv: [process.execPath, script], env: { [BALANCER_CONFIG_ENV]: JSON.stringify(config) }, namespace: inputs.namespace });
    const deadline = Date.now() + inputs.readyTimeoutSeconds * 1000;
    for (;;) {
        const status = readBalancerStatus(inputs.root);
        const unhealthy = unhealthyReport(inputs, status);
        if (status && status.listening.length === inputs.ports.length && unhealthy.length === 0) return pid;
        if (Date.now() > deadline) {
            await stopMachineProcess(pid, inputs.root, PROCESS, 2000);
            const log = processPaths(inputs.root, PROCESS).logFile;
            throw new Error(
                `load balancer ${inputs.name}: ${unhealthy.length > 0 ? `no traffic would reach ${unhealthy.length} worker(s) within ${inputs.readyTimeoutSeconds} s, as on GCE: ${unhealthy.join("; ")}. ` : `not listening on every port (${inputs.ports.join(", ")}); `}` +
                    `The check is the router's health endpoint (coreos-cluster:healthCheckPort/healthCheckPath), admitted from the health checkers' ranges by the <cluster>-health-check firewall rule; log ${log}`,
            );
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
}

export const provider: ProviderOperations = {
    async check(_olds: LocalLoadBalancerInputs, news: LocalLoadBalancerInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.root === "string" && !news.root.startsWith("/")) failures.push({ property: "root", reason: "root must be absolute" });
        if (Array.isArray(news.ports) && news.ports.length === 0) failures.push({ property: "ports", reason: "the load balancer forwards no port (coreos-cluster:lbHttpPorts is empty)" });
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: LocalLoadBalancerState, news: LocalLoadBalancerInputs) {
        const keys = ["name", "namespace", "address", "ports", "backends", "health", "autohealing", "root", "scriptSha256", "providerVersion"] as const;
        const changed = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        const gone = runningProcessPid(olds.root, PROCESS, olds.pid) === undefined;
        return { changes: changed.length > 0 || gone, replaces: changed.includes("root") ? ["root"] : [], deleteBeforeReplace: true };
    },
    async create(inputs: LocalLoadBalancerInputs) {
        const pid = await start(inputs);
        return { id: inputs.name, outs: { ...inputs, pid, running: true, ip: inputs.address } };
    },
    async read(id: string, props: LocalLoadBalancerState) {
        const pid = runningProcessPid(props.root, PROCESS, props.pid);
        const { pid: _old, ...rest } = props;
        return { id, props: { ...rest, ...(pid ? { pid } : {}), running: pid !== undefined } };
    },
    async update(_id: string, olds: LocalLoadBalancerState, news: LocalLoadBalancerInputs) {
        await stopMachineProcess(runningProcessPid(olds.root, PROCESS, olds.pid), olds.root, PROCESS, 2000);
        const pid = await start(news);
        return { outs: { ...news, pid, running: true, ip: news.address } };
    },
    async delete(_id: string, props: LocalLoadBalancerState) {
        const fs: typeof import("fs") = require("fs");
        await stopMachineProcess(runningProcessPid(props.root, PROCESS, props.pid), props.root, PROCESS, 2000);
        fs.rmSync(props.root, { recursive: true, force: true });
        removeIfEmpty(require("path").dirname(props.root));
    },
};
