// The stack config against the port table (model/ports.ts): every port a key claims, by role,
// and every pair of claims checked; each collision is reported on the later key and names the
// earlier one. Ports clients reach (load-balanced ports, host_ports) must also be publishable.

import { Problems } from "./config-reader";
import { DOCKER_EPHEMERAL_CLAIM, PortClaim, collisionMessage, fixedPortClaims, portCollisions, publishedPortProblem } from "./ports";

export interface PortInputs {
    lbHttpPorts?: number[];
    lbTcpPorts?: number[];
    healthCheckPort?: number;
    /** Raw items: only integer ports are claimed (wrong types are reported where they are read). */
    services?: Array<Record<string, unknown> | undefined>;
    fleetServices?: Array<Record<string, unknown> | undefined>;
}

const isPort = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;

/** Port 443 carries TLS; the router serves plain HTTP only, so 443 in lbHttpPorts answers TLS clients with plain text. */
export const TLS_PORT = 443;

/** Every claim the config makes, the product's fixed roles first. */
export function portClaims(inputs: PortInputs): { claims: PortClaim[]; published: PortClaim[] } {
    const claims: PortClaim[] = [
        ...fixedPortClaims(isPort(inputs.healthCheckPort) ? inputs.healthCheckPort : undefined),
        DOCKER_EPHEMERAL_CLAIM,
    ];
    const published: PortClaim[] = [];
    const add = (claim: PortClaim, isPublished: boolean) => {
        claims.push(claim);
        if (isPublished) published.push(claim);
    };
    const one = (port: number) => ({ first: port, last: port });
    (inputs.lbHttpPorts ?? []).forEach((p, i) => isPort(p) && add({ key: `lbHttpPorts[${i}]`, role: "a load-balanced HTTP port", ...one(p) }, true));
    // A tcp fleet service's hostPort listed in lbTcpPorts is how it is made public: one port, one role.
    const publicFleetService = (port: number) => (inputs.fleetServices ?? []).findIndex((s) => s !== undefined && s.hostPort === port);
    (inputs.lbTcpPorts ?? []).forEach((p, i) => {
        if (!isPort(p)) return;
        const fleet = publicFleetService(p);
        add({ key: `lbTcpPorts[${i}]`, role: "a load-balanced TCP port", ...one(p), ...(fleet >= 0 ? { shareGroup: `public-fleet-service-${fleet}` } : {}) }, true);
    });
    (inputs.services ?? []).forEach((s, i) => {
        if (s && isPort(s.host_port)) add({ key: `services[${i}].host_port`, role: `the host_port of service ${JSON.stringify(s.name)}`, ...one(s.host_port) }, true);
    });
    (inputs.fleetServices ?? []).forEach((s, i) => {
        if (!s) return;
        if (isPort(s.hostPort)) {
            add({ key: `fleetServices[${i}].hostPort`, role: `the hostPort of fleet service ${JSON.stringify(s.name)}`, ...one(s.hostPort), shareGroup: `public-fleet-service-${i}` }, true);
        }
        // Instances of a content unit listen on the worker itself; an image's containerPort lives in the container.
        if (s.content !== undefined && isPort(s.instancePort)) {
            add({ key: `fleetServices[${i}].instancePort`, role: `the instancePort of fleet service ${JSON.stringify(s.name)}`, ...one(s.instancePort) }, false);
        }
    });
    return { claims, published };
}

/** Records a problem for every collision and every port that may not be published. */
export function checkPortTable(inputs: PortInputs, problems: Problems): void {
    const { claims, published } = portClaims(inputs);
    const collided = new Set<string>();
    for (const [earlier, later] of portCollisions(claims)) {
        if (collided.has(later.key)) continue; // one problem per key: the first collision names the port's owner
        collided.add(later.key);
        problems.add(later.key, collisionMessage(earlier, later));
    }
    for (const claim of published) {
        if (collided.has(claim.key)) continue;
        const problem = publishedPortProblem(claim.first);
        if (problem) problems.add(claim.key, problem);
    }
    (inputs.lbHttpPorts ?? []).forEach((p, i) => {
        if (p === TLS_PORT) {
            problems.add(
                `lbHttpPorts[${i}]`,
                "443 is the HTTPS port, and the router serves plain HTTP only: TLS clients would get plain text. Leave 443 out until the router terminates TLS",
            );
        }
    });
}
