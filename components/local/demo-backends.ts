// Small real backends for the configured services whose hosts are on a local worker's address.
// On GCE fleet runs the services' units (nginx, redis...); the local platform has no fleetd, so
// each such host gets a tiny stand-in: HTTP answers "<service> on <host:port> <path>", TCP answers
// a redis-style PING with +PONG. Run with spawnMachineProcess like the router.

export interface DemoBackend {
    service: string;
    scheme: "http" | "tcp";
    /** ip:port on the worker's own address. */
    host: string;
}

/** The backends a worker at `address` stands in for (pure). */
export function demoBackendsFor(services: Array<{ name: string; scheme: "http" | "tcp"; hosts: string[] }>, address: string): DemoBackend[] {
    const out: DemoBackend[] = [];
    for (const s of services) {
        for (const host of s.hosts) if (host.startsWith(`${address}:`)) out.push({ service: s.name, scheme: s.scheme, host });
    }
    return out;
}

/** The program (plain JavaScript, node built-ins only); DEMO_BACKENDS holds the JSON list. */
export const DEMO_BACKENDS_SCRIPT = `"use strict";
// coreos-cluster local platform: stand-in backends (components/local/demo-backends.ts)
const http = require("http"), net = require("net");
for (const b of JSON.parse(process.env.DEMO_BACKENDS || "[]")) {
  const i = b.host.lastIndexOf(":"), host = b.host.slice(0, i), port = Number(b.host.slice(i + 1));
  const server = b.scheme === "http"
    ? http.createServer((req, res) => res.end(b.service + " on " + b.host + " " + req.url + "\\n"))
    : net.createServer((socket) => socket.on("data", (d) =>
        socket.write(/ping/i.test(d.toString()) ? "+PONG\\r\\n" : "-ERR " + b.service + " demo backend on " + b.host + " answers PING only\\r\\n")).on("error", () => {}));
  server.on("error", (e) => { console.error(b.service + " " + b.host + ": " + e.message); process.exit(1); });
  server.listen(port, host, () => console.log(b.scheme + " backend of " + b.service + " on " + b.host));
}
process.on("SIGTERM", () => process.exit(0));
`;
