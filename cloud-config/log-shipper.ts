// Unified logs on GCE (issue 24, item 3): every machine ships its journal (etcd, the gateway, the
// router, fleet, locksmith, the TLS units, every fleet unit) to Cloud Logging with Fluent Bit, each
// entry labelled with the cluster, the machine's role, the machine and the systemd unit it came from.
// The image is pinned by digest and pulled once through the stack's registry mirror with the same
// script as the router's (image-pull.ts). It writes with the VM's own service account, whose only
// project roles are logging.logWriter and monitoring.metricWriter (components/gcp/labels.ts).
// Values reach the unit only as quoted Environment= lines and the container only as its
// environment: the Fluent Bit config is one constant text that names variables. Pure.
import { FLUENT_BIT_IMAGE } from "../model/images";
import { environmentDropIn } from "./environment";
import { imageEnvironment, imagePullCommand, imagePullScript } from "./image-pull";
import { UnitSpec, WriteFileSpec } from "./model";
import { serviceRestartLines, unitStartLimitLines } from "./restart-policy";

export const LOG_SHIPPER_UNIT = "coreos-log-shipper.service";
export const LOG_SHIPPER_CONFIG = "/etc/coreos-cluster/fluent-bit.conf";
/** Fluent Bit's journal cursor and its on-disk buffer (a Cloud Logging outage loses nothing it can hold). */
export const LOG_SHIPPER_STATE_DIR = "/var/lib/coreos-log-shipper";
const IMAGE_VARIABLE = "LOG_SHIPPER_IMAGE";

/** The labels every entry carries, besides `unit` (from the journal's _SYSTEMD_UNIT). */
export const LOG_LABELS = ["cluster", "role", "machine", "unit"] as const;

export interface LogShipperSettings {
    cluster: string;
    role: "etcd" | "worker";
    /** The registry prefix images come from (model/images.ts registryPrefix). */
    registry: string;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

// Fluent Bit's classic config: ${VAR} is read from the container's environment when the config loads.
const CONFIG = `# coreos-log-shipper: this machine's journal to Cloud Logging (cloud-config/log-shipper.ts)
[SERVICE]
    Flush           5
    Log_Level       warn
    storage.path    ${LOG_SHIPPER_STATE_DIR}/buffer

# No Path: the journal's default locations, persistent (/var/log/journal) and volatile (/run/log/journal).
[INPUT]
    Name              systemd
    DB                ${LOG_SHIPPER_STATE_DIR}/journal.db
    Read_From_Tail    On
    Strip_Underscores On
    storage.type      filesystem

# The unit an entry came from becomes its "unit" label (the output's labels_key map).
[FILTER]
    Name    modify
    Match   *
    Rename  SYSTEMD_UNIT unit

[FILTER]
    Name        nest
    Match       *
    Operation   nest
    Wildcard    unit
    Nest_under  logging.googleapis.com/labels

[OUTPUT]
    Name        stackdriver
    Match       *
    resource    gce_instance
    labels_key  logging.googleapis.com/labels
    labels      cluster=\${LOG_CLUSTER},role=\${LOG_ROLE},machine=\${LOG_MACHINE}
`;

export interface LogShipperParts {
    unit: UnitSpec;
    config: WriteFileSpec;
    pullScript: WriteFileSpec;
}

export function logShipperParts(s: LogShipperSettings): LogShipperParts {
    if (!NAME.test(s.cluster)) throw new Error(`${LOG_SHIPPER_UNIT}: cluster ${JSON.stringify(s.cluster)} is not a plain name`);
    const images = imageEnvironment([{ variable: IMAGE_VARIABLE, image: FLUENT_BIT_IMAGE }], s.registry);
    const mounts = ["/var/log/journal:/var/log/journal:ro", "/run/log/journal:/run/log/journal:ro", "/etc/machine-id:/etc/machine-id:ro", `${LOG_SHIPPER_STATE_DIR}:${LOG_SHIPPER_STATE_DIR}`, `${LOG_SHIPPER_CONFIG}:/fluent-bit/etc/fluent-bit.conf:ro`];
    const content = [
        "[Unit]",
        "Description=Ship this machine's journal to Cloud Logging (docs/observability.md)",
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        ...unitStartLimitLines(),
        "",
        environmentDropIn([["LOG_CLUSTER", s.cluster], ["LOG_ROLE", s.role], ...images]).trimEnd(),
        `ExecStartPre=/usr/bin/mkdir -p ${LOG_SHIPPER_STATE_DIR}`,
        "ExecStartPre=-/usr/bin/docker rm -f coreos-log-shipper",
        imagePullCommand([IMAGE_VARIABLE]),
        // %H: systemd's hostname specifier, the machine label. Read-only journal; the cursor and buffer persist.
        `ExecStart=/usr/bin/docker run --rm --name coreos-log-shipper --net=host -e LOG_CLUSTER -e LOG_ROLE -e LOG_MACHINE=%H ${mounts.map((m) => `-v ${m}`).join(" ")} \${${IMAGE_VARIABLE}}`,
        "ExecStop=/usr/bin/docker stop -t 10 coreos-log-shipper",
        ...serviceRestartLines(),
        "",
    ].join("\n");
    return {
        unit: { name: LOG_SHIPPER_UNIT, command: "start", content },
        config: { path: LOG_SHIPPER_CONFIG, permissions: "0644", owner: "root:root", content: CONFIG },
        pullScript: imagePullScript(),
    };
}
