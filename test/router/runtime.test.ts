// Host changes without a reload (issue 25 item 4), all real: Debian's etcd and HAProxy, the bundled
// watcher under the container's capabilities (router-harness.ts). A host added, removed or replaced
// in etcd reaches traffic through runtime commands on HAProxy's admin socket: the same HAProxy
// processes serve on (no new pid), not one request fails under load, a backend out of slots reloads
// hitlessly with more, a later reload serves the same hosts, and a hostile host value never becomes
// a runtime command.
// Addresses: 10.213.52.0/24 (this suite's own, on a bridge of the harness; the router refuses
// service hosts on loopback, so 127.0.52.x cannot be used for them).
import { expect } from "chai";
import { Etcd3 } from "etcd3";
import * as fs from "fs";
import * as path from "path";
import { haproxyProcesses, httpGet, RouterHarness, routerHealth, servedHosts, startBackends, startRouterHarness, waitFor } from "../support/router-harness";

const NET = "10.213.52";
const ADDRESS = `${NET}.10`;
const URL80 = `http://${ADDRESS}`;
const hostOf = (n: number) => `${NET}.${n}:8080`;

const health = async () => (await routerHealth(ADDRESS)).body;

/** Clients calling web back to back (a new connection per request, the hardest case) until stopped. */
function load(clients: number): { stop(): Promise<{ ok: number; failures: string[]; labels: Set<string> }> } {
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const labels = new Set<string>();
    const loops = Array.from({ length: clients }, async () => {
        while (running) {
            try {
                const res = await httpGet(`${URL80}/x`, "web.example.com", 10000);
                if (res.status === 200) {
                    ok++;
                    labels.add(res.body.split(" ")[0]);
                } else failures.push(`${new Date().toISOString()} HTTP ${res.status} ${res.body.trim()}`);
            } catch (err) {
                failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
            }
        }
    });
    return {
        async stop() {
            running = false;
            await Promise.all(loops);
            return { ok, failures, labels };
        },
    };
}

describe("router: host changes through HAProxy's runtime API, no reload (real etcd, real HAProxy)", function () {
    this.timeout(180000);
    let h: RouterHarness;
    let etcd: Etcd3;
    let backends: { close(): Promise<void> };

    /** Puts web's hosts (host key n -> backend .n) in one transaction, as a provider writes a service. */
    async function setWebHosts(ids: number[]): Promise<void> {
        const existing = await etcd.getAll().prefix("/services/web/hosts/").keys();
        const txn = etcd.if("/services/web/scheme", "Value", "==", "http");
        const ops = [...existing.filter((k) => !ids.some((n) => k === `/services/web/hosts/${n}`)).map((k) => etcd.delete().key(k)), ...ids.map((n) => etcd.put(`/services/web/hosts/${n}`).value(hostOf(n)))];
        await txn.then(...ops).commit();
    }

    async function webServes(ids: number[]): Promise<boolean> {
        return (await servedHosts(h)).get("http_web")?.join() === ids.map(hostOf).sort().join();
    }

    before(async () => {
        h = await startRouterHarness({ memberAddress: `${NET}.2`, proxyAddress: `${NET}.5`, address: ADDRESS, dnsPort: 0 });
        etcd = new Etcd3({ hosts: h.etcd.endpoints });
        backends = await startBackends(Array.from({ length: 12 }, (_, i) => ({ kind: "http" as const, host: `${NET}.${20 + i}`, port: 8080, label: `b${20 + i}` })));
        await etcd.put("/services/web/scheme").value("http");
        await setWebHosts([20, 21]);
        h.start();
        await waitFor("a healthy router routing web", async () => (await httpGet(`${URL80}/`, "web.x")).status === 200, 30000);
    });

    after(async () => {
        etcd?.close();
        await h?.close();
        await backends?.close();
    });

    it("the admin socket is the router's alone: a unix socket in its run dir (0700), mode 0600, root's", () => {
        const runDir = h.env.ROUTER_RUN_DIR;
        const sock = fs.statSync(path.join(runDir, "haproxy.sock"));
        expect(sock.isSocket()).to.equal(true);
        expect(sock.mode & 0o777).to.equal(0o600);
        expect(sock.uid).to.equal(0);
        expect(fs.statSync(runDir).mode & 0o777).to.equal(0o700);
        expect(fs.readFileSync(path.join(h.env.ROUTER_CONFIG_DIR, "haproxy.cfg"), "utf8")).to.contain(`stats socket ${runDir}/haproxy.sock mode 600 level admin`);
    });

    it("a host added, removed and replaced reaches traffic with no new HAProxy process; the file keeps up", async () => {
        const before = haproxyProcesses(h);
        const reloadsBefore = (await health()).haproxy.reloads;
        expect(before.length, "a master and a worker").to.be.at.least(2);
        await setWebHosts([20, 21, 22]);
        await waitFor("b22 answers", async () => (await httpGet(`${URL80}/`, "web.x")).body.startsWith("b22 ") || undefined, 5000, 5);
        await setWebHosts([21, 22]);
        await waitFor("b20 gone", async () => webServes([21, 22]), 5000, 5);
        await setWebHosts([21, 23]);
        await waitFor("b22 replaced by b23", async () => webServes([21, 23]), 5000, 5);
        for (let i = 0; i < 6; i++) expect((await httpGet(`${URL80}/`, "web.x")).body).to.match(/^b(21|23) /);
        expect(haproxyProcesses(h), "the same master and workers").to.deep.equal(before);
        const now = await health();
        expect(now.haproxy.reloads, "no reload").to.equal(reloadsBefore);
        expect(now.haproxy.runtimeBatches).to.be.at.least(3);
        const file = fs.readFileSync(path.join(h.env.ROUTER_CONFIG_DIR, "haproxy.cfg"), "utf8");
        const inFile = [...file.matchAll(/server s\d+ (\d+\.\d+\.\d+\.\d+:\d+) check/g)].map((m) => m[1]).sort();
        expect(inFile, "the config file lists what HAProxy serves").to.deep.equal([hostOf(21), hostOf(23)]);
        expect(h.log()).to.match(/hosts of http_web changed by \d+ runtime commands, no reload/);
    });

    it("0 failed requests while hosts are added, removed and replaced under load, and still no new process", async () => {
        const before = haproxyProcesses(h);
        const traffic = load(4);
        const sets = [[21, 23, 24], [23, 24], [24, 25], [25], [25, 26, 27], [20, 21], [21, 22], [22, 23, 24, 25], [20]];
        try {
            for (let round = 0; round < 2; round++) {
                for (const ids of sets) {
                    await setWebHosts(ids);
                    await waitFor(`web serving ${ids.join(",")}`, async () => webServes(ids), 5000, 5);
                    await new Promise((r) => setTimeout(r, 50));
                }
            }
        } finally {
            const result = await traffic.stop();
            expect(result.failures, "failed requests").to.deep.equal([]);
            expect(result.ok).to.be.greaterThan(50);
            expect([...result.labels].length, "traffic reached the changing hosts").to.be.at.least(6);
        }
        expect(haproxyProcesses(h), "no new HAProxy process").to.deep.equal(before);
    });

    it("a backend out of free slots reloads hitlessly with more; a later reload serves the same hosts", async () => {
        const many = Array.from({ length: 10 }, (_, i) => 20 + i);
        const traffic = load(2);
        try {
            await setWebHosts(many);
            await waitFor("web on 10 hosts", async () => webServes(many), 10000, 10);
        } finally {
            const result = await traffic.stop();
            expect(result.failures, "failed requests during the reload").to.deep.equal([]);
        }
        const cfg = fs.readFileSync(path.join(h.env.ROUTER_CONFIG_DIR, "haproxy.cfg"), "utf8");
        expect(cfg.match(/backend http_web\n[\s\S]*?(?=\n\n|$)/)![0].match(/    server s\d+ /g), "grown to 32 slots").to.have.length(32);
        // Runtime changes, then a reload for another reason (a new service): the new worker serves the same hosts.
        await setWebHosts([22, 30]);
        await waitFor("web on 22, 30", async () => webServes([22, 30]), 5000, 5);
        const served = (await servedHosts(h)).get("http_web");
        await etcd.put("/services/api/scheme").value("http");
        await etcd.put("/services/api/hosts/0").value(hostOf(31));
        await waitFor("api routed (a reload)", async () => (await httpGet(`${URL80}/api/`)).body === "b31 /\n");
        await waitFor("the reloaded worker serves the same web hosts", async () => (await servedHosts(h)).get("http_web")?.join() === served!.join());
        await etcd.delete().prefix("/services/api/");
    });

    it("a hostile host value never becomes a runtime command: the service is skipped, HAProxy only ever holds valid hosts", async () => {
        await setWebHosts([20]);
        await waitFor("web on b20", async () => webServes([20]));
        const batches = (await health()).haproxy.runtimeBatches;
        const hostile = [
            `${hostOf(21)}; set server http_web/s1 addr ${NET}.29 port 8080`,
            `${hostOf(21)}\nset server http_web/s1 state maint`,
            `${NET}.21 port 9:8080`,
            `${hostOf(21)} junk`,
        ];
        for (const value of hostile) {
            await etcd.put("/services/web/hosts/9").value(value);
            await waitFor("web skipped", async () => (await health()).config.skipped?.some((s: { service: string }) => s.service === "web"));
            const everything = await servedHosts(h);
            for (const [backend, hosts] of everything) for (const hp of hosts) expect(hp, `${backend} holds only a valid host`).to.match(/^\d+\.\d+\.\d+\.\d+:\d+$/);
            expect([...everything.values()].flat()).to.not.include(`${NET}.29:8080`);
            await etcd.delete().key("/services/web/hosts/9");
            await waitFor("web back", async () => (await httpGet(`${URL80}/`, "web.x")).body.startsWith("b20 "));
        }
        expect((await health()).haproxy.runtimeBatches, "no runtime batch came from the hostile values").to.equal(batches);
        expect(h.log()).to.not.match(/runtime commands failed|refused to send/);
        expect(fs.readFileSync(path.join(h.env.ROUTER_CONFIG_DIR, "haproxy.cfg"), "utf8")).to.not.match(/junk|port 9|set server/);
    });
});
