// Flatcar ships no fleet, so the Flatcar rendering delivers it: a oneshot unit
// downloads one pinned release, checks its sha256 before anything is unpacked and
// installs it under /opt (never /usr: read-only on Flatcar). fleetd itself is run
// by fleet.service/fleet.socket units shaped like the ones Container Linux shipped.

import { FleetRelease } from "../model/types";
import { UnitSpec, WriteFileSpec } from "./model";

export { FleetRelease };

export const FLEET_INSTALL_UNIT = "fleet-install.service";
export const FLEET_INSTALL_SCRIPT = "/opt/bin/fleet-install";
export const FLEET_INSTALL_ROOT = "/opt/fleet";
export const FLEETD_PATH = `${FLEET_INSTALL_ROOT}/current/fleetd`;

export function fleetInstallScript(release: FleetRelease): WriteFileSpec {
    if (!/^[0-9a-f]{64}$/.test(release.sha256)) throw new Error(`fleet release ${release.version}: sha256 must be 64 hex digits`);
    const dir = `${FLEET_INSTALL_ROOT}/${release.version}`;
    const content = [
        "#!/bin/bash",
        "# Installs the pinned fleet release under /opt, only if its sha256 matches.",
        "set -euo pipefail",
        `dir=${dir}`,
        'if [ ! -x "$dir/fleetd" ]; then',
        "  work=$(mktemp -d)",
        "  trap 'rm -rf \"$work\"' EXIT",
        `  curl -fsSL --retry 5 --retry-delay 2 -o "$work/fleet.tar.gz" '${release.url}'`,
        `  echo '${release.sha256}  '"$work/fleet.tar.gz" | sha256sum -c -`,
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
                `Description=Install fleet ${release.version} (sha256-verified) under ${FLEET_INSTALL_ROOT}`,
                "Wants=network-online.target",
                "After=network-online.target",
                "",
                "[Service]",
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
                "",
            ].join("\n"),
        },
        service: {
            name: "fleet.service",
            command: "start",
            content: [
                "[Unit]",
                `Description=fleet daemon ${release.version}`,
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
