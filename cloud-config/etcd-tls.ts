// What mutual TLS adds to a machine's model (issue 21): the member's etcd TLS settings (client and
// peer port, client-certificate auth on both), the files each client identity uses (fleet,
// locksmith, the router), and the workers' `etcd gateway` unit. File paths are model/pki-delivery.ts's,
// filled by coreos-tls-fetch.service (cloud-config/tls-fetch.ts) before any of them starts.
// Pure: no Pulumi.
import { certFile, keyFile, TRUST_BUNDLE_FILE } from "../model/pki-delivery";
import { ETCD_GATEWAY_ENV, ETCD_GATEWAY_LISTEN_ADDR, ETCD_GATEWAY_RETRY_DELAY, ETCD_GATEWAY_UNIT } from "../model/etcd-gateway-contract";
import { environmentDropIn } from "./environment";
import { serviceRestartLines, unitStartLimitLines } from "./restart-policy";
import { EtcdSettings, UnitSpec } from "./model";

export { ETCD_GATEWAY_UNIT };

/** The image the gateway runs from: the members' pinned etcd release (Flatcar's etcd-member pulls the same). */
export const ETCD_IMAGE = "quay.io/coreos/etcd";

/** A client identity's files on the machine. */
export interface ClientTlsFiles {
    ca: string;
    cert: string;
    key: string;
}

export function clientTlsFiles(id: string): ClientTlsFiles {
    return { ca: TRUST_BUNDLE_FILE, cert: certFile(id), key: keyFile(id) };
}

/** A member's etcd TLS: its own server and peer certificates, the cluster's CA, client certificates demanded on both ports. */
export function memberTlsSettings(memberName: string): Partial<EtcdSettings> {
    return {
        cert_file: certFile(`${memberName}-server`),
        key_file: keyFile(`${memberName}-server`),
        trusted_ca_file: TRUST_BUNDLE_FILE,
        client_cert_auth: true,
        peer_cert_file: certFile(`${memberName}-peer`),
        peer_key_file: keyFile(`${memberName}-peer`),
        peer_trusted_ca_file: TRUST_BUNDLE_FILE,
        peer_client_cert_auth: true,
    };
}

/** `https://10.0.0.2:2379` -> `10.0.0.2:2379` (the gateway takes host:port). */
export function hostPort(url: string): string {
    const u = new URL(url);
    return u.host;
}

/**
 * The worker's gateway: the pinned etcd image, host network, listening on the worker's loopback
 * and dialing only the members' client URLs. The values reach ExecStart only as the unit's
 * Environment= (quoted by environmentDropIn), never pasted into the command line.
 */
export function etcdGatewayUnit(memberClientUrls: readonly string[], imageTag: string): UnitSpec {
    const E = ETCD_GATEWAY_ENV;
    const content = [
        "[Unit]",
        "Description=etcd gateway: this worker's loopback 2379 to the members' client ports, each client's TLS end to end (docs/security.md)",
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        ...unitStartLimitLines(),
        "",
        environmentDropIn([
            [E.endpoints, memberClientUrls.map(hostPort).join(",")],
            [E.listenAddr, ETCD_GATEWAY_LISTEN_ADDR],
            [E.retryDelay, ETCD_GATEWAY_RETRY_DELAY],
        ]).trimEnd(),
        "ExecStartPre=-/usr/bin/docker rm -f etcd-gateway",
        `ExecStart=/usr/bin/docker run --rm --name etcd-gateway --net=host --cap-drop ALL --security-opt no-new-privileges --entrypoint /usr/local/bin/etcd ${ETCD_IMAGE}:${imageTag} gateway start --endpoints=\${${E.endpoints}} --listen-addr=\${${E.listenAddr}} --retry-delay=\${${E.retryDelay}}`,
        "ExecStop=/usr/bin/docker stop -t 10 etcd-gateway",
        // A failing pull of the etcd image backs off and never ends the unit failed (restart-policy.ts).
        ...serviceRestartLines(),
        "",
    ].join("\n");
    return { name: ETCD_GATEWAY_UNIT, command: "start", content };
}
