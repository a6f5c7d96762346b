// The local load balancer and autohealer: one process in the load balancer's namespace, at the
// address that stands for GCE's forwarding rule and health checkers. It probes every worker by
// the shared plans (model/health-checks.ts), forwards each connection on a load-balanced port to
// a healthy worker (all of them when none is, as GCE does), and recreates a worker whose
// autohealing check keeps failing after its initial delay, from the template its boot left.
// Unlike GCE's passthrough balancer it proxies: a worker sees connections from this address,
// not from the client (docs/local-platform.md). Bundled by local-load-balancer.ts with esbuild.
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import { bootFreshMachine, planFor, shutdownMachine, stateOf, templatePath, LocalMachineInputs } from "../machine-lifecycle";
import { BackendStatus, BalancerBackend, BalancerConfig, BalancerStatus, BALANCER_CONFIG_ENV } from "./config";
import { afterAutohealingProbe, afterProbe, eligibleBackends, INITIAL_CHECK_STATE, shouldRecreate } from "./health-state";
import type { HealthCheckPlan } from "../../../model/health-checks";

const config: BalancerConfig = JSON.parse(process.env[BALANCER_CONFIG_ENV] ?? "null");
if (!config) throw new Error(`${BALANCER_CONFIG_ENV} is not set`);

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
const status: BalancerStatus = { pid: process.pid, updatedAt: "", listening: [], backends: {} };
for (const b of config.backends) {
    status.backends[b.name] = { loadBalancer: { ...INITIAL_CHECK_STATE }, autohealing: { ...INITIAL_CHECK_STATE }, recreations: 0, recreating: false };
}

function writeStatus(): void {
    status.updatedAt = new Date().toISOString();
    const tmp = `${config.statusFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(status, null, 2));
    fs.renameSync(tmp, config.statusFile);
}

/** What the router said in its last answer (its health JSON: what it serves), for `npm run local -- status`. */
const REPORT_LIMIT = 16 * 1024;
function parseReport(text: string): Record<string, unknown> | undefined {
    try {
        const parsed = JSON.parse(text);
        return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : undefined;
    } catch {
        return undefined;
    }
}

/** One HTTP health probe from the balancer's address: healthy only on 200, as GCE's HTTP check. */
function probe(backend: BalancerBackend, plan: HealthCheckPlan): Promise<{ ok: boolean; seen: string; report?: Record<string, unknown> }> {
    return new Promise((resolve) => {
        const req = http.get({ host: backend.address, port: plan.port, path: plan.path, localAddress: config.address, agent: false, timeout: plan.timeoutSec * 1000 }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (body = (body + chunk).slice(0, REPORT_LIMIT)));
            res.on("end", () => resolve({ ok: res.statusCode === 200, seen: String(res.statusCode), report: parseReport(body) }));
            res.on("error", () => resolve({ ok: res.statusCode === 200, seen: String(res.statusCode) }));
        });
        req.on("timeout", () => req.destroy(new Error(`timeout after ${plan.timeoutSec} s`)));
        req.on("error", (err) => resolve({ ok: false, seen: err.message }));
    });
}

function bornAt(backend: BalancerBackend): number | undefined {
    try {
        return fs.statSync(templatePath(backend.root)).mtimeMs;
    } catch {
        return undefined;
    }
}

async function loadBalancerCheck(backend: BalancerBackend): Promise<void> {
    const s = status.backends[backend.name];
    const { ok, seen, report } = await probe(backend, config.health);
    const before = s.loadBalancer.healthy;
    s.loadBalancer = afterProbe(s.loadBalancer, config.health, ok, seen);
    // A worker that does not answer has no report: an old one would say what it no longer serves.
    if (report) s.report = report;
    else delete s.report;
    if (before !== s.loadBalancer.healthy) log(`${backend.name}: ${s.loadBalancer.healthy ? "healthy" : `unhealthy (last probe: ${seen})`} for the load balancer`);
    writeStatus();
}

async function recreate(backend: BalancerBackend, s: BackendStatus): Promise<void> {
    s.recreating = true;
    writeStatus();
    log(`${backend.name}: autohealing recreates it (${s.autohealing.consecutiveFailures} failed checks after its initial delay; last: ${s.autohealing.last})`);
    try {
        const template: LocalMachineInputs = JSON.parse(fs.readFileSync(templatePath(backend.root), "utf8"));
        await shutdownMachine(stateOf(template, planFor(template), undefined));
        // Kept through the recreation: a balancer stopped halfway leaves a worker it can still heal.
        fs.writeFileSync(templatePath(backend.root), JSON.stringify(template), { mode: 0o600 });
        await bootFreshMachine(template);
        s.lastRecreation = { at: new Date().toISOString(), ok: true };
        log(`${backend.name}: recreated`);
    } catch (err) {
        s.lastRecreation = { at: new Date().toISOString(), ok: false, error: (err as Error).message };
        log(`${backend.name}: recreation failed: ${(err as Error).message}`);
    } finally {
        s.recreations += 1;
        s.recreating = false;
        s.autohealing = { ...INITIAL_CHECK_STATE };
        writeStatus();
    }
}

async function autohealingCheck(backend: BalancerBackend): Promise<void> {
    const s = status.backends[backend.name];
    if (s.recreating) return;
    const born = bornAt(backend);
    s.bornAt = born;
    // No template: the worker is not (or no longer) booted by its LocalMachine; nothing to heal.
    if (born === undefined) return;
    const { ok, seen } = await probe(backend, config.autohealing);
    const now = Date.now();
    s.autohealing = afterAutohealingProbe(s.autohealing, config.autohealing, ok, seen, born, now);
    if (shouldRecreate(s.autohealing, config.autohealing, born, now)) await recreate(backend, s);
    else writeStatus();
}

/** Runs `check` every interval, never two at once for one backend. */
function every(seconds: number, check: () => Promise<void>): void {
    let busy = false;
    const tick = () => {
        if (busy) return;
        busy = true;
        check().finally(() => (busy = false));
    };
    tick();
    setInterval(tick, seconds * 1000);
}

let next = 0;
function forward(port: number, client: net.Socket): void {
    const choices = eligibleBackends(config.backends, (name) => status.backends[name].loadBalancer.healthy);
    const backend = choices[next++ % choices.length];
    const upstream = net.connect({ host: backend.address, port, localAddress: config.address });
    const close = () => {
        client.destroy();
        upstream.destroy();
    };
    upstream.on("error", close);
    client.on("error", close);
    client.pipe(upstream).pipe(client);
}

function listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const server = net.createServer((client) => forward(port, client));
        server.once("error", (err) => reject(new Error(`${config.name}: cannot listen on ${config.address}:${port}: ${err.message}`)));
        server.listen(port, config.address, () => resolve());
    });
}

async function main(): Promise<void> {
    for (const port of config.ports) {
        await listen(port);
        status.listening.push(port);
    }
    writeStatus();
    log(`${config.name}: forwarding ${config.ports.join(", ")} on ${config.address} to ${config.backends.map((b) => `${b.name} (${b.address})`).join(", ")}`);
    for (const backend of config.backends) {
        every(config.health.checkIntervalSec, () => loadBalancerCheck(backend));
        every(config.autohealing.checkIntervalSec, () => autohealingCheck(backend));
    }
}

main().catch((err) => {
    log((err as Error).message);
    process.exit(1);
});
