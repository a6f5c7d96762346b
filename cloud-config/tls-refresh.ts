// Rotation in place on a running VM (issue 21, item 5; the phases are model/tls-rollout.ts): a timer
// fetches the machine's bundle again (the same fetch script as at boot), and when it changed:
// - units that read their certificate only at start (fleet, locksmith) are try-restarted;
// - etcd needs nothing for a renewed leaf (it reads its certificate files per connection);
// - a member whose CA file differs from the one its etcd started with restarts etcd, one member of
//   the cluster at a time (etcd's own lock, `etcdctl lock`) and only while every member is healthy,
//   so quorum holds;
// then the machine reports what it holds under /coreos-cluster/tls-status/<name> (a key with a
// lease: a machine gone is a key gone). The deployer's phase wait (components/gcp/tls-phase-wait.ts)
// reads those reports and publishes the next phase only once every machine holds this one.
//
// Like the fetch script: one constant text, every value reaches it through the unit's Environment=.
import { TLS_DIR } from "../model/pki-delivery";
import { TLS_STATUS_PREFIX, TLS_RESTART_LOCK } from "../model/etcd-auth";
import { environmentDropIn } from "./environment";
import { TLS_FETCH_SCRIPT, TlsFetchParts } from "./tls-fetch";
import { UnitDropIn, UnitSpec, WriteFileSpec } from "./model";

export const TLS_REFRESH_UNIT = "coreos-tls-refresh.service";
export const TLS_REFRESH_TIMER = "coreos-tls-refresh.timer";
export const TLS_REFRESH_SCRIPT = "/opt/bin/coreos-tls-refresh";
/** On a member: the sha256 of the CA file its etcd started with (written by the etcd unit's ExecStartPre). */
export const TLS_LOADED_CA_DIGEST = ".etcd-ca-sha256";
/** How often a machine looks for a new bundle; the deployer's phase wait is bounded by a multiple of it. */
export const TLS_REFRESH_PERIOD_S = 60;
/** A report outlives a few missed refreshes, not a machine that is gone. */
export const TLS_STATUS_TTL_S = 5 * TLS_REFRESH_PERIOD_S;

export const TLS_REFRESH_ENV = {
    role: "TLS_ROLE",
    /** The machine's name in its report; empty on a worker: its hostname. */
    self: "TLS_SELF",
    /** The members' client URLs (the report, the lock and the health checks go straight to them). */
    endpoints: "TLS_ETCD_ENDPOINTS",
    /** The certificate id it speaks to etcd as: a member's `<name>-server` (user = its name), a worker's `sidekick`. */
    identity: "TLS_ETCD_IDENTITY",
    /** Units that read their certificate only at start: try-restarted when the bundle changed. */
    restartUnits: "TLS_RESTART_UNITS",
    /** A member's etcd unit (etcd-member.service, etcd2.service). */
    etcdUnit: "TLS_ETCD_UNIT",
} as const;

export interface TlsRefreshSettings {
    role: "member" | "worker";
    self: string;
    memberClientUrls: readonly string[];
    identity: string;
    restartUnits: readonly string[];
    etcdUnit?: string;
}

export interface TlsRefreshParts {
    service: UnitSpec;
    timer: UnitSpec;
    script: WriteFileSpec;
}

const NAME = /^([a-z0-9][a-z0-9.-]{0,62})?$/;
const ENDPOINT = /^https:\/\/[0-9.]+:[0-9]{1,5}$/;
const UNIT = /^[a-z0-9@._-]+\.service$/;

function refuse(what: string, value: string): never {
    throw new Error(`${TLS_REFRESH_UNIT}: ${what} ${JSON.stringify(value)} is outside its grammar`);
}

/** On a member's etcd unit: records which CA file etcd starts with (etcd reads it only at start). */
export const TLS_LOADED_CA_DROP_IN: UnitDropIn = {
    name: "20-tls-loaded-ca.conf",
    content: ["[Service]", `ExecStartPre=${TLS_REFRESH_SCRIPT} record-loaded-ca`, ""].join("\n"),
};

/** The refresh parts of a machine; `fetch` is its fetch unit (the refresh runs the same fetch with the same environment). */
export function tlsRefreshParts(s: TlsRefreshSettings, fetch: TlsFetchParts): TlsRefreshParts {
    if (!NAME.test(s.self)) refuse("name", s.self);
    for (const url of s.memberClientUrls) if (!ENDPOINT.test(url)) refuse("endpoint", url);
    if (!NAME.test(s.identity) || s.identity === "") refuse("identity", s.identity);
    for (const unit of [...s.restartUnits, ...(s.etcdUnit ? [s.etcdUnit] : [])]) if (!UNIT.test(unit)) refuse("unit", unit);
    const fetchEnv = (fetch.unit.content ?? "").split("\n").filter((l) => l.startsWith("Environment="));
    const content = [
        "[Unit]",
        "Description=Fetch this machine's etcd TLS bundle again and apply what changed (docs/security.md, Rotation in place)",
        `After=${fetch.unit.name}`,
        "",
        environmentDropIn([
            [TLS_REFRESH_ENV.role, s.role],
            [TLS_REFRESH_ENV.self, s.self],
            [TLS_REFRESH_ENV.endpoints, s.memberClientUrls.join(",")],
            [TLS_REFRESH_ENV.identity, s.identity],
            [TLS_REFRESH_ENV.restartUnits, s.restartUnits.join(" ")],
            [TLS_REFRESH_ENV.etcdUnit, s.etcdUnit ?? ""],
        ]).trimEnd(),
        ...fetchEnv,
        "Type=oneshot",
        // A member may wait for the restart lock while another member restarts.
        "TimeoutStartSec=15min",
        `ExecStart=${TLS_REFRESH_SCRIPT}`,
        "",
    ].join("\n");
    const timer = [
        "[Unit]",
        `Description=Look for a renewed etcd TLS bundle every ${TLS_REFRESH_PERIOD_S} s`,
        "",
        "[Timer]",
        `OnBootSec=${TLS_REFRESH_PERIOD_S}`,
        `OnUnitInactiveSec=${TLS_REFRESH_PERIOD_S}`,
        "RandomizedDelaySec=10",
        "AccuracySec=1s",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ].join("\n");
    return {
        service: { name: TLS_REFRESH_UNIT, content },
        timer: { name: TLS_REFRESH_TIMER, command: "start", content: timer },
        script: { path: TLS_REFRESH_SCRIPT, permissions: "0755", owner: "root:root", content: TLS_REFRESH_SCRIPT_TEXT },
    };
}

// Constant text (see tls-fetch.ts for the same rules): bash's `${` is written `\${` here.
const TLS_REFRESH_SCRIPT_TEXT = String.raw`#!/bin/bash
# coreos-tls-refresh: fetch this machine's TLS bundle again, apply what changed, report what it holds
# (docs/security.md, "Rotation in place"). Values come from coreos-tls-refresh.service's environment.
set -uo pipefail
umask 077
log() { echo "coreos-tls-refresh: $*" >&2; }
die() { log "$*"; exit 2; }

dir="\${TLS_DIR:-${TLS_DIR}}"
role="\${TLS_ROLE-}"
self="\${TLS_SELF-}"
endpoints="\${TLS_ETCD_ENDPOINTS-}"
identity="\${TLS_ETCD_IDENTITY-}"
restart_units="\${TLS_RESTART_UNITS-}"
etcd_unit="\${TLS_ETCD_UNIT-}"
# Tests only: the fetch script's path (the unit never sets it).
fetch="\${TLS_FETCH_COMMAND:-${TLS_FETCH_SCRIPT}}"
status_prefix=${TLS_STATUS_PREFIX}
lock=${TLS_RESTART_LOCK}
ttl=${TLS_STATUS_TTL_S}

[[ $dir =~ ^/[A-Za-z0-9._/-]+$ && ! $dir =~ (^|/)\.\.?(/|$) ]] || die "TLS_DIR is not a plain absolute path"
sha_of() { sha256sum "$1" 2>/dev/null | cut -c1-64; }

# etcd's unit, before etcd starts: the CA file it is about to read.
if [[ \${1-} == record-loaded-ca ]]; then
  [[ -s $dir/ca.pem ]] || exit 0
  sha_of "$dir/ca.pem" > "$dir/${TLS_LOADED_CA_DIGEST}.tmp" && mv -f "$dir/${TLS_LOADED_CA_DIGEST}.tmp" "$dir/${TLS_LOADED_CA_DIGEST}"
  exit 0
fi

[[ $role == member || $role == worker ]] || die "TLS_ROLE is member or worker"
[[ -z $self ]] && self=$(hostname -s)
[[ $self =~ ^[a-z0-9][a-z0-9.-]{0,62}$ ]] || die "TLS_SELF (or the hostname) is not a plain name"
[[ $endpoints =~ ^https://[0-9.]+:[0-9]{1,5}(,https://[0-9.]+:[0-9]{1,5})*$ ]] || die "TLS_ETCD_ENDPOINTS is not a list of https://<address>:<port>"
[[ $identity =~ ^[a-z0-9][a-z0-9.-]{0,62}$ ]] || die "TLS_ETCD_IDENTITY is not a certificate id"
[[ $restart_units =~ ^([a-z0-9@._-]+\.service( [a-z0-9@._-]+\.service)*)?$ ]] || die "TLS_RESTART_UNITS is not a list of units"
[[ $etcd_unit =~ ^([a-z0-9@._-]+\.service)?$ ]] || die "TLS_ETCD_UNIT is not a unit"
[[ $fetch =~ ^/[A-Za-z0-9._/-]*coreos-tls-fetch$ ]] || die "TLS_FETCH_COMMAND is not a coreos-tls-fetch script"

ctl() {
  ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --cacert="$dir/ca.pem" --cert="$dir/$identity.pem" --key="$dir/$identity-key.pem" \
    --dial-timeout=5s --command-timeout=15s "$@"
}

# Under the cluster's restart lock: restart this member's etcd only while every member is healthy,
# then wait until every member is healthy again before the lock goes to the next member.
if [[ \${1-} == restart-member ]]; then
  [[ $role == member && -n $etcd_unit ]] || die "only a member restarts etcd"
  ctl endpoint health --cluster >/dev/null || { log "not every member is healthy: not restarting etcd now (the next refresh tries again)"; exit 1; }
  log "restarting $etcd_unit: its CA file changed since it started"
  systemctl restart "$etcd_unit" || exit 1
  for _ in $(seq 1 90); do
    ctl endpoint health --cluster >/dev/null 2>&1 && exit 0
    sleep 2
  done
  log "the cluster was not healthy within 180 s of restarting $etcd_unit"
  exit 1
fi

before=$(cat "$dir/.payload-sha256" 2>/dev/null)
# At most a few attempts: with the files of an earlier fetch the fetch script keeps them.
TLS_MAX_ATTEMPTS=3 "$fetch" || log "the fetch failed; keeping the files this machine has"
after=$(cat "$dir/.payload-sha256" 2>/dev/null)
if [[ -n $after && $after != "$before" ]]; then
  log "new bundle $after (was \${before:-none})"
  for unit in $restart_units; do systemctl try-restart "$unit" || log "try-restart $unit failed"; done
fi

loaded=-
if [[ $role == member ]]; then
  loaded=$(cat "$dir/${TLS_LOADED_CA_DIGEST}" 2>/dev/null)
  if [[ -n $etcd_unit && -s $dir/ca.pem && $loaded != "$(sha_of "$dir/ca.pem")" ]]; then
    # One member at a time, cluster-wide; the lock is released when the command ends.
    timeout 600 etcdctl --endpoints="$endpoints" --cacert="$dir/ca.pem" --cert="$dir/$identity.pem" --key="$dir/$identity-key.pem" \
      --dial-timeout=5s lock "$lock" "$0" restart-member || log "the restart of $etcd_unit did not complete; the next refresh tries again"
    loaded=$(cat "$dir/${TLS_LOADED_CA_DIGEST}" 2>/dev/null)
  fi
fi

# The report: what this machine holds (and, on a member, the CA file its etcd runs with).
lease=$(ctl lease grant "$ttl" 2>/dev/null | awk '$1 == "lease" { print $2 }')
if [[ $lease =~ ^[0-9a-f]+$ ]]; then
  ctl put --lease="$lease" "$status_prefix/$self" "payload=\${after:--} etcd-ca=\${loaded:--}" >/dev/null || log "could not report to etcd"
else
  log "could not get a lease from etcd to report on"
fi
exit 0
`
    .split("\\${")
    .join("${");
