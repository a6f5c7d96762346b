// Flatcar ships no fleet, so the Flatcar rendering delivers it: a oneshot unit
// downloads one pinned release, checks its sha256 before anything is unpacked and
// installs it under /opt (never /usr: read-only on Flatcar). The release reaches the
// install script as the unit's environment; the script text is the same for any release.
// fleetd itself is run by fleet.service/fleet.socket units shaped like the ones Container
// Linux shipped.

import { FleetRelease } from "../model/types";
import { environmentDropIn, EnvironmentEntries } from "./environment";
import { UnitSpec, WriteFileSpec } from "./model";
import { refuseValue } from "./value-safety";

export { FleetRelease };

export const FLEET_INSTALL_UNIT = "fleet-install.service";
export const FLEET_INSTALL_SCRIPT = "/opt/bin/fleet-install";
export const FLEET_INSTALL_ROOT = "/opt/fleet";
export const FLEETD_PATH = `${FLEET_INSTALL_ROOT}/current/fleetd`;
/** The group that may use fleet's API socket: core's own, the tunnel's user on GCE (model/validate-fields.ts). */
export const FLEET_SOCKET_GROUP = "core";
/** Container Linux ships its own fleet.socket (root only): this drop-in opens it to the same group. */
export const FLEET_SOCKET_DROP_IN = { name: "30-socket-group.conf", content: `[Socket]\nSocketGroup=${FLEET_SOCKET_GROUP}\nSocketMode=0660\n` };

const RELEASE_VERSION = /^v[0-9]+\.[0-9]+\.[0-9]+$/;
const RELEASE_SHA256 = /^[0-9a-f]{64}$/;
const RELEASE_URL = /^https:\/\/[\x21-\x7e]+$/;

/**
 * The release as the install unit's environment. The script below is the same text for every
 * release: the values reach it only through these variables, never pasted into a shell line.
 * Each is refused here naming its key unless it has the form the script checks again on the VM.
 */
export function fleetReleaseEnvironment(release: FleetRelease): EnvironmentEntries {
    if (!RELEASE_SHA256.test(release.sha256)) refuseValue("fleetRelease.sha256", "the fleet release sha256", "must be 64 lowercase hex digits");
    if (!RELEASE_VERSION.test(release.version)) refuseValue("fleetRelease.version", `the fleet release version ${JSON.stringify(release.version)}`, "must look like v1.0.0");
    if (!RELEASE_URL.test(release.url)) {
        refuseValue("fleetRelease.url", `the fleet release url ${JSON.stringify(release.url)}`, "must be an https:// URL of printable ASCII without spaces");
    }
    return [
        ["FLEET_RELEASE_VERSION", release.version],
        ["FLEET_RELEASE_URL", release.url],
        ["FLEET_RELEASE_SHA256", release.sha256],
    ];
}

/** Constant text: installs the release the unit's environment names, only if its sha256 matches. */
export function fleetInstallScript(): WriteFileSpec {
    const content = [
        "#!/bin/bash",
        "# Installs the pinned fleet release under /opt, only if its sha256 matches. The release comes",
        "# from fleet-install.service's environment; no value is ever pasted into this text.",
        "set -euo pipefail",
        'version="${FLEET_RELEASE_VERSION:?}"',
        'url="${FLEET_RELEASE_URL:?}"',
        'sha256="${FLEET_RELEASE_SHA256:?}"',
        "if [[ ! \"$version\" =~ ^v[0-9]+\\.[0-9]+\\.[0-9]+$ ]]; then",
        "  printf 'fleet-install: FLEET_RELEASE_VERSION is not like v1.0.0: %q\\n' \"$version\" >&2",
        "  exit 1",
        "fi",
        "if [[ ! \"$sha256\" =~ ^[0-9a-f]{64}$ ]]; then",
        "  printf 'fleet-install: FLEET_RELEASE_SHA256 is not 64 lowercase hex digits: %q\\n' \"$sha256\" >&2",
        "  exit 1",
        "fi",
        "if [[ ! \"$url\" =~ ^https://[[:graph:]]+$ ]]; then",
        "  printf 'fleet-install: FLEET_RELEASE_URL is not an https URL: %q\\n' \"$url\" >&2",
        "  exit 1",
        "fi",
        `dir="${FLEET_INSTALL_ROOT}/$version"`,
        'if [ ! -x "$dir/fleetd" ]; then',
        "  work=$(mktemp -d)",
        "  trap 'rm -rf \"$work\"' EXIT",
        '  curl -fsSL --retry 5 --retry-delay 2 -o "$work/fleet.tar.gz" -- "$url"',
        `  printf '%s  %s\\n' "$sha256" "$work/fleet.tar.gz" | sha256sum -c -`,
        '  mkdir -p "$work/unpacked"',
        '  tar -xzf "$work/fleet.tar.gz" -C "$work/unpacked" --strip-components=1',
        '  test -x "$work/unpacked/fleetd"',
        `  mkdir -p ${FLEET_INSTALL_ROOT}`,
        '  rm -rf "$dir.new" && mv "$work/unpacked" "$dir.new" && mv "$dir.new" "$dir"',
        "fi",
        `ln -sfn "$dir" ${FLEET_INSTALL_ROOT}/current`,
        `mkdir -p /opt/bin && ln -sfn ${FLEET_INSTALL_ROOT}/current/fleetctl /opt/bin/fleetctl`,
        "",
    ].join("\n");
    return { path: FLEET_INSTALL_SCRIPT, permissions: "0755", owner: "root:root", content };
}

/** The units that install and run fleetd; the FLEET_* drop-in and command come from the renderer. */
export function fleetUnits(release: FleetRelease): { install: UnitSpec; socket: UnitSpec; service: UnitSpec } {
    return {
        install: {
            name: FLEET_INSTALL_UNIT,
            content: [
                "[Unit]",
                `Description=Install the pinned fleet release (sha256-verified) under ${FLEET_INSTALL_ROOT}`,
                "Wants=network-online.target",
                "After=network-online.target",
                "",
                // environmentDropIn gives "[Service]" plus the quoted Environment= lines.
                environmentDropIn(fleetReleaseEnvironment(release)).trimEnd(),
                "Type=oneshot",
                "RemainAfterExit=yes",
                `ExecStart=${FLEET_INSTALL_SCRIPT}`,
                "",
            ].join("\n"),
        },
        socket: {
            name: "fleet.socket",
            command: "start",
            content: [
                "[Unit]",
                "Description=fleet API socket",
                "PartOf=fleet.service",
                "",
                "[Socket]",
                "ListenStream=/var/run/fleet.sock",
                "SocketMode=0660",
                // The providers reach the API through the SSH tunnel as core (whose are the machines'
                // SSH keys), and sshd opens the socket as the user it logged in.
                `SocketGroup=${FLEET_SOCKET_GROUP}`,
                "",
            ].join("\n"),
        },
        service: {
            name: "fleet.service",
            command: "start",
            content: [
                "[Unit]",
                "Description=fleet daemon (the pinned release fleet-install.service installed)",
                `Requires=${FLEET_INSTALL_UNIT}`,
                `After=${FLEET_INSTALL_UNIT} etcd-member.service fleet.socket`,
                "Wants=etcd-member.service fleet.socket",
                "",
                "[Service]",
                `ExecStart=${FLEETD_PATH}`,
                "Restart=always",
                "RestartSec=10s",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
            ].join("\n"),
        },
    };
}
