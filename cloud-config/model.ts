// The typed, flavor-neutral model of one machine's cloud-config. build.ts fills it
// from the config and the plan; render-container-linux.ts and render-flatcar.ts turn
// the very same model into two different #cloud-config documents.

import { FleetRelease, MachineRole, RebootStrategy } from "../model/types";

/**
 * etcd settings, named exactly like the `coreos.etcd2` keys so that each one maps
 * mechanically to the `ETCD_<KEY>` variable etcd reads (see etcdEnvironment).
 * Insertion order is the emission order, so keep it stable.
 */
export interface EtcdSettings {
    name?: string;
    discovery?: string;
    proxy?: "on" | "off" | "readonly";
    initial_advertise_peer_urls?: string;
    listen_peer_urls?: string;
    listen_client_urls: string;
    /** etcd >= 3.3 (Flatcar's etcd-member only): plain HTTP /metrics and /health, no keys (model/monitoring.ts). */
    listen_metrics_urls?: string;
    advertise_client_urls?: string;
    initial_cluster?: string;
    initial_cluster_state?: "new" | "existing";
    initial_cluster_token?: string;
    // Mutual TLS (cloud-config/etcd-tls.ts memberTlsSettings): files under model/pki-delivery.ts's TLS_DIR.
    cert_file?: string;
    key_file?: string;
    trusted_ca_file?: string;
    client_cert_auth?: boolean;
    peer_cert_file?: string;
    peer_key_file?: string;
    peer_trusted_ca_file?: string;
    peer_client_cert_auth?: boolean;
}

/** fleet settings, named like the `coreos.fleet` keys (each becomes `FLEET_<KEY>`). */
export interface FleetSettings {
    /** `k=v,k=v`; on a GCE worker template without the zone (see zone-lookup.ts). */
    metadata: string;
    public_ip: string;
    etcd_servers: string;
    /** fleet's client identity (coreos.fleet etcd_cafile, etcd_certfile, etcd_keyfile). */
    etcd_cafile: string;
    etcd_certfile: string;
    etcd_keyfile: string;
}

/** locksmith settings, named like the `coreos.locksmith` keys. */
export interface LocksmithSettings {
    endpoint: string;
    /** All three: locksmithctl with a CA file but no client certificate fails misleadingly (Flatcar issue 948). */
    etcd_cafile: string;
    etcd_certfile: string;
    etcd_keyfile: string;
    group: string;
    window_start?: string;
    window_length?: string;
}

export interface UpdateSettings {
    reboot_strategy: RebootStrategy;
}

export interface UnitDropIn {
    name: string;
    content: string;
}

export type UnitCommand =
    | "start"
    | "stop"
    | "restart"
    | "reload"
    | "try-restart"
    | "reload-or-restart"
    | "reload-or-try-restart";

export interface UnitSpec {
    name: string;
    command?: UnitCommand;
    enable?: boolean;
    content?: string;
    drop_ins?: UnitDropIn[];
}

export interface WriteFileSpec {
    path: string;
    permissions: string;
    owner: string;
    content: string;
    /** How `content` is encoded (coreos-cloudinit decodes it); absent: plain text. */
    encoding?: "gzip+base64";
}

export interface MachineModel {
    /** Machine (and etcd member) name: `<cluster>-etcd-0`, `<cluster>-worker`, `<cluster>-worker-1`. */
    name: string;
    role: MachineRole;
    /** `etcd-0.yaml`, `worker.yaml` (GCE template) or `worker-0.yaml` (local). */
    fileName: string;
    /** Absent for the GCE worker template: every VM of the group gets its own name. */
    hostname?: string;
    /** Known for members and local workers; absent for the GCE worker template. */
    zone?: string;
    sshAuthorizedKeys: string[];
    /** The member's etcd; absent on workers, whose local endpoint is the etcd gateway unit (in `units`). */
    etcd?: EtcdSettings;
    /** Pinned etcd image for Flatcar's etcd-member.service, e.g. `v3.5.17`. */
    etcdImageTag: string;
    fleet: FleetSettings;
    /** Flatcar only: the pinned fleet release its machines install; without one they run no fleet. */
    fleetRelease?: FleetRelease;
    locksmith: LocksmithSettings;
    update: UpdateSettings;
    /** Role units both flavors carry (e.g. the GCE worker zone lookup), listed before etcd and fleet. */
    units: UnitSpec[];
    /** Extra drop-ins for the fleet unit (both flavors name it fleet.service). */
    fleetDropIns: UnitDropIn[];
    /** Files the role needs; never under /usr (read-only on both flavors). */
    writeFiles: WriteFileSpec[];
}
