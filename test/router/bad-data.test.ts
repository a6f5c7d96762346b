// The router survives bad data (issue 22): real etcd, the bundled watcher with the container's
// capabilities, real HAProxy. Bad services are written into etcd one after the other while clients
// keep calling a good HTTP service and a good TCP service: not one of those calls fails, every bad
// service is reported in the health JSON and skipped, names that are an object's built-in
// properties are services like any other, and the watcher never restarts.
// Addresses: 10.213.15.0/24 (this suite's own, on a bridge of the harness).
import { expect } from "chai";
import { Etcd3 } from "etcd3";
import { httpGet, RouterHarness, routerHealth, startBackends, startRouterHarness, tcpRead, waitFor, watcherPid } from "../support/router-harness";
import { keepCalling } from "../support/keep-calling";

const ADDRESS = "10.213.15.10";
const URL80 = `http://${ADDRESS}`;

interface Health {
    status: number;
    body: {
        healthy: boolean;
        config: { loaded: boolean; services?: string[]; skipped?: Array<{ service: string; problems: string[] }>; skippedCount?: number };
        problem?: { message: string };
    };
}

const health = () => routerHealth<Health["body"]>(ADDRESS);

describe("router: bad data in etcd costs only its own service (real etcd, real HAProxy)", function () {
    this.timeout(180000);
    let h: RouterHarness;
    let etcd: Etcd3;
    let backends: { close(): Promise<void> };

    before(async () => {
        h = await startRouterHarness({ memberAddress: "10.213.15.2", proxyAddress: "10.213.15.5", address: ADDRESS });
        etcd = new Etcd3({ hosts: h.etcd.endpoints });
        backends = await startBackends([
            { kind: "http", host: "10.213.15.20", port: 8080, label: "web-a" },
            { kind: "http", host: "10.213.15.21", port: 8080, label: "web-b" },
            { kind: "tcp", host: "10.213.15.22", port: 6379, label: "redis-a" },
            { kind: "http", host: "10.213.15.23", port: 8080, label: "builtin" },
        ]);
        await etcd.put("/services/web/scheme").value("http");
        await etcd.put("/services/web/hosts/0").value("10.213.15.20:8080");
        await etcd.put("/services/web/hosts/1").value("10.213.15.21:8080");
        await etcd.put("/services/redis/scheme").value("tcp");
        await etcd.put("/services/redis/host_port").value("16379");
        await etcd.put("/services/redis/hosts/0").value("10.213.15.22:6379");
        h.start();
        await waitFor("a healthy router", async () => (await health()).status === 200, 30000);
    });

    // A failure under load says why: the router's own log of what it read, skipped and applied.
    afterEach(function () {
        if (this.currentTest?.state === "failed" && h) console.error(`router log (last 60 lines):\n${h.log().split("\n").slice(-60).join("\n")}`);
    });

    after(async () => {
        etcd?.close();
        await h?.close();
        await backends?.close();
    });

    it("bad services written under load: 0 failed requests to the good ones, each bad one reported and skipped, the watcher never restarts", async () => {
        const watcherAtStart = watcherPid(h.supervisorPid()!);
        expect(watcherAtStart, "watcher pid").to.be.a("number");
        const web = keepCalling(async () => {
            const res = await httpGet(`${URL80}/x`, "web.example.com", 10000);
            return (res.status === 200 && /^web-[ab] \/x\n$/.test(res.body)) || `web: ${res.status} ${res.body.trim()}`;
        });
        const redis = keepCalling(async () => {
            const answer = await tcpRead(ADDRESS, 16379, 10000);
            return answer === "redis-a\n" || `redis: ${JSON.stringify(answer)}`;
        });
        // What the router itself says while the bad data arrives: never a refused config, never an unloaded one.
        const healthSamples: Health[] = [];
        const sampler = keepCalling(async () => {
            healthSamples.push(await health());
            await new Promise((r) => setTimeout(r, 100));
            return true;
        });

        const bad: Array<{ service: string; keys: Record<string, string>; reason: RegExp }> = [
            { service: "metadata", keys: { scheme: "http", "hosts/0": "10.213.15.20:8080", "hosts/1": "169.254.169.254:80" }, reason: /link-local/ },
            { service: "loop", keys: { scheme: "http", "hosts/0": "127.0.0.1:2379" }, reason: /loopback/ },
            { service: "member", keys: { scheme: "http", "hosts/0": "10.213.15.2:8080" }, reason: /etcd member/ },
            { service: "health", keys: { scheme: "http", "hosts/0": "10.213.15.20:10256" }, reason: /health check/ },
            { service: "squat", keys: { scheme: "tcp", host_port: "16379", "hosts/0": "10.213.15.23:8080" }, reason: /redis registered it first/ },
            { service: "ssh", keys: { scheme: "tcp", host_port: "22", "hosts/0": "10.213.15.23:8080" }, reason: /system port/ },
            { service: "on-http", keys: { scheme: "tcp", host_port: "80", "hosts/0": "10.213.15.23:8080" }, reason: /HTTP port/ },
            { service: "ephemeral", keys: { scheme: "tcp", host_port: "40000", "hosts/0": "10.213.15.23:8080" }, reason: /Docker/ },
            { service: "udp", keys: { scheme: "udp", "hosts/0": "10.213.15.23:8080" }, reason: /must be http or tcp/ },
            { service: "noscheme", keys: { "hosts/0": "10.213.15.23:8080" }, reason: /scheme is missing/ },
            { service: "inject", keys: { scheme: "http", "hosts/0": "10.213.15.23:8080\n    server x 10.213.15.21:8080" }, reason: /is not ip:port/ },
            { service: "Bad_Name", keys: { scheme: "http", "hosts/0": "10.213.15.23:8080" }, reason: /is not a service name/ },
            // Names of an object's built-in properties, with bad data: skipped like any other.
            { service: "hasownproperty", keys: { scheme: "tcp" }, reason: /host_port is missing/ },
            { service: "valueof", keys: { scheme: "http", "hosts/0": "0.0.0.0:80" }, reason: /unspecified/ },
        ];
        try {
            for (const b of bad) {
                for (const [field, value] of Object.entries(b.keys)) await etcd.put(`/services/${b.service}/${field}`).value(value);
                const reported = await waitFor(`${b.service} reported`, async () => {
                    const res = await health();
                    return res.body.config.skipped?.find((s) => s.service === b.service);
                });
                expect(reported.problems.some((p) => b.reason.test(p)), `${b.service}: ${b.reason} in ${reported.problems.join(" | ")}`).to.equal(true);
            }
            // Good services named like built-in properties route, and their reload happens under load too.
            for (const name of ["constructor", "tostring", "isprototypeof", "proto"]) {
                await etcd.put(`/services/${name}/scheme`).value("http");
                await etcd.put(`/services/${name}/hosts/0`).value("10.213.15.23:8080");
            }
            await waitFor("the built-in names routed", async () => {
                for (const name of ["constructor", "tostring", "isprototypeof", "proto"]) {
                    const res = await httpGet(`${URL80}/${name}/y`);
                    if (res.status !== 200 || res.body !== "builtin /y\n") return false;
                }
                return true;
            });
        } finally {
            const webResult = await web.stop();
            const redisResult = await redis.stop();
            await sampler.stop();
            expect(webResult.failures, "failed requests to web").to.deep.equal([]);
            expect(redisResult.failures, "failed connections to redis").to.deep.equal([]);
            expect(webResult.ok, "web was called throughout").to.be.greaterThan(10);
            expect(redisResult.ok, "redis was called throughout").to.be.greaterThan(10);
        }

        const end = await health();
        expect(end.status, "bad services never fail the worker").to.equal(200);
        expect(end.body.problem).to.equal(undefined);
        expect(end.body.config.services).to.deep.equal(["constructor", "isprototypeof", "proto", "redis", "tostring", "web"]);
        expect(end.body.config.skipped!.map((s) => s.service).sort()).to.deep.equal(bad.map((b) => b.service).sort());
        expect(end.body.config.skippedCount).to.equal(bad.length);
        for (const sample of healthSamples) {
            expect(sample.body.config.loaded, "the config stays loaded").to.equal(true);
            expect(sample.body.problem, "no refused config, no etcd trouble").to.equal(undefined);
        }
        expect(watcherPid(h.supervisorPid()!), "the watcher never restarted").to.equal(watcherAtStart);
        expect(h.log()).to.not.match(/exited \(\d+\); restarting/);
        // Each skip is logged once, whatever the number of reads since.
        for (const b of bad) expect(h.log().split(`skipping service ${b.service},`).length - 1, `${b.service} logged once`).to.equal(1);
    });

    it("a fixed service comes back, and the one that lost a port clash keeps losing until the first one leaves", async () => {
        await etcd.put("/services/udp/scheme").value("http");
        await waitFor("udp routed once fixed", async () => (await httpGet(`${URL80}/udp/`)).body === "builtin /\n");
        expect((await health()).body.config.skipped!.some((s) => s.service === "udp")).to.equal(false);
        await etcd.delete().prefix("/services/redis/");
        const after = await waitFor("squat takes 16379 once redis is gone", async () => {
            const res = await health();
            return res.body.config.services!.includes("squat") ? res : undefined;
        });
        expect(after.body.config.skipped!.some((s) => s.service === "squat")).to.equal(false);
    });
});
