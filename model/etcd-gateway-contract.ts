// The worker's local etcd endpoint (issue 21): `etcd gateway start`, a TCP proxy on the worker's
// loopback that carries each client's own TLS session, client certificate included, to a member's
// client port. It holds no certificate and never dials the peer port, so the members enforce the
// client-certificate demand (and, with auth on, each client's own user) for whatever fleet,
// locksmith or the router send through it. The unit's name and variables in one place:
// cloud-config/etcd-tls.ts renders the unit, components/local/boot.ts runs the same unit text.
// No imports: the local providers' bundles carry it.

/** The systemd unit every worker's user-data starts (in place of the v2 proxy). */
export const ETCD_GATEWAY_UNIT = "etcd-gateway.service";

export const ETCD_GATEWAY_ENV = {
    /** The members' client endpoints, `host:port` comma separated (the gateway dials these only). */
    endpoints: "ETCD_GATEWAY_ENDPOINTS",
    /** Where it listens: the worker's loopback. */
    listenAddr: "ETCD_GATEWAY_LISTEN_ADDR",
    /** How long a member that refused a connection is skipped. */
    retryDelay: "ETCD_GATEWAY_RETRY_DELAY",
} as const;

/** On the worker's own loopback only: nothing outside the machine reaches it. */
export const ETCD_GATEWAY_LISTEN_ADDR = "127.0.0.1:2379";
/** etcd's default is 1 minute: a restarted member would be skipped that long. */
export const ETCD_GATEWAY_RETRY_DELAY = "5s";
