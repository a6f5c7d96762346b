// The worker's health check (healthCheckPort, healthCheckPath), served by the watcher: 200 only with
// a loaded config and HAProxy accepting connections on the first HTTP port. etcd's state is
// reported, never judged (docs/router.md, "Static stability").
import * as http from "http";
import * as net from "net";
import { EtcdAccess, proxyAnswers } from "./etcd-gateway";

export interface HealthSettings {
    bindAddress: string;
    httpPorts: number[];
    healthBind: string;
    healthPort: number;
    healthPath: string;
    etcdProxy: string;
}

interface StatusShape {
    config: { loaded: boolean };
    haproxy: { running: boolean };
}

/** True when HAProxy accepts connections on the first HTTP port (a live master alone may still be starting). */
function serving(s: HealthSettings): Promise<boolean> {
    const host = s.bindAddress === "0.0.0.0" ? "127.0.0.1" : s.bindAddress;
    return new Promise((resolve) => {
        const socket = net.connect({ host, port: s.httpPorts[0] });
        const done = (ok: boolean) => {
            socket.destroy();
            resolve(ok);
        };
        socket.setTimeout(1000, () => done(false));
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
    });
}

/** 200 only with a loaded config and HAProxy serving it; the body says why, and how etcd answers through the worker's proxy. */
export function serveHealth<S extends StatusShape>(s: HealthSettings, status: () => S, access: () => EtcdAccess | undefined, log: (line: string) => void): http.Server {
    const server = http.createServer(async (req, res) => {
        const url = (req.url ?? "/").split("?")[0];
        if (url !== s.healthPath) {
            res.writeHead(404, { "content-type": "text/plain" }).end(`not found; the health check is ${s.healthPath}\n`);
            return;
        }
        let credentials: EtcdAccess | undefined;
        try {
            credentials = access();
        } catch {
            credentials = undefined; // unreadable credentials: the read below fails and says unhealthy
        }
        const [etcd, up] = await Promise.all([proxyAnswers(s.etcdProxy, 1000, credentials), serving(s)]);
        const now = status();
        // Static stability: the worker is healthy while HAProxy serves its last good config. etcd's
        // state is reported, never judged: an etcd outage must not take every worker out of the
        // balancer at once, nor make autohealing recreate workers that cannot boot until etcd is back.
        const healthy = now.config.loaded && now.haproxy.running && up;
        res.writeHead(healthy ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ healthy, etcdProxy: { url: s.etcdProxy, answers: etcd }, ...now, haproxy: { ...now.haproxy, serving: up } }) + "\n");
    });
    server.on("error", (err) => log(`health on ${s.healthBind}:${s.healthPort}: ${err.message}`));
    server.listen(s.healthPort, s.healthBind);
    return server;
}
