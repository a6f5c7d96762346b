// GCE workers are created from one regional instance template, so the zone a VM
// lands in is unknown when its user-data is rendered. A oneshot unit reads the zone
// from the metadata server and writes the complete FLEET_METADATA into an
// EnvironmentFile that fleet.service loads. systemd lets EnvironmentFile= override
// Environment=, so it wins over the zone-less metadata of the fleet section/drop-in,
// and no daemon-reload is needed at boot.

import { environmentDropIn } from "./environment";
import { UnitDropIn, UnitSpec, WriteFileSpec } from "./model";
import { refuseValue } from "./value-safety";

export const ZONE_LOOKUP_UNIT = "fleet-zone.service";
export const ZONE_LOOKUP_SCRIPT = "/opt/bin/fleet-zone";
export const ZONE_ENVIRONMENT_FILE = "/run/fleet/zone.env";
const ZONE_MARK = "@ZONE@";

export interface ZoneLookupParts {
    unit: UnitSpec;
    fleetDropIn: UnitDropIn;
    script: WriteFileSpec;
}

/** What fleet metadata parts may hold (build.ts refuses anything else); the script checks it again. */
const METADATA_TEXT = /^[A-Za-z0-9_.:\/=,-]*$/;

/**
 * @param metadataParts fleet metadata `k=v` pairs in order; the `zone` pair's value is filled in on the VM.
 */
export function zoneLookupParts(metadataParts: Array<[string, string]>): ZoneLookupParts {
    const template = metadataParts.map(([k, v]) => `${k}=${k === "zone" ? ZONE_MARK : v}`).join(",");
    const [before, after] = template.split(ZONE_MARK);
    for (const text of [before, after]) {
        if (!METADATA_TEXT.test(text)) refuseValue("fleetMetadata", `fleet metadata ${JSON.stringify(text)}`, "may only use letters, digits and _ . : / - = ,");
    }
    // The metadata reaches the script as the unit's environment: the script is the same text for
    // every cluster. Never mention the $private/$public address variables here: cloudinit
    // substitutes them in the whole text.
    const script = [
        "#!/bin/bash",
        "# Writes FLEET_METADATA with this VM's zone (the instance template cannot know it). The",
        "# metadata around the zone comes from fleet-zone.service's environment, never pasted here.",
        "set -euo pipefail",
        'before="${FLEET_METADATA_BEFORE_ZONE:?}"',
        'after="${FLEET_METADATA_AFTER_ZONE-}"',
        "metadata='^[A-Za-z0-9_.:/=,-]*$'",
        'if [[ ! "$before" =~ $metadata || ! "$after" =~ $metadata ]]; then',
        '  echo "fleet metadata from the environment is not k=v,k=v text" >&2',
        "  exit 1",
        "fi",
        "zone_path=$(curl -fsS --retry 10 --retry-delay 2 --retry-connrefused \\",
        "  -H 'Metadata-Flavor: Google' \\",
        "  http://metadata.google.internal/computeMetadata/v1/instance/zone)",
        'if [[ ! "$zone_path" =~ ^projects/[^/]+/zones/([a-z0-9-]+)$ ]]; then',
        "  echo \"unexpected zone from the metadata server: '$zone_path'\" >&2",
        "  exit 1",
        "fi",
        'zone="${BASH_REMATCH[1]}"',
        `mkdir -p ${ZONE_ENVIRONMENT_FILE.replace(/\/[^/]+$/, "")}`,
        `printf 'FLEET_METADATA=%s%s%s\\n' "$before" "$zone" "$after" > ${ZONE_ENVIRONMENT_FILE}.tmp`,
        `mv ${ZONE_ENVIRONMENT_FILE}.tmp ${ZONE_ENVIRONMENT_FILE}`,
        "",
    ].join("\n");

    return {
        script: { path: ZONE_LOOKUP_SCRIPT, permissions: "0755", owner: "root:root", content: script },
        unit: {
            name: ZONE_LOOKUP_UNIT,
            command: "start",
            content: [
                "[Unit]",
                "Description=Write fleet metadata with this VM's GCE zone",
                "Wants=network-online.target",
                "After=network-online.target",
                "Before=fleet.service",
                "",
                // environmentDropIn gives "[Service]" plus the quoted Environment= lines.
                environmentDropIn([
                    ["FLEET_METADATA_BEFORE_ZONE", before],
                    ["FLEET_METADATA_AFTER_ZONE", after],
                ]).trimEnd(),
                "Type=oneshot",
                "RemainAfterExit=yes",
                `ExecStart=${ZONE_LOOKUP_SCRIPT}`,
                "",
            ].join("\n"),
        },
        fleetDropIn: {
            name: "30-zone.conf",
            content: [
                "[Unit]",
                `Requires=${ZONE_LOOKUP_UNIT}`,
                `After=${ZONE_LOOKUP_UNIT}`,
                "",
                "[Service]",
                `EnvironmentFile=${ZONE_ENVIRONMENT_FILE}`,
                "",
            ].join("\n"),
        },
    };
}
