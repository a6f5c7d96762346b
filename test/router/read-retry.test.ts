// A watch event whose read fails is read again (real etcd, the bundled watcher, real HAProxy).
// The router reads and watches etcd through a TCP proxy of this suite, which passes the watch
// stream through untouched but, while told to, resets every connection that asks for a range
// read: the watch still delivers the change, and the read it triggers fails. Once reads are
// answered again, the change must be served without any further write to etcd (before, the
// event was consumed and the change waited for the next one, which might never come).
// Addresses: 10.213.18.0/24 (this suite's own, on a bridge of the harness).
import { expect } from "chai";
import { Etcd3 } from "etcd3";
import * as net from "net";
import { httpGet, RouterHarness, routerHealth, startBackends, startRouterHarness, waitFor } from "../support/router-harness";

const ADDRESS = "10.213.18.10";
const MEMBER = "10.213.18.2";
/** The proxy listens on one of the harness's backend addresses (all on its bridge). */
const FAULT_PROXY = "10.213.18.39";

/** A TCP proxy to the member that, while `failReads` is set, resets connections sending a range read. */
async function startFaultProxy(listen: string, target: { host: string; port: number }) {
    const state = { failReads: false, resetReads: 0 };
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        sockets.add(client).add(upstream);
        client.on("data", (chunk) => {
            // One HTTP request per chunk at the start of each request: the request line names the call.
            if (state.failReads && chunk.toString("latin1").startsWith("POST /v3/kv/range")) {
                state.resetReads++;
                client.resetAndDestroy();
                upstream.destroy();
                return;
            }
            upstream.write(chunk);
        });
        upstream.on("data", (chunk) => client.write(chunk));
        const close = () => {
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
        };
        client.on("close", close).on("error", close);
        upstream.on("close", close).on("error", close);
    });
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(2379, listen, () => resolve()));
    return {
        state,
        url: `http://${listen}:2379`,
        async close() {
            for (const s of sockets) s.destroy();
            await new Promise((r) => server.close(r));
        },
    };
}

interface Health {
    status: number;
    body: { problem?: { message: string } };
}

const health = () => routerHealth<Health["body"]>(ADDRESS);

describe("router: a read that fails after a watch event is tried again (real etcd, real HAProxy)", function () {
    this.timeout(120000);
    let h: RouterHarness;
    let etcd: Etcd3;
    let backends: { close(): Promise<void> };
    let proxy: Awaited<ReturnType<typeof startFaultProxy>>;

    before(async () => {
        // The harness binds the proxy's address on its bridge; the proxy starts before the router does.
        h = await startRouterHarness({ memberAddress: MEMBER, proxyAddress: "10.213.18.5", address: ADDRESS, etcdEndpoints: [`http://${FAULT_PROXY}:2379`] });
        proxy = await startFaultProxy(FAULT_PROXY, { host: MEMBER, port: 2379 });
        etcd = new Etcd3({ hosts: h.etcd.endpoints });
        backends = await startBackends([
            { kind: "http", host: "10.213.18.20", port: 8080, label: "web-a" },
            { kind: "http", host: "10.213.18.21", port: 8080, label: "web-b" },
        ]);
        await etcd.put("/services/web/scheme").value("http");
        await etcd.put("/services/web/hosts/0").value("10.213.18.20:8080");
        h.start();
        await waitFor("web routed to web-a", async () => (await httpGet(`http://${ADDRESS}/x`, "web.example.com")).body === "web-a /x\n", 30000);
    });

    afterEach(function () {
        if (this.currentTest?.state === "failed" && h) console.error(`router log (last 40 lines):\n${h.log().split("\n").slice(-40).join("\n")}`);
    });

    after(async () => {
        etcd?.close();
        await h?.close();
        await proxy?.close();
        await backends?.close();
    });

    it("serves the change once reads are answered again, with no further write", async () => {
        proxy.state.failReads = true;
        await etcd.put("/services/web/hosts/0").value("10.213.18.21:8080");
        // The watch delivered the change, the read it triggered was reset, and the router says so.
        const failing = await waitFor("the failed read reported", async () => {
            const now = await health();
            return now.body.problem && /etcd/.test(now.body.problem.message) ? now : undefined;
        });
        expect(proxy.state.resetReads, "reads were refused").to.be.greaterThan(0);
        expect(failing.status, "the last good config is still served").to.equal(200);
        expect((await httpGet(`http://${ADDRESS}/x`, "web.example.com")).body, "still the old host meanwhile").to.equal("web-a /x\n");

        proxy.state.failReads = false;
        await waitFor("web routed to web-b without another write", async () => (await httpGet(`http://${ADDRESS}/x`, "web.example.com")).body === "web-b /x\n", 15000);
        await waitFor("the problem cleared", async () => (await health()).body.problem === undefined);
    });
});
