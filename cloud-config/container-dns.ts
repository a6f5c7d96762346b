// Containers resolve `<service>.local` (issue 23, item 8). The router answers `<service>.local`
// with the worker's own address on <worker address>:53 (router/dns.ts), but a container on Docker's
// bridge reads the resolv.conf Docker gives it, not the host's: the seed system pointed each
// container at the host with `docker run --dns`. Here the Docker daemon does it for every container
// (its `dns` setting is the daemon-wide --dns), so fleet units and anything else run with
// `docker run` need no flag. Other names: the router answers REFUSED for anything outside `.local`,
// and the resolver moves to the next server, GCE's metadata resolver. Pure: text only.
import { WriteFileSpec } from "./model";

export const DOCKER_DAEMON_CONFIG = "/etc/docker/daemon.json";
/** GCE's resolver for a VM (the metadata server), what the VM's own resolv.conf names. */
export const GCE_RESOLVER = "169.254.169.254";

/** The daemon config of a worker whose router answers DNS on `ownAddress` (`$private_ipv4` on GCE). */
export function containerDnsFile(ownAddress: string, fallback: string): WriteFileSpec {
    const content = `${JSON.stringify({ dns: [ownAddress, fallback] }, null, 2)}\n`;
    return { path: DOCKER_DAEMON_CONFIG, permissions: "0644", owner: "root:root", content };
}
