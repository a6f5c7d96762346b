// The router, measured on the real parts (test/support/router-harness.ts: Debian's etcd and HAProxy,
// the bundled watcher under the local platform's spawnMachineProcess). Addresses 10.213.16.x.
//  - convergence: an etcd write that swaps a service's host -> the first request routed to the new host;
//  - hitless reload: failed requests under steady load while the router reloads 100 times.
import * as fs from "fs";
import * as path from "path";
import type { Etcd3 } from "etcd3";
import { httpGet, RouterHarness, startBackends, startRouterHarness, waitFor } from "../test/support/router-harness";
import { Benchmark, figure, round } from "./support";

const ADDRESS = "10.213.16.10";
const CHANGES = 50;
const RELOADS = 100;

function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Two HTTP backends answering "a ..." and "b ...". */
const TWO_BACKENDS = [
    { kind: "http" as const, host: "10.213.16.20", port: 8080, label: "a" },
    { kind: "http" as const, host: "10.213.16.21", port: 8080, label: "b" },
];

/** The harness first (its bridge holds the backends' addresses), then the backends, then `fn`. */
async function withRouter<T>(backendSpecs: Parameters<typeof startBackends>[0], fn: (h: RouterHarness, etcd: Etcd3) => Promise<T>): Promise<T> {
    const { Etcd3: Client } = require("etcd3") as typeof import("etcd3");
    const h = await startRouterHarness({ memberAddress: "10.213.16.2", proxyAddress: "10.213.16.5", address: ADDRESS, httpPorts: [18080], healthPort: 18256, dnsPort: 0 });
    const etcd = new Client({ hosts: h.etcd.endpoints });
    let backends: { close(): Promise<void> } | undefined;
    try {
        backends = await startBackends(backendSpecs);
        h.start();
        await waitFor("a healthy router", async () => (await httpGet(`http://${ADDRESS}:18256/healthz`)).status === 200, 30000);
        return await fn(h, etcd);
    } finally {
        etcd.close();
        await backends?.close();
        await h.close();
    }
}

export const routerConvergence: Benchmark = {
    name: "router-convergence",
    title: "Router convergence: etcd write -> first request routed to the new host",
    async run(ctx) {
        return await withRouter(TWO_BACKENDS, async (_h, etcd) => {
            await etcd.put("/services/conv/scheme").value("http");
            await etcd.put("/services/conv/hosts/0").value("10.213.16.20:8080");
            await waitFor("conv routed", async () => (await httpGet(`http://${ADDRESS}:18080/`, "conv.x")).body.startsWith("a "));
            const times: number[] = [];
            for (let i = 0; i < CHANGES; i++) {
                const label = i % 2 === 0 ? "b" : "a";
                const host = label === "a" ? "10.213.16.20:8080" : "10.213.16.21:8080";
                const start = process.hrtime.bigint();
                await etcd.put("/services/conv/hosts/0").value(host);
                await waitFor(`host ${label}`, async () => (await httpGet(`http://${ADDRESS}:18080/`, "conv.x")).body.startsWith(`${label} `), 10000, 5);
                times.push(Number(process.hrtime.bigint() - start) / 1e6);
            }
            ctx.log(`${CHANGES} changes measured`);
            const sorted = [...times].sort((x, y) => x - y);
            const p50 = percentile(sorted, 50);
            const p95 = percentile(sorted, 95);
            const measured = `${CHANGES} host swaps: etcd put -> first request answered by the new host (settle 100 ms + render + haproxy -c + reload)`;
            return {
                status: "ok" as const,
                figures: [
                    figure({ id: "p50", measured, value: round(p50, 1), unit: "ms", baseline: "the issue's target p95", baselineValue: 1000, digits: 1 }),
                    figure({ id: "p95", measured, value: round(p95, 1), unit: "ms", baseline: "the issue's target p95", baselineValue: 1000, digits: 1, target: { text: "p95 <= 1 s", pass: p95 <= 1000 } }),
                ],
                details: { changes: CHANGES, minMs: round(sorted[0], 1), maxMs: round(sorted[sorted.length - 1], 1), settleMs: 100, summary: `p50 ${round(p50, 0)} ms, p95 ${round(p95, 0)} ms over ${CHANGES} changes; the 100 ms settle is most of it.` },
            };
        });
    },
};

export const routerHitlessReload: Benchmark = {
    name: "router-hitless-reload",
    title: "Router hitless reload: failed requests during 100 reloads under steady load",
    async run(ctx) {
        return await withRouter(TWO_BACKENDS, async (h, etcd) => {
            await etcd.put("/services/load/scheme").value("http");
            await etcd.put("/services/load/hosts/0").value("10.213.16.20:8080");
            await etcd.put("/services/load/hosts/1").value("10.213.16.21:8080");
            await etcd.put("/services/churn/scheme").value("http");
            await waitFor("load routed", async () => (await httpGet(`http://${ADDRESS}:18080/`, "load.x")).status === 200);
            const log = path.join(h.root, "router.log");
            const servingLines = () => (fs.readFileSync(log, "utf8").match(/: serving \(/g) ?? []).length;
            const before = servingLines();
            let ok = 0;
            const failures: string[] = [];
            let running = true;
            // Four clients, a new connection per request (the worst case for a reload).
            const clients = Array.from({ length: 4 }, async () => {
                while (running) {
                    try {
                        const res = await httpGet(`http://${ADDRESS}:18080/`, "load.x");
                        if (res.status === 200) ok++;
                        else failures.push(`HTTP ${res.status}`);
                    } catch (err) {
                        failures.push((err as Error).message);
                    }
                }
            });
            for (let i = 0; i < RELOADS; i++) {
                // Each change renders a different config (another churn host), so each is a real reload.
                await etcd.put(`/services/churn/hosts/0`).value(`10.213.16.${30 + (i % 2)}:80`);
                const target = before + i + 1;
                await waitFor(`reload ${i + 1}`, async () => servingLines() >= target, 10000, 10);
            }
            running = false;
            await Promise.all(clients);
            const reloads = servingLines() - before;
            ctx.log(`${reloads} reloads, ${ok} ok, ${failures.length} failed`);
            return {
                status: "ok" as const,
                figures: [
                    figure({
                        id: "failed-requests",
                        measured: `failed requests of ${ok + failures.length} (4 clients, one connection each) during ${reloads} confirmed reloads`,
                        value: failures.length,
                        unit: "requests",
                        baseline: "requests sent",
                        baselineValue: ok + failures.length,
                        digits: 0,
                        target: { text: "0 failed", pass: failures.length === 0 },
                    }),
                ],
                details: { reloads, requests: ok + failures.length, failures: failures.slice(0, 10) },
            };
        });
    },
};
