// How a machine gets its certificates (issue 21, model/pki-delivery.ts): a oneshot unit that runs
// before etcd, the proxy, fleet, locksmith and the router, fetches this machine's bundle from Secret
// Manager with the VM's own service account (an access token from the metadata server), and writes
// each file under TLS_DIR. Nothing secret is in the user-data: the unit names the secret, IAM decides
// who may read it (docs/gce.md, "Certificates on GCE").
//
// The script is the same text for every machine and cluster: the secret, the project and which files
// etcd reads reach it only as the unit's Environment= (quoted by environment.ts), never pasted into
// shell text. Pure: no Pulumi.

import { decodeBundle, SecretBundle, secretBundles, TLS_DIR, TLS_FETCH_UNIT } from "../model/pki-delivery";
import { planCertificates } from "../model/pki-plan";
import { ROUTER_UNIT } from "../model/router-contract";
import { environmentDropIn } from "./environment";
import { UnitDropIn, UnitSpec, WriteFileSpec } from "./model";

export { TLS_FETCH_UNIT };
export const TLS_FETCH_SCRIPT = "/opt/bin/coreos-tls-fetch";
/** Written last by a successful fetch: the bundle's file names, one a line (what "the certificates of an earlier boot" are). */
export const TLS_MANIFEST = ".bundle";
/** Written just before the manifest: the sha256 (hex) of the payload the files came from, what the machine reports it holds. */
export const TLS_PAYLOAD_DIGEST = ".payload-sha256";

/** The variables the unit sets; the script reads nothing else on a machine. */
export const TLS_FETCH_ENV = {
    /** The Secret Manager secret id (`<cluster>-tls-<holder>`). */
    secretId: "TLS_SECRET_ID",
    /** The GCP project that holds the secret. */
    project: "TLS_PROJECT",
    /** Where the files go: TLS_DIR of model/pki-delivery.ts. */
    dir: "TLS_DIR",
    /** Comma-separated certificate ids whose `<id>.pem` and `<id>-key.pem` belong to the `etcd` user (etcd and the v2 proxy run as it). */
    etcdUserIds: "TLS_ETCD_USER_IDS",
} as const;

/**
 * For tests only, never set by the unit: the two base URLs (accepted only as `http://127.0.0.1:<port>`,
 * the defaults are GCE's metadata server and Secret Manager), the first retry delay and an attempt limit.
 */
export const TLS_FETCH_TEST_ENV = {
    metadataUrl: "TLS_METADATA_URL",
    secretManagerUrl: "TLS_SECRET_MANAGER_URL",
    backoffMs: "TLS_BACKOFF_MS",
    maxAttempts: "TLS_MAX_ATTEMPTS",
} as const;

export const GCE_METADATA_URL = "http://169.254.169.254";
export const SECRET_MANAGER_URL = "https://secretmanager.googleapis.com";

/** The units that read the certificates; the fetch is ordered before each (names as the renderers write them). */
export const TLS_CONSUMER_UNITS: readonly string[] = ["etcd-member.service", "etcd2.service", "fleet.service", "locksmithd.service", ROUTER_UNIT];

/** Retries: the first delay, doubled up to the cap; with the files of an earlier boot, this many attempts before keeping them. */
export const TLS_FETCH_RETRY = { firstDelayMs: 2000, maxDelayMs: 60000, attemptsBeforeKeepingPrevious: 3 } as const;

/** File modes and owners the script gives, by file (tlsFilesOf applies the same rule). */
export const TLS_FILE_RULES = {
    trustBundle: { name: "ca.pem", mode: "0644", owner: "root" },
    etcdUser: { mode: "0600", owner: "etcd" },
    other: { mode: "0600", owner: "root" },
    dirMode: "0755",
} as const;

/**
 * What the unit does, for a platform that cannot run it (the local platform simulates TLS_FETCH_UNIT:
 * it reads the unit's TLS_* environment, takes the bundle from its own root-only store instead of
 * Secret Manager, and writes what tlsFilesOf says).
 */
export const TLS_FETCH_CONTRACT = {
    unit: TLS_FETCH_UNIT,
    script: TLS_FETCH_SCRIPT,
    env: TLS_FETCH_ENV,
    manifest: TLS_MANIFEST,
    does: [
        "reads an access token for the VM's service account from the metadata server (header Metadata-Flavor: Google)",
        "reads versions/latest:access of secret $TLS_SECRET_ID in project $TLS_PROJECT from Secret Manager; payload.data is the base64 of encodeBundle's payload",
        "refuses the whole bundle if any line is not <file name><TAB><base64> with a name matching ^[a-z0-9][a-z0-9.-]*\\.pem$, if a name repeats, or if ca.pem is missing",
        "writes each file under $TLS_DIR (0755): ca.pem 0644 root, the cert and key of each id in $TLS_ETCD_USER_IDS 0600 etcd, every other file 0600 root; each file staged, then renamed into place",
        "removes *.pem files of $TLS_DIR the bundle no longer names, writes .payload-sha256 (the sha256 of the payload, hex), then the manifest .bundle (the file names, one a line)",
        "retries with backoff (2 s doubling to 60 s) until it succeeds: the start job stays running, so every unit ordered after it waits",
        "with the files of an earlier boot (every name of .bundle present), after 3 failed attempts keeps them, logs why, and succeeds",
    ],
} as const;

/** One file as the fetch writes it. */
export interface TlsFile {
    name: string;
    path: string;
    content: string;
    mode: string;
    owner: "root" | "etcd";
}

const ID = /^[a-z0-9][a-z0-9.-]*$/;
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
/** GCP project ids, as model/validate.ts checks them; empty only where no Secret Manager exists (the local platform simulates the unit). */
const PROJECT = /^([a-z][a-z0-9-]{4,28}[a-z0-9])?$/;

/**
 * The files a payload becomes on the machine, sorted by name: the script's rule as data, for the
 * local platform's simulation and for the tests that run the real script.
 */
export function tlsFilesOf(payload: string, etcdUserIds: readonly string[], dir: string = TLS_DIR): TlsFile[] {
    const files = decodeBundle(payload);
    if (payload.split("\n").filter((l) => l !== "").length !== Object.keys(files).length) throw new Error("TLS bundle: a file name repeats");
    if (!Object.prototype.hasOwnProperty.call(files, TLS_FILE_RULES.trustBundle.name)) throw new Error("TLS bundle: no ca.pem");
    const etcdFiles = new Set(etcdUserIds.flatMap((id) => [`${id}.pem`, `${id}-key.pem`]));
    return Object.keys(files)
        .sort()
        .map((name) => {
            const rule = name === TLS_FILE_RULES.trustBundle.name ? TLS_FILE_RULES.trustBundle : etcdFiles.has(name) ? TLS_FILE_RULES.etcdUser : TLS_FILE_RULES.other;
            return { name, path: `${dir}/${name}`, content: files[name], mode: rule.mode, owner: rule.owner };
        });
}

/**
 * The cluster's bundles from the plan's members (name and static address), as both sides need them:
 * the GCE platform stores one secret per bundle (components/gcp/tls-secrets.ts), each machine's
 * user-data names its own (tlsFetchPartsFor). The certificates are planCertificates' for those members.
 */
export function planBundles(clusterName: string, members: ReadonlyArray<{ name: string; privateIp: string }>): SecretBundle[] {
    const specs = planCertificates(members.map((m) => ({ name: m.name, ip: m.privateIp })));
    return secretBundles(clusterName, members.map((m) => m.name), specs);
}

/**
 * The certificate ids of a bundle that etcd reads as the `etcd` user (Flatcar's etcd-member.service
 * runs the container with `-u etcd`, Container Linux's etcd2.service as User=etcd): a member's
 * server and peer certificates. A worker has none: its local endpoint is `etcd gateway`, a TCP proxy
 * that holds no certificate (each client's TLS goes through it to a member; docs/security.md).
 */
export function etcdUserIdsOf(bundle: SecretBundle): string[] {
    const wanted = bundle.holder === "worker" ? [] : [`${bundle.holder}-server`, `${bundle.holder}-peer`];
    return bundle.certificateIds.filter((id) => wanted.includes(id));
}

export interface TlsFetchSettings {
    secretId: string;
    project: string;
    /** Certificate ids whose files the `etcd` user owns (etcdUserIdsOf); none by default. */
    etcdUserIds?: readonly string[];
}

export interface TlsFetchParts {
    unit: UnitSpec;
    script: WriteFileSpec;
}

/**
 * For the units that read the certificates (etcd-member / etcd2, fleet, locksmithd, the router): pulls
 * the fetch in and orders them after it. Wants=, not Requires=: the fetch only ends once it has
 * certificates (or on a configuration error, which the consumer then shows by failing on its own).
 */
export const TLS_CONSUMER_DROP_IN: UnitDropIn = {
    name: "10-tls-fetch.conf",
    content: ["[Unit]", `Wants=${TLS_FETCH_UNIT}`, `After=${TLS_FETCH_UNIT}`, ""].join("\n"),
};

function refuse(what: string, value: string, rule: string): never {
    throw new Error(`${TLS_FETCH_UNIT}: ${what} ${JSON.stringify(value)} ${rule}`);
}

export function tlsFetchParts(s: TlsFetchSettings): TlsFetchParts {
    if (!SECRET_ID.test(s.secretId)) refuse("secret id", s.secretId, "is not a Secret Manager secret id (1-255 of A-Z a-z 0-9 _ -)");
    if (!PROJECT.test(s.project)) refuse("project", s.project, "is not a GCP project id (6-30 of a-z 0-9 -, starting with a letter)");
    const etcdUserIds = s.etcdUserIds ?? [];
    for (const id of etcdUserIds) if (!ID.test(id)) refuse("certificate id", id, "is not a certificate id (a-z 0-9 . -)");

    const content = [
        "[Unit]",
        "Description=Fetch this machine's etcd TLS bundle from Secret Manager (docs/gce.md, Certificates on GCE)",
        "Wants=network-online.target",
        "After=network-online.target",
        `Before=${TLS_CONSUMER_UNITS.join(" ")}`,
        // Never a start limit that ends in a unit failed for good; the script retries by itself.
        "StartLimitIntervalSec=0",
        "",
        // environmentDropIn gives "[Service]" plus the quoted Environment= lines.
        environmentDropIn([
            [TLS_FETCH_ENV.secretId, s.secretId],
            [TLS_FETCH_ENV.project, s.project],
            [TLS_FETCH_ENV.dir, TLS_DIR],
            [TLS_FETCH_ENV.etcdUserIds, etcdUserIds.join(",")],
        ]).trimEnd(),
        "Type=oneshot",
        "RemainAfterExit=yes",
        // The script retries until it has certificates; the start job (and every unit after it) waits.
        "TimeoutStartSec=infinity",
        `ExecStart=${TLS_FETCH_SCRIPT}`,
        "",
    ].join("\n");

    return {
        unit: { name: TLS_FETCH_UNIT, command: "start", content },
        script: { path: TLS_FETCH_SCRIPT, permissions: "0755", owner: "root:root", content: TLS_FETCH_SCRIPT_TEXT },
    };
}

/** The parts for one bundle of secretBundles (its secret, and the files etcd reads from it). */
export function tlsFetchPartsFor(bundle: SecretBundle, project: string): TlsFetchParts {
    return tlsFetchParts({ secretId: bundle.secretId, project, etcdUserIds: etcdUserIdsOf(bundle) });
}

// The script. Constant: no value of any cluster is in it. Never mention cloudinit's address variables
// (a dollar sign followed by private_ipv4 / public_ipv4): cloudinit substitutes them in the whole text.
// `set -e` is not used: the attempt runs in an `if` (where bash ignores it), so every step is checked.
// Written as String.raw so backslashes stay as bash reads them; a bash `${` is written `\${` here.
const TLS_FETCH_SCRIPT_TEXT = String.raw`#!/bin/bash
# coreos-tls-fetch: fetch this machine's TLS bundle from Secret Manager with the VM's own service
# account and write its files under $TLS_DIR (docs/gce.md, "Certificates on GCE"). Every value comes
# from coreos-tls-fetch.service's environment; nothing is pasted into this text.
set -uo pipefail
umask 077

log() { echo "coreos-tls-fetch: $*" >&2; }
# A configuration error: not retried (the unit fails, and says why).
die() { log "$*"; exit 2; }

secret="\${TLS_SECRET_ID-}"
project="\${TLS_PROJECT-}"
dir="\${TLS_DIR:-/etc/coreos-cluster/tls}"
etcd_ids="\${TLS_ETCD_USER_IDS-}"
# Tests only: both base URLs may point at 127.0.0.1, nowhere else.
metadata_url="\${TLS_METADATA_URL:-http://169.254.169.254}"
secrets_url="\${TLS_SECRET_MANAGER_URL:-https://secretmanager.googleapis.com}"
delay_ms="\${TLS_BACKOFF_MS:-2000}"
max_attempts="\${TLS_MAX_ATTEMPTS:-0}"
max_delay_ms=60000
attempts_before_previous=3
manifest=.bundle

[[ $secret =~ ^[A-Za-z0-9_-]{1,255}$ ]] || die "TLS_SECRET_ID is not a Secret Manager secret id"
[[ $project =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "TLS_PROJECT is not a GCP project id"
[[ $dir =~ ^/[A-Za-z0-9._/-]+$ && ! $dir =~ (^|/)\.\.?(/|$) ]] || die "TLS_DIR is not a plain absolute path"
[[ $etcd_ids =~ ^([a-z0-9][a-z0-9.-]*(,[a-z0-9][a-z0-9.-]*)*)?$ ]] || die "TLS_ETCD_USER_IDS is not a comma-separated list of certificate ids"
[[ $metadata_url == http://169.254.169.254 || $metadata_url =~ ^http://127\.0\.0\.1:[0-9]{1,5}$ ]] || die "TLS_METADATA_URL may only point at 127.0.0.1 (tests)"
[[ $secrets_url == https://secretmanager.googleapis.com || $secrets_url =~ ^http://127\.0\.0\.1:[0-9]{1,5}$ ]] || die "TLS_SECRET_MANAGER_URL may only point at 127.0.0.1 (tests)"
[[ $delay_ms =~ ^[0-9]{1,6}$ && $max_attempts =~ ^[0-9]{1,6}$ ]] || die "TLS_BACKOFF_MS and TLS_MAX_ATTEMPTS are whole numbers"

is_root=0
(( EUID == 0 )) && is_root=1
if (( is_root )) && [[ -n $etcd_ids ]] && ! id -u etcd >/dev/null 2>&1; then
  die "no etcd user on this machine to own the files of $etcd_ids"
fi
declare -A etcd_file=()
IFS=, read -r -a ids <<< "$etcd_ids"
for id in "\${ids[@]}"; do
  etcd_file["$id.pem"]=1
  etcd_file["$id-key.pem"]=1
done

line_re=$'^([a-z0-9][a-z0-9.-]*\\.pem)\t([A-Za-z0-9+/=]+)$'

# The payload (name<TAB>base64 lines) into files of the stage; the whole bundle or nothing.
unpack() {
  local stage="$1" line n=0
  local -A seen=()
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ -z $line ]] && continue
    if [[ ! $line =~ $line_re ]]; then
      log "line $n of the bundle is not <file name><TAB><base64> with a plain .pem name: refusing the whole bundle"
      return 1
    fi
    local name="\${BASH_REMATCH[1]}" content="\${BASH_REMATCH[2]}"
    if [[ -n \${seen[$name]+x} ]]; then
      log "the bundle names $name twice: refusing it"
      return 1
    fi
    seen["$name"]=1
    printf '%s' "$content" | base64 -d > "$stage/$name" 2>/dev/null || { log "line $n of the bundle is not base64: refusing it"; return 1; }
  done < "$stage/.payload"
  rm -f "$stage/.payload"
  [[ -n \${seen[ca.pem]+x} ]] || { log "the bundle has no ca.pem: refusing it"; return 1; }
  printf '%s\n' "\${!seen[@]}" | sort > "$stage/.names" || return 1
}

# Modes and owners on the staged files, then each renamed into place (ca.pem first), stale files
# removed, and the manifest written last.
install_files() {
  local stage="$1" name mode owner
  mkdir -p "$dir" && chmod 0755 "$dir" || return 1
  while IFS= read -r name; do
    mode=0600 owner=root:root
    [[ $name == ca.pem ]] && mode=0644
    [[ -n \${etcd_file[$name]+x} ]] && owner=etcd:etcd
    chmod "$mode" "$stage/$name" || return 1
    if (( is_root )); then chown "$owner" "$stage/$name" || return 1; fi
  done < "$stage/.names"
  mv -f "$stage/ca.pem" "$dir/ca.pem" || return 1
  while IFS= read -r name; do
    [[ $name == ca.pem ]] && continue
    mv -f "$stage/$name" "$dir/$name" || return 1
  done < "$stage/.names"
  local f
  for f in "$dir"/*.pem; do
    [[ -e $f ]] || continue
    grep -qxF "\${f##*/}" "$stage/.names" || rm -f "$f" || return 1
  done
  chmod 0644 "$stage/.sha256" && mv -f "$stage/.sha256" "$dir/.payload-sha256" || return 1
  chmod 0644 "$stage/.names" && mv -f "$stage/.names" "$dir/$manifest"
}

attempt() {
  local stage="$1" code token data
  code=$(curl -sS -o "$stage/.token" -w '%{http_code}' --connect-timeout 5 --max-time 20 \
    -H 'Metadata-Flavor: Google' \
    "$metadata_url/computeMetadata/v1/instance/service-accounts/default/token") || { log "the metadata server did not answer"; return 1; }
  [[ $code == 200 ]] || { log "the metadata server answered HTTP $code to the token request"; return 1; }
  token=$(tr -d '[:space:]' < "$stage/.token" | sed -n 's#.*"access_token":"\([^"]*\)".*#\1#p')
  rm -f "$stage/.token"
  [[ $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] || { log "no access token in the metadata server's answer"; return 1; }
  # The token goes to curl on stdin, never on a command line.
  code=$(printf 'Authorization: Bearer %s\n' "$token" | curl -sS -o "$stage/.answer" -w '%{http_code}' --connect-timeout 5 --max-time 30 \
    -H @- "$secrets_url/v1/projects/$project/secrets/$secret/versions/latest:access") || { log "Secret Manager did not answer"; return 1; }
  case "$code" in
    200) ;;
    403) log "Secret Manager answered 403 for secret $secret: this VM's service account needs roles/secretmanager.secretAccessor on it and the VM the cloud-platform scope (a new grant takes a minute to apply)"; return 1 ;;
    404) log "Secret Manager answered 404: no secret $secret (or no version of it) in project $project yet"; return 1 ;;
    *) log "Secret Manager answered HTTP $code for secret $secret"; return 1 ;;
  esac
  data=$(tr -d '[:space:]' < "$stage/.answer" | sed -n 's#.*"data":"\([A-Za-z0-9+/=]*\)".*#\1#p')
  rm -f "$stage/.answer"
  [[ -n $data ]] || { log "no payload.data in Secret Manager's answer"; return 1; }
  printf '%s' "$data" | base64 -d > "$stage/.payload" 2>/dev/null || { log "payload.data is not base64"; return 1; }
  sha256sum "$stage/.payload" | cut -c1-64 > "$stage/.sha256" || return 1
  unpack "$stage" && install_files "$stage"
}

# The files of an earlier boot: every name of the manifest still there.
have_previous() {
  [[ -s $dir/$manifest ]] || return 1
  local name
  while IFS= read -r name; do
    [[ $name =~ ^[a-z0-9][a-z0-9.-]*\.pem$ && -s $dir/$name ]] || return 1
  done < "$dir/$manifest"
}

mkdir -p "$dir" && chmod 0755 "$dir" || die "cannot create $dir"
rm -rf "$dir"/.stage.*
n=0
while :; do
  n=$((n + 1))
  stage=$(mktemp -d "$dir/.stage.XXXXXX") || die "cannot create a staging directory in $dir"
  if attempt "$stage"; then
    rm -rf "$stage"
    log "wrote $(wc -l < "$dir/$manifest") files of secret $secret to $dir"
    exit 0
  fi
  rm -rf "$stage"
  if (( n >= attempts_before_previous )) && have_previous; then
    log "keeping the certificates of an earlier boot in $dir: $n attempts to fetch secret $secret failed (the next start of $0 tries again)"
    exit 0
  fi
  if (( max_attempts > 0 && n >= max_attempts )); then
    log "giving up after $n attempts"
    exit 1
  fi
  log "attempt $n failed; next in $((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000))) s"
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  delay_ms=$((delay_ms * 2 > max_delay_ms ? max_delay_ms : delay_ms * 2))
done
`
    // String.raw keeps the backslash of each \${ written above to keep it from JS: drop it.
    .split("\\${")
    .join("${");
