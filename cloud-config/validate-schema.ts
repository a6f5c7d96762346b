// The keys coreos-cloudinit understands, with their types and allowed values
// (shared/reference/cloud-config.md). validate.ts walks a parsed document against it.

export type FieldSpec =
    | { type: "string"; enum?: readonly string[]; pattern?: RegExp; hint?: string }
    | { type: "bool" }
    | { type: "int" }
    | { type: "float" }
    | { type: "map"; fields: Record<string, FieldSpec>; deprecated?: string; anyKeys?: boolean; writeFile?: boolean }
    | { type: "list"; of: FieldSpec };

const str: FieldSpec = { type: "string" };
const bool: FieldSpec = { type: "bool" };
const int: FieldSpec = { type: "int" };
const float: FieldSpec = { type: "float" };
const strings: FieldSpec = { type: "list", of: str };

function fieldsOf(spec: FieldSpec, names: string[]): Record<string, FieldSpec> {
    return Object.fromEntries(names.map((n) => [n, spec]));
}

export const WRITE_FILE_ENCODINGS = ["base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] as const;

const etcd2: FieldSpec = {
    type: "map",
    deprecated: "coreos.etcd2 is deprecated in the last coreos-cloudinit releases (Flatcar has no etcd2.service)",
    fields: {
        ...fieldsOf(str, [
            "advertise_client_urls", "cert_file", "cors", "data_dir", "discovery", "discovery_fallback", "discovery_srv",
            "discovery_proxy", "initial_advertise_peer_urls", "initial_cluster", "initial_cluster_state",
            "initial_cluster_token", "key_file", "listen_client_urls", "listen_peer_urls", "log_package_levels", "name",
            "peer_cert_file", "peer_key_file", "peer_trusted_ca_file", "trusted_ca_file", "wal_dir",
        ]),
        proxy: { type: "string", enum: ["on", "off", "readonly"] },
        ...fieldsOf(bool, ["client_cert_auth", "debug", "enable_pprof", "force_new_cluster", "peer_client_cert_auth", "strict_reconfig_check"]),
        ...fieldsOf(int, [
            "election_timeout", "heartbeat_interval", "max_snapshots", "max_wals", "proxy_dial_timeout", "proxy_failure_wait",
            "proxy_read_timeout", "proxy_refresh_interval", "proxy_write_timeout", "snapshot_count",
        ]),
    },
};

const fleet: FieldSpec = {
    type: "map",
    deprecated: "coreos.fleet is deprecated in the last coreos-cloudinit releases (Flatcar ships no fleet)",
    fields: {
        ...fieldsOf(str, [
            "agent_ttl", "authorized_keys_file", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_key_prefix",
            "etcd_servers", "etcd_username", "etcd_password", "metadata", "public_ip",
        ]),
        ...fieldsOf(bool, ["disable_engine", "verify_units"]),
        ...fieldsOf(float, ["engine_reconcile_interval", "etcd_request_timeout"]),
        ...fieldsOf(int, ["token_limit", "verbosity"]),
    },
};

const locksmith: FieldSpec = {
    type: "map",
    fields: fieldsOf(str, [
        "endpoint", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_username", "etcd_password", "group",
        "window_start", "window_length",
    ]),
};

const update: FieldSpec = {
    type: "map",
    fields: {
        reboot_strategy: { type: "string", enum: ["etcd-lock", "reboot", "off"], hint: "best-effort was removed" },
        group: str,
        server: str,
    },
};

const unit: FieldSpec = {
    type: "map",
    fields: {
        name: str,
        runtime: bool,
        enable: bool,
        content: str,
        mask: bool,
        command: {
            type: "string",
            enum: ["start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart"],
        },
        drop_ins: { type: "list", of: { type: "map", fields: { name: str, content: str } } },
    },
};

export const writeFile: FieldSpec = {
    type: "map",
    writeFile: true,
    fields: {
        path: str,
        content: str,
        owner: str,
        permissions: { type: "string", pattern: /^0?[0-7]{3,4}$/, hint: "an octal mode as a quoted string, e.g. '0644'" },
        encoding: { type: "string", enum: WRITE_FILE_ENCODINGS },
    },
};

const user: FieldSpec = {
    type: "map",
    fields: {
        ...fieldsOf(str, ["name", "passwd", "gecos", "homedir", "primary_group", "shell"]),
        ssh_authorized_keys: strings,
        groups: strings,
        ...fieldsOf(bool, ["no_create_home", "no_user_group", "system", "no_log_init"]),
    },
};

export const coreosSpec: FieldSpec = {
    type: "map",
    fields: {
        etcd2,
        fleet,
        locksmith,
        update,
        units: { type: "list", of: unit },
        flannel: {
            type: "map",
            fields: fieldsOf(str, [
                "etcd_endpoints", "etcd_cafile", "etcd_certfile", "etcd_keyfile", "etcd_prefix", "etcd_username",
                "etcd_password", "ip_masq", "subnet_file", "interface", "public_ip",
            ]),
        },
        oem: { type: "map", fields: fieldsOf(str, ["id", "name", "version_id", "home_url", "bug_report_url"]) },
        etcd: { type: "map", anyKeys: true, fields: {}, deprecated: "coreos.etcd is obsolete (etcd 0.4); use etcd2" },
    },
};

export const cloudConfigSpec: FieldSpec = {
    type: "map",
    fields: {
        coreos: coreosSpec,
        ssh_authorized_keys: strings,
        hostname: str,
        users: { type: "list", of: user },
        write_files: { type: "list", of: writeFile },
        manage_etc_hosts: { type: "string", enum: ["localhost"] },
    },
};
