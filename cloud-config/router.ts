// The router a worker's user-data carries (docs/router.md): the bundled watcher as one gzip+base64
// file and one unit. On GCE the unit runs the watcher with a pinned node runtime inside the pinned
// HAProxy image, and the watcher runs HAProxy as its child; the local platform's boot reads the
// same unit's ROUTER_* environment and runs the same file with this machine's node and Debian's
// HAProxy. The unit's name and variables are the contract of model/router-contract.ts.
// Pure apart from bundling the watcher once per process (router/bundle.ts).
import { ROUTER_CAPABILITIES, ROUTER_ENV, ROUTER_PATHS, ROUTER_STOP_SIGNAL, ROUTER_UNIT } from "../model/router-contract";
import { gzipBase64, routerScript } from "../router/bundle";
import { HAPROXY_IMAGE, NODE_IMAGE } from "../model/images";
import { environmentDropIn, EnvironmentEntries } from "./environment";
import { imageEnvironment, imagePullCommand, imagePullScript } from "./image-pull";
import { serviceRestartLines, unitStartLimitLines } from "./restart-policy";
import { UnitSpec, WriteFileSpec } from "./model";
import { TLS_CONSUMER_DROP_IN } from "./tls-fetch";

export { ROUTER_UNIT };
export const ROUTER_SCRIPT = ROUTER_PATHS.script;
export const ROUTER_CONFIG_DIR = ROUTER_PATHS.configDir;
export const ROUTER_RUN_DIR = ROUTER_PATHS.runDir;
/**
 * The images, pinned by digest (model/images.ts): HAProxy's current LTS runs the watcher's HAProxy,
 * node's current LTS only lends its /usr/local. The local platform runs Debian's HAProxy and this
 * machine's node instead; the config the watcher writes is valid on both.
 */
export const ROUTER_HAPROXY_IMAGE = HAPROXY_IMAGE;
export const ROUTER_NODE_IMAGE = NODE_IMAGE;
/** The unit's image variables (never passed into the container). */
export const ROUTER_IMAGE_VARIABLES = { node: "COREOS_IMAGE_NODE", haproxy: "COREOS_IMAGE_HAPROXY" } as const;

/** One volume per node digest: an empty named volume is filled from the image once, a new pin gets a new one. */
const NODE_VOLUME = `coreos-router-node-${NODE_IMAGE.digest.slice("sha256:".length, "sha256:".length + 12)}`;

export interface RouterSettings {
    prefix: string;
    /** Members' client URLs: the watcher reads etcd v3 through their JSON gateway. */
    memberClientUrls: string[];
    /** This worker's etcd v2 proxy, which the health check reads through. */
    proxyUrl: string;
    /** Where HTTP, TCP and the health check listen (`0.0.0.0` on GCE: load-balanced traffic is addressed to the forwarding rule's IP). */
    bind: string;
    /** The worker's own address: `<service>.local` answers with it, and DNS listens there. */
    ownAddress: string;
    httpPorts: number[];
    healthPort: number;
    healthPath: string;
    /** HAProxy's Prometheus exporter (model/ports.ts ROUTER_METRICS_PORT), on `bind`. */
    metricsPort?: number;
    /** Where the images are pulled from (model/images.ts registryPrefix): the stack's mirror on GCE. */
    registry: string;
    /** The router's etcd identity: trust bundle, certificate and key files, and its etcd user (docs/security.md). */
    tls?: { ca: string; cert: string; key: string; user?: string };
}

export function routerEnvironment(s: RouterSettings): EnvironmentEntries {
    const E = ROUTER_ENV;
    return [
        [E.script, ROUTER_PATHS.script],
        [E.prefix, s.prefix],
        [E.etcdEndpoints, s.memberClientUrls.join(",")],
        [E.etcdProxy, s.proxyUrl],
        [E.bind, s.bind],
        [E.httpPorts, s.httpPorts.join(",")],
        [E.healthPort, String(s.healthPort)],
        [E.healthPath, s.healthPath],
        ...(s.metricsPort !== undefined ? ([[E.metricsPort, String(s.metricsPort)]] as EnvironmentEntries) : []),
        [E.dnsAddress, s.ownAddress],
        [E.configDir, ROUTER_PATHS.configDir],
        [E.runDir, ROUTER_PATHS.runDir],
        ...(s.tls
            ? ([
                  [E.etcdCa, s.tls.ca],
                  [E.etcdCert, s.tls.cert],
                  [E.etcdKey, s.tls.key],
                  ...(s.tls.user ? [[E.etcdUser, s.tls.user]] : []),
              ] as EnvironmentEntries)
            : []),
    ];
}

/**
 * The container's privileges: no capability of root but the few the router needs (model/router-contract.ts
 * says why each), no gaining any back through a setuid binary, and an init as PID 1 that passes the stop
 * signal on to the watcher and reaps what HAProxy leaves (a killed master's workers).
 */
export function routerContainerFlags(): string[] {
    return ["--init", "--cap-drop ALL", ...ROUTER_CAPABILITIES.map((c) => `--cap-add ${c.name}`), "--security-opt no-new-privileges", `--stop-signal ${ROUTER_STOP_SIGNAL}`];
}

export function routerParts(s: RouterSettings): { unit: UnitSpec; script: WriteFileSpec; pullScript: WriteFileSpec } {
    const env = routerEnvironment(s);
    const passEnv = env.map(([name]) => `-e ${name}`).join(" ");
    const tlsDirs = s.tls ? [...new Set([s.tls.ca, s.tls.cert, s.tls.key].map((f) => f.slice(0, f.lastIndexOf("/"))))].map((d) => `${d}:${d}:ro`) : [];
    const mounts = [`${ROUTER_CONFIG_DIR}:${ROUTER_CONFIG_DIR}`, `${ROUTER_RUN_DIR}:${ROUTER_RUN_DIR}`, `/opt/coreos-router:/opt/coreos-router:ro`, ...tlsDirs, `${NODE_VOLUME}:/opt/node:ro`]
        .map((m) => `-v ${m}`)
        .join(" ");
    const images = imageEnvironment(
        [
            { variable: ROUTER_IMAGE_VARIABLES.node, image: NODE_IMAGE },
            { variable: ROUTER_IMAGE_VARIABLES.haproxy, image: HAPROXY_IMAGE },
        ],
        s.registry,
    );
    const content = [
        "[Unit]",
        "Description=coreos-cluster router: HAProxy fed by the etcd service keys (docs/router.md)",
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        ...unitStartLimitLines(),
        "",
        // environmentDropIn gives "[Service]" plus the quoted Environment= lines.
        environmentDropIn([...env, ...images]).trimEnd(),
        `ExecStartPre=/usr/bin/mkdir -p ${ROUTER_CONFIG_DIR} ${ROUTER_RUN_DIR}`,
        "ExecStartPre=-/usr/bin/docker rm -f coreos-router",
        // The images by digest, once: present ones are never pulled again (cloud-config/image-pull.ts).
        imagePullCommand([ROUTER_IMAGE_VARIABLES.node, ROUTER_IMAGE_VARIABLES.haproxy]),
        // An empty named volume mounted over an image path is filled from it: node's /usr/local, once per version.
        `ExecStartPre=/usr/bin/docker run --rm -v ${NODE_VOLUME}:/usr/local \${${ROUTER_IMAGE_VARIABLES.node}} true`,
        // Root inside (the image's USER is haproxy), with only the capabilities it needs; HAProxy's workers drop to haproxy.
        // The image's STOPSIGNAL is SIGUSR1, which node (PID 1's child here) would take as "open the inspector": SIGTERM instead.
        `ExecStart=/usr/bin/docker run --rm --name coreos-router --net=host --user root ${routerContainerFlags().join(" ")} ${mounts} ${passEnv} --entrypoint /opt/node/bin/node \${${ROUTER_IMAGE_VARIABLES.haproxy}} \${${ROUTER_ENV.script}}`,
        // docker stop sends the container's stop signal (--stop-signal above), then SIGKILL after 10 s.
        "ExecStop=/usr/bin/docker stop -t 10 coreos-router",
        // The watcher supervises HAProxy; systemd supervises the watcher, backing off and never giving up (restart-policy.ts).
        ...serviceRestartLines(),
        "",
    ].join("\n");
    return {
        // The router reads its certificate: it starts after the fetch (cloud-config/tls-fetch.ts).
        unit: { name: ROUTER_UNIT, command: "start", content, ...(s.tls ? { drop_ins: [TLS_CONSUMER_DROP_IN] } : {}) },
        script: { path: ROUTER_SCRIPT, permissions: "0644", owner: "root:root", content: gzipBase64(routerScript()), encoding: "gzip+base64" },
        pullScript: imagePullScript(),
    };
}
