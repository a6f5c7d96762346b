// Flatcar: coreos-cloudinit still applies the document, but there is no etcd2.service
// and no fleet. etcd runs through etcd-member.service configured by a drop-in of the
// same ETCD_* variables (plus the pinned image and the v2 API fleet and locksmith
// need); fleet is installed from a sha256-verified release and run with FLEET_*.

import { environmentDropIn, etcdEnvironment, fleetEnvironment, locksmithEnvironment } from "./environment";
import { fleetInstallScript, fleetUnits } from "./fleet-release";
import { ZONE_LOOKUP_SCRIPT, ZONE_LOOKUP_UNIT } from "./zone-lookup";
import { MachineModel, UnitSpec } from "./model";
import { TLS_CONSUMER_DROP_IN } from "./tls-fetch";
import { TLS_LOADED_CA_DROP_IN } from "./tls-refresh";
import { stringifyCloudConfig, topLevel, unitEntry } from "./render-common";

export const CLUSTER_DROP_IN = "20-cluster.conf";

export function flatcarDocument(model: MachineModel): Record<string, unknown> {
    // Members only: a worker's local endpoint is the etcd gateway unit (model.units).
    const etcdMember: UnitSpec[] = model.etcd
        ? [
              {
                  name: "etcd-member.service",
                  command: "start",
                  drop_ins: [
                      {
                          name: CLUSTER_DROP_IN,
                          content: environmentDropIn([["ETCD_IMAGE_TAG", model.etcdImageTag], ...etcdEnvironment(model.etcd), ["ETCD_ENABLE_V2", "true"]]),
                      },
                      TLS_CONSUMER_DROP_IN,
                      TLS_LOADED_CA_DROP_IN,
                  ],
              },
          ]
        : [];
    // Flatcar ships no fleet: it runs only from a release whose sha256 the operator pinned.
    const release = model.fleetRelease;
    const fleet = release ? fleetUnits(release) : undefined;
    const fleetRunUnits: UnitSpec[] = fleet
        ? [
              fleet.install,
              fleet.socket,
              {
                  ...fleet.service,
                  drop_ins: [{ name: CLUSTER_DROP_IN, content: environmentDropIn(fleetEnvironment(model.fleet)) }, ...model.fleetDropIns],
              },
          ]
        : [];
    // The GCE worker zone lookup only feeds fleet's metadata.
    const roleUnits = fleet ? model.units : model.units.filter((u) => u.name !== ZONE_LOOKUP_UNIT);
    const roleFiles = fleet ? model.writeFiles : model.writeFiles.filter((f) => f.path !== ZONE_LOOKUP_SCRIPT);
    // With reboot_strategy off cloudinit masks locksmithd, so only configure it then.
    const locksmithd: UnitSpec = {
        name: "locksmithd.service",
        ...(model.update.reboot_strategy === "off" ? {} : { command: "restart" as const }),
        drop_ins: [{ name: CLUSTER_DROP_IN, content: environmentDropIn(locksmithEnvironment(model.locksmith)) }, TLS_CONSUMER_DROP_IN],
    };
    const coreos: Record<string, unknown> = {
        update: { ...model.update },
        units: [...roleUnits, ...etcdMember, ...fleetRunUnits, locksmithd].map(unitEntry),
    };
    return topLevel(model, release ? [...model.writeFiles, fleetInstallScript()] : roleFiles, coreos);
}

export function renderFlatcar(model: MachineModel): string {
    return stringifyCloudConfig(flatcarDocument(model));
}
