// The router, measured on the real parts (test/support/router-harness.ts: Debian's etcd and HAProxy,
// the bundled watcher under the local platform's spawnMachineProcess). Addresses 10.213.16.x.
//  - convergence (hosts): a host replaced, added or removed in etcd -> traffic follows, through
//    runtime commands: p50/p95, failed requests under load, HAProxy processes before and after;
//  - convergence (services): a service added or removed -> routed / gone, through a settled hitless
//    reload: the same figures;
//  - hitless reload: failed requests under steady load while the router reloads 100 times.
import type { Etcd3 } from "etcd3";
import * as fs from "fs";
import * as path from "path";
import { haproxyProcesses, httpGet, RouterHarness, servedHosts, startBackends, startRouterHarness, waitFor } from "../test/support/router-harness";
import { Benchmark, BenchmarkOutcome, figure, round } from "./support";

const ADDRESS = "10.213.16.10";
const URL = `http://${ADDRESS}:18080/`;
const HOST_CHANGES = 60;
const SERVICE_CHANGES = 20;
const RELOADS = 100;
const TARGET_MS = 50;

function percentile(sorted: number[], p: number): number {
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** HTTP backends answering "a ...", "b ...", "c ..." and "d ...". */
const BACKENDS = ["a", "b", "c", "d"].map((label, i) => ({ kind: "http" as const, host: `10.213.16.${20 + i}`, port: 8080, label }));
const hostOf = (label: string) => `10.213.16.${20 + "abcd".indexOf(label)}:8080`;

/** The harness first (its bridge holds the backends' addresses), then the backends, then `fn`. */
async function withRouter<T>(fn: (h: RouterHarness, etcd: Etcd3) => Promise<T>): Promise<T> {
    const { Etcd3: Client } = require("etcd3") as typeof import("etcd3");
    const h = await startRouterHarness({ memberAddress: "10.213.16.2", proxyAddress: "10.213.16.5", address: ADDRESS, httpPorts: [18080], healthPort: 18256, dnsPort: 0 });
    const etcd = new Client({ hosts: h.etcd.endpoints });
    let backends: { close(): Promise<void> } | undefined;
    try {
        backends = await startBackends(BACKENDS);
        h.start();
        await waitFor("a healthy router", async () => (await httpGet(`http://${ADDRESS}:18256/healthz`)).status === 200, 30000);
        return await fn(h, etcd);
    } finally {
        etcd.close();
        await backends?.close();
        await h.close();
    }
}

/** `clients` loops calling `host` (one connection per request) until stopped; every answer but a 200 is a failure. */
function steadyLoad(host: string, clients: number) {
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: clients }, async () => {
        while (running) {
            try {
                const res = await httpGet(URL, host, 10000);
                if (res.status === 200) ok++;
                else failures.push(`HTTP ${res.status} ${res.body.trim()}`);
            } catch (err) {
                failures.push((err as Error).message);
            }
        }
    });
    return {
        async stop() {
            running = false;
            await Promise.all(loops);
            return { ok, failures };
        },
    };
}

/** Times from etcd commit to traffic following, failed requests of the load, HAProxy's processes: the figures of one kind of change. */
function convergenceOutcome(o: { what: string; times: number[]; byKind: Record<string, number[]>; load: { ok: number; failures: string[] }; before: number[]; after: number[]; reloads: number; noReload: boolean }): BenchmarkOutcome {
    const sorted = [...o.times].sort((x, y) => x - y);
    const [p50, p95] = [percentile(sorted, 50), percentile(sorted, 95)];
    const fresh = o.after.filter((p) => !o.before.includes(p)).length;
    const requests = o.load.ok + o.load.failures.length;
    const kinds = Object.fromEntries(Object.entries(o.byKind).map(([k, t]) => { const s = [...t].sort((x, y) => x - y); return [k, { n: s.length, p50Ms: round(percentile(s, 50), 1), p95Ms: round(percentile(s, 95), 1) }]; }));
    return {
        status: "ok",
        figures: [
            figure({ id: "p50", measured: o.what, value: p50, unit: "ms", baseline: "the issue's target p95", baselineValue: TARGET_MS, digits: 1 }),
            figure({ id: "p95", measured: o.what, value: p95, unit: "ms", baseline: "the issue's target p95", baselineValue: TARGET_MS, digits: 1, ...(o.noReload ? { target: { text: `p95 <= ${TARGET_MS} ms`, pass: p95 <= TARGET_MS } } : {}) }),
            figure({ id: "failed-requests", measured: `failed requests of ${requests} (2 clients on a steady service, one connection each) during the changes`, value: o.load.failures.length, unit: "requests", baseline: "requests sent", baselineValue: requests, digits: 0, target: { text: "0 failed", pass: o.load.failures.length === 0 } }),
            figure({
                id: "new-haproxy-processes",
                measured: `HAProxy processes (master + workers) that did not exist before the changes (${o.reloads} reloads)`,
                value: fresh,
                unit: "processes",
                baseline: "HAProxy processes before",
                baselineValue: o.before.length,
                digits: 0,
                ...(o.noReload ? { target: { text: "0 new (no reload)", pass: fresh === 0 } } : {}),
            }),
        ],
        details: { changes: o.times.length, byKind: kinds, minMs: round(sorted[0], 1), maxMs: round(sorted[sorted.length - 1], 1), reloads: o.reloads, haproxyBefore: o.before, haproxyAfter: o.after, failures: o.load.failures.slice(0, 10), summary: `p50 ${round(p50, 1)} ms, p95 ${round(p95, 1)} ms over ${o.times.length} changes; ${o.load.failures.length} failed of ${requests}; ${fresh} new HAProxy processes` },
    };
}

const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

export const routerConvergence: Benchmark = {
    name: "router-convergence",
    title: "Router convergence, hosts: a host replaced, added or removed in etcd -> traffic follows, no reload",
    async run(ctx) {
        return await withRouter(async (h, etcd) => {
            await etcd.put("/services/steady/scheme").value("http");
            await etcd.put("/services/steady/hosts/0").value(hostOf("d"));
            await etcd.put("/services/conv/scheme").value("http");
            await etcd.put("/services/conv/hosts/0").value(hostOf("a"));
            await waitFor("conv routed", async () => (await httpGet(URL, "conv.x")).body.startsWith("a "));
            await waitFor("steady routed", async () => (await httpGet(URL, "steady.x")).status === 200);
            const reloadsBefore = JSON.parse((await httpGet(`http://${ADDRESS}:18256/healthz`)).body).haproxy.reloads;
            const before = haproxyProcesses(h);
            const load = steadyLoad("steady.x", 2);
            const byKind: Record<string, number[]> = { replace: [], add: [], remove: [] };
            const firstAnswer = (label: string) => waitFor(`host ${label}`, async () => (await httpGet(URL, "conv.x")).body.startsWith(`${label} `), 10000, 1);
            let current = "a";
            for (let i = 0; i < HOST_CHANGES / 3; i++) {
                // replace: hosts/0 moves to the other backend; the first request it answers ends the measure.
                const next = current === "a" ? "b" : "a";
                let start = process.hrtime.bigint();
                await etcd.put("/services/conv/hosts/0").value(hostOf(next));
                await firstAnswer(next);
                byKind.replace.push(since(start));
                current = next;
                // add: c joins; the first request c answers.
                start = process.hrtime.bigint();
                await etcd.put("/services/conv/hosts/1").value(hostOf("c"));
                await firstAnswer("c");
                byKind.add.push(since(start));
                // remove: c leaves; done when HAProxy takes no new request to it (its slot in maintenance).
                start = process.hrtime.bigint();
                await etcd.delete().key("/services/conv/hosts/1");
                await waitFor("c out", async () => !(await servedHosts(h)).get("http_conv")?.includes(hostOf("c")), 10000, 1);
                byKind.remove.push(since(start));
            }
            const result = await load.stop();
            const after = haproxyProcesses(h);
            const reloads = JSON.parse((await httpGet(`http://${ADDRESS}:18256/healthz`)).body).haproxy.reloads - reloadsBefore;
            ctx.log(`${HOST_CHANGES} host changes, ${result.failures.length} failed requests, ${reloads} reloads`);
            // The router's own share (its log: watch event -> batch answered by HAProxy); the rest is etcd's commit and watch, and the probe.
            const inRouter = [...h.log().matchAll(/no reload \((\d+) ms after the watch event\)/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
            const what = `${HOST_CHANGES} host changes (replace, add: etcd put -> first request answered by the new host; remove: etcd delete -> its slot out of rotation), runtime commands`;
            const outcome = convergenceOutcome({ what, times: [...byKind.replace, ...byKind.add, ...byKind.remove], byKind, load: result, before, after, reloads, noReload: true });
            outcome.details = { ...outcome.details, routerSide: { batches: inRouter.length, p50Ms: percentile(inRouter, 50), p95Ms: percentile(inRouter, 95), what: "watch event -> runtime batch answered, from the router's log" } };
            return outcome;
        });
    },
};

export const routerServiceConvergence: Benchmark = {
    name: "router-service-convergence",
    title: "Router convergence, services: a service added or removed in etcd -> routed or gone, by a hitless reload",
    async run(ctx) {
        return await withRouter(async (h, etcd) => {
            await etcd.put("/services/steady/scheme").value("http");
            await etcd.put("/services/steady/hosts/0").value(hostOf("d"));
            await waitFor("steady routed", async () => (await httpGet(URL, "steady.x")).status === 200);
            const before = haproxyProcesses(h);
            const load = steadyLoad("steady.x", 2);
            const byKind: Record<string, number[]> = { add: [], remove: [] };
            for (let i = 0; i < SERVICE_CHANGES; i++) {
                const name = `svc${i}`;
                let start = process.hrtime.bigint();
                // One transaction per service, as a provider writes it.
                await etcd.if(`/services/${name}/scheme`, "Create", "==", 0).then(etcd.put(`/services/${name}/scheme`).value("http"), etcd.put(`/services/${name}/hosts/0`).value(hostOf("a"))).commit();
                await waitFor(`${name} routed`, async () => (await httpGet(URL, `${name}.x`)).status === 200, 10000, 2);
                byKind.add.push(since(start));
                start = process.hrtime.bigint();
                await etcd.delete().prefix(`/services/${name}/`);
                await waitFor(`${name} gone`, async () => (await httpGet(URL, `${name}.x`)).status === 404, 10000, 2);
                byKind.remove.push(since(start));
            }
            const result = await load.stop();
            // Old workers leave once their connections end (one connection per request: at once).
            await new Promise((r) => setTimeout(r, 500));
            const after = haproxyProcesses(h);
            ctx.log(`${SERVICE_CHANGES * 2} service changes, ${result.failures.length} failed requests`);
            const what = `${SERVICE_CHANGES} services added and removed (etcd commit -> first request routed / answered 404): settle ${100} ms, haproxy -c, hitless reload`;
            return convergenceOutcome({ what, times: [...byKind.add, ...byKind.remove], byKind, load: result, before, after, reloads: SERVICE_CHANGES * 2, noReload: false });
        });
    },
};

export const routerHitlessReload: Benchmark = {
    name: "router-hitless-reload",
    title: "Router hitless reload: failed requests during 100 reloads under steady load",
    async run(ctx) {
        return await withRouter(async (h, etcd) => {
            await etcd.put("/services/load/scheme").value("http");
            await etcd.put("/services/load/hosts/0").value(hostOf("a"));
            await etcd.put("/services/load/hosts/1").value(hostOf("b"));
            await waitFor("load routed", async () => (await httpGet(URL, "load.x")).status === 200);
            const log = path.join(h.root, "router.log");
            const servingLines = () => (fs.readFileSync(log, "utf8").match(/: serving \(/g) ?? []).length;
            // New workers answer a moment before the watcher logs that they serve: counted before that
            // line, the first reload would be "seen" at once and the next change could undo the
            // first inside one settle window (no reload for either).
            await waitFor("load served", async () => /: serving \(load\)/.test(fs.readFileSync(log, "utf8")));
            const before = servingLines();
            // Four clients, a new connection per request (the worst case for a reload).
            const load = steadyLoad("load.x", 4);
            for (let i = 0; i < RELOADS; i++) {
                // A service appears and goes: a change of structure, so each is a real reload (host changes no longer reload).
                if (i % 2 === 0) await etcd.put("/services/churn/scheme").value("http");
                else await etcd.delete().key("/services/churn/scheme");
                const target = before + i + 1;
                await waitFor(`reload ${i + 1}`, async () => servingLines() >= target, 10000, 10);
            }
            const { ok, failures } = await load.stop();
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
