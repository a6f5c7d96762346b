// The router end to end, all real: Debian's etcd (member + the worker's v2 proxy), the bundled
// watcher the user-data ships, started by the local platform's spawnMachineProcess, Debian's
// HAProxy, real HTTP/TCP backends, and DNS queries through the router's resolver. The watcher runs
// with only the capabilities the router container keeps (router-harness.ts, setpriv).
// Addresses: 10.213.14.0/24 (this suite's own, on a bridge of the harness; never loopback: the
// router refuses service hosts there).
import { expect } from "chai";
import { Resolver } from "dns/promises";
import { Etcd3 } from "etcd3";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROUTER_CAPABILITIES, ROUTER_HAPROXY_USER } from "../../model/router-contract";
import { haproxyMasterPid, httpGet, settledHaproxyMasterPid, RouterHarness, routerHealth, startBackends, startRouterHarness, tcpRead, waitFor, watcherPid } from "../support/router-harness";

const ADDRESS = "10.213.14.10";
const URL80 = `http://${ADDRESS}`;
/** Linux capability numbers (linux/capability.h) of the ones the router keeps. */
const CAPABILITY_BITS: Record<string, bigint> = { KILL: 1n << 5n, SETGID: 1n << 6n, SETUID: 1n << 7n, NET_BIND_SERVICE: 1n << 10n };

const health = () => routerHealth(ADDRESS);

/** Distinct backend labels seen over `n` requests. */
async function seen(n: number, url: string, host?: string): Promise<string[]> {
    const labels = new Set<string>();
    for (let i = 0; i < n; i++) {
        const res = await httpGet(url, host);
        labels.add(`${res.status} ${res.body.trim()}`);
    }
    return [...labels].sort();
}

describe("router (real etcd, real HAProxy, bundled watcher)", function () {
    this.timeout(120000);
    let h: RouterHarness;
    let etcd: Etcd3;
    let backends: { close(): Promise<void> };

    before(async () => {
        h = await startRouterHarness({ memberAddress: "10.213.14.2", proxyAddress: "10.213.14.5", address: ADDRESS });
        etcd = new Etcd3({ hosts: h.etcd.endpoints });
        backends = await startBackends([
            { kind: "http", host: "10.213.14.20", port: 8080, label: "web-a" },
            { kind: "http", host: "10.213.14.21", port: 8080, label: "web-b" },
            { kind: "http", host: "10.213.14.22", port: 8080, label: "web-c" },
            { kind: "http", host: "10.213.14.23", port: 8080, label: "api-a" },
            { kind: "tcp", host: "10.213.14.20", port: 6379, label: "redis-a" },
        ]);
        await etcd.put("/services/web/scheme").value("http");
        await etcd.put("/services/web/hosts/0").value("10.213.14.20:8080");
        await etcd.put("/services/web/hosts/1").value("10.213.14.21:8080");
        await etcd.put("/services/redis/scheme").value("tcp");
        await etcd.put("/services/redis/host_port").value("16379");
        await etcd.put("/services/redis/hosts/0").value("10.213.14.20:6379");
        await etcd.put("/services/empty/scheme").value("http");
        h.start();
        await waitFor("a healthy router", async () => (await health()).status === 200);
    });

    after(async () => {
        etcd?.close();
        await h?.close();
        await backends?.close();
    });

    it("routes by Host <name>.<any domain> round robin over both hosts", async () => {
        expect(await seen(6, `${URL80}/x`, "web.example.com")).to.deep.equal(["200 web-a /x", "200 web-b /x"]);
        expect(await seen(4, `http://${ADDRESS}:443/`, "WEB.other.org:443")).to.deep.equal(["200 web-a /", "200 web-b /"]);
    });

    it("routes by path /<name>/... and strips the prefix before the backend", async () => {
        expect(await seen(6, `${URL80}/web/hello?q=1`, "10.1.2.3")).to.deep.equal(["200 web-a /hello?q=1", "200 web-b /hello?q=1"]);
        expect(await seen(4, `${URL80}/web`)).to.deep.equal(["200 web-a /", "200 web-b /"]);
    });

    it("answers 404 naming the known services for an unknown one, 503 for a service without a live host", async () => {
        const unknown = await httpGet(`${URL80}/nope/`, "nope.example.com");
        expect(unknown.status).to.equal(404);
        expect(unknown.body).to.contain("no service routes").and.to.contain("empty, web");
        expect((await httpGet(`${URL80}/webx`)).status, "/webx is not /web").to.equal(404);
        const empty = await httpGet(`${URL80}/`, "empty.example.com");
        expect(empty.status).to.equal(503);
        expect(empty.body).to.contain("empty");
    });

    it("opens the TCP host_port of a service", async () => {
        expect(await tcpRead(ADDRESS, 16379)).to.equal("redis-a\n");
    });

    it("follows an added and a removed host, an added and a removed service", async () => {
        await etcd.put("/services/web/hosts/2").value("10.213.14.22:8080");
        await waitFor("web-c in rotation", async () => (await seen(6, `${URL80}/`, "web.x")).includes("200 web-c /"));
        await etcd.delete().key("/services/web/hosts/0");
        await waitFor("web-a out of rotation", async () => (await seen(6, `${URL80}/`, "web.x")).join() === ["200 web-b /", "200 web-c /"].join());
        await etcd.put("/services/api/scheme").value("http");
        await etcd.put("/services/api/hosts/0").value("10.213.14.23:8080");
        await waitFor("api routed", async () => (await httpGet(`${URL80}/api/v1`)).body === "api-a /v1\n");
        await etcd.delete().prefix("/services/api/");
        await waitFor("api gone", async () => (await httpGet(`${URL80}/api/v1`)).status === 404);
        await etcd.put("/services/web/hosts/0").value("10.213.14.20:8080");
        await etcd.delete().key("/services/web/hosts/2");
        await waitFor("web back to a and b", async () => (await seen(6, `${URL80}/`, "web.x")).join() === ["200 web-a /", "200 web-b /"].join());
    });

    it("answers 503 when every host of a service is down", async () => {
        await etcd.put("/services/dead/scheme").value("http");
        await etcd.put("/services/dead/hosts/0").value("10.213.14.24:8080");
        await waitFor("dead service marked down", async () => {
            const res = await httpGet(`${URL80}/dead/`);
            return res.status === 503 && res.body.includes("no live host");
        });
        await etcd.delete().prefix("/services/dead/");
    });

    it("skips a bad service, says why in the health detail (still 200), keeps routing the others, and takes it back once fixed", async () => {
        await etcd.put("/services/web/hosts/7").value("not-a-host");
        const bad = await waitFor("the skip reported", async () => {
            const res = await health();
            return res.body.config.skipped?.some((s: { service: string }) => s.service === "web") ? res : undefined;
        });
        expect(bad.status, "one bad service never fails the worker").to.equal(200);
        expect(bad.body.config.skipped).to.deep.equal([{ service: "web", problems: ['/services/web/hosts/7: "not-a-host" is not ip:port (a canonical IPv4 address and a port 1-65535, e.g. 10.10.0.5:8080)'] }]);
        expect(bad.body.config.skippedCount).to.equal(1);
        expect(bad.body.problem, "not a problem of the router").to.equal(undefined);
        expect(bad.body.config.services).to.deep.equal(["empty", "redis"]);
        // The health detail tells what the config being loaded skips; HAProxy takes it a moment later.
        await waitFor("web no longer routed", async () => (await httpGet(`${URL80}/`, "web.x")).status === 404);
        expect(await tcpRead(ADDRESS, 16379), "the others keep routing").to.equal("redis-a\n");
        await etcd.delete().key("/services/web/hosts/7");
        await waitFor("web routed again", async () => (await seen(6, `${URL80}/`, "web.x")).join() === ["200 web-a /", "200 web-b /"].join());
        expect((await health()).body.config.skipped).to.deep.equal([]);
        const log = h.log();
        expect(log.match(/skipping service web,/g), "logged once").to.have.length(1);
        expect(log).to.contain("service web is no longer skipped");
    });

    it("a config HAProxy cannot take (host_port already in use) turns health 503 and says why; fixing it recovers", async () => {
        const squatter = await startBackends([{ kind: "tcp", host: ADDRESS, port: 16380, label: "squatter" }]);
        try {
            await etcd.put("/services/clash/scheme").value("tcp");
            await etcd.put("/services/clash/host_port").value("16380");
            await etcd.put("/services/clash/hosts/0").value("10.213.14.20:6379");
            const bad = await waitFor("503 with the reason", async () => {
                const res = await health();
                return res.status === 503 && res.body.problem?.message?.includes("did not take") ? res : undefined;
            });
            expect(bad.body.config.loaded).to.equal(false);
            expect((await httpGet(`${URL80}/`, "web.x")).status, "the old workers still route").to.equal(200);
            await etcd.delete().prefix("/services/clash/");
            await waitFor("healthy again", async () => (await health()).status === 200);
        } finally {
            await squatter.close();
        }
    });

    it("HAProxy's workers run as haproxy, its master and the watcher as root with only the router's capabilities", async () => {
        const master = await settledHaproxyMasterPid(h);
        const status = (pid: number) => fs.readFileSync(`/proc/${pid}/status`, "utf8");
        const fieldOf = (text: string, name: string) => new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(text)![1];
        const field = (pid: number, name: string) => fieldOf(status(pid), name);
        // A worker of the configuration before the last reload may still be finishing its connections,
        // and exit between the listing and the read: one that is gone is skipped, every live one judged.
        const statusIfAlive = (pid: number) => {
            try {
                return status(pid);
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
                throw err;
            }
        };
        const workers = fs.readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
        const live = workers.map((w) => ({ w, text: statusIfAlive(w) })).filter((x): x is { w: number; text: string } => x.text !== undefined);
        expect(live.length, "live workers").to.be.greaterThan(0);
        const haproxyUid = execFileSync("id", ["-u", ROUTER_HAPROXY_USER], { encoding: "utf8" }).trim();
        for (const { w, text } of live) expect(fieldOf(text, "Uid"), `worker ${w}`).to.equal(haproxyUid);
        expect(field(master, "Uid")).to.equal("0");
        const kept = ROUTER_CAPABILITIES.map((c) => CAPABILITY_BITS[c.name]).reduce((a, b) => a | b, 0n);
        for (const pid of [master, watcherPid(h.supervisorPid()!)!]) {
            expect(BigInt(`0x${field(pid, "CapBnd")}`), `pid ${pid}: bounding set`).to.equal(kept);
            expect(BigInt(`0x${field(pid, "CapEff")}`), `pid ${pid}: effective`).to.equal(kept);
            expect(field(pid, "NoNewPrivs")).to.equal("1");
        }
    });

    it("DNS: <service>.local resolves to the worker through its resolver; unknown names do not", async () => {
        const resolver = new Resolver({ timeout: 2000, tries: 1 });
        resolver.setServers([ADDRESS]);
        expect(await resolver.resolve4("web.local")).to.deep.equal([ADDRESS]);
        expect(await resolver.resolve4("redis.local")).to.deep.equal([ADDRESS]);
        const err = await resolver.resolve4("nope.local").catch((e) => e);
        expect(err.code).to.equal("ENOTFOUND");
    });

    it("restores a killed HAProxy", async () => {
        const before = await settledHaproxyMasterPid(h);
        process.kill(before, "SIGKILL");
        await waitFor("a new master", async () => {
            const now = haproxyMasterPid(h);
            return now !== undefined && now !== before && (await httpGet(`${URL80}/`, "web.x")).status === 200;
        });
        expect((await health()).status).to.equal(200);
    });

    it("restores a killed watcher (the local supervisor loop), which adopts the running HAProxy", async () => {
        const supervisor = h.supervisorPid()!;
        const watcher = watcherPid(supervisor)!;
        expect(watcher, "watcher pid").to.be.a("number");
        const master = await settledHaproxyMasterPid(h);
        process.kill(watcher, "SIGKILL");
        await waitFor("a new watcher", async () => {
            const now = watcherPid(supervisor);
            return now !== undefined && now !== watcher;
        });
        await waitFor("healthy again", async () => (await health()).status === 200);
        expect(await settledHaproxyMasterPid(h), "same HAProxy master, adopted").to.equal(master);
        await etcd.put("/services/api/scheme").value("http");
        await etcd.put("/services/api/hosts/0").value("10.213.14.23:8080");
        await waitFor("the new watcher follows etcd", async () => (await httpGet(`${URL80}/api/`)).status === 200);
        await etcd.delete().prefix("/services/api/");
    });

    it("stays healthy and keeps routing while etcd is away (static stability); changes flow again when it is back", async () => {
        await h.etcd.stopMember(0);
        await waitFor("the outage seen", async () => (await health()).body.etcdProxy.answers === false);
        // Checks over a few seconds, as the balancer's and autohealing's probes would see them.
        for (let i = 0; i < 6; i++) {
            const res = await health();
            expect(res.status, "health while etcd is away").to.equal(200);
            expect(res.body.etcdProxy.answers).to.equal(false);
            expect(res.body.config.loaded, "routing goes on with the last config").to.equal(true);
            expect((await httpGet(`${URL80}/`, "web.x")).status).to.equal(200);
            await new Promise((r) => setTimeout(r, 500));
        }
        await h.etcd.startMember(0);
        await waitFor("etcd answers again", async () => (await health()).body.etcdProxy.answers === true, 30000);
        await etcd.put("/services/back/scheme").value("http");
        await etcd.put("/services/back/hosts/0").value("10.213.14.23:8080");
        await waitFor("a change after the outage is routed", async () => (await httpGet(`${URL80}/back/`)).status === 200, 30000);
        await etcd.delete().prefix("/services/back/");
    });

    it("a restart rebuilds from etcd (no config left on disk)", async () => {
        await h.stop();
        fs.rmSync(h.env.ROUTER_CONFIG_DIR, { recursive: true, force: true });
        await etcd.put("/services/api/scheme").value("http");
        await etcd.put("/services/api/hosts/0").value("10.213.14.23:8080");
        h.start();
        await waitFor("healthy", async () => (await health()).status === 200);
        expect((await httpGet(`${URL80}/api/`)).body).to.equal("api-a /\n");
        expect(fs.readFileSync(path.join(h.env.ROUTER_CONFIG_DIR, "haproxy.cfg"), "utf8")).to.contain("backend http_api");
    });
});
