// Flatcar: coreos-cloudinit still applies the document, but there is no etcd2.service
// and no fleet. etcd runs through etcd-member.service configured by a drop-in of the
// same ETCD_* variables (plus the pinned image and the v2 API fleet and locksmith
// need); fleet is installed from a sha256-verified release and run with FLEET_*.

import { environmentDropIn, etcdEnvironment, fleetEnvironment, locksmithEnvironment } from "./environment";
import { FLEET_RELEASE, FleetRelease, fleetInstallScript, fleetUnits } from "./fleet-release";
import { MachineModel, UnitSpec } from "./model";
import { stringifyCloudConfig, topLevel, unitEntry } from "./render-common";

export const CLUSTER_DROP_IN = "20-cluster.conf";

export function flatcarDocument(model: MachineModel, release: FleetRelease = FLEET_RELEASE): Record<string, unknown> {
    const etcdMember: UnitSpec = {
        name: "etcd-member.service",
        command: "start",
        drop_ins: [
            {
                name: CLUSTER_DROP_IN,
                content: environmentDropIn([
                    ["ETCD_IMAGE_TAG", model.etcdImageTag],
                    ...etcdEnvironment(model.etcd),
                    ["ETCD_ENABLE_V2", "true"],
                ]),
            },
        ],
    };
    const fleet = fleetUnits(release);
    const fleetService: UnitSpec = {
        ...fleet.service,
        drop_ins: [{ name: CLUSTER_DROP_IN, content: environmentDropIn(fleetEnvironment(model.fleet)) }, ...model.fleetDropIns],
    };
    // With reboot_strategy off cloudinit masks locksmithd, so only configure it then.
    const locksmithd: UnitSpec = {
        name: "locksmithd.service",
        ...(model.update.reboot_strategy === "off" ? {} : { command: "restart" as const }),
        drop_ins: [{ name: CLUSTER_DROP_IN, content: environmentDropIn(locksmithEnvironment(model.locksmith)) }],
    };
    const coreos: Record<string, unknown> = {
        update: { ...model.update },
        units: [...model.units, etcdMember, fleet.install, fleet.socket, fleetService, locksmithd].map(unitEntry),
    };
    return topLevel(model, [...model.writeFiles, fleetInstallScript(release)], coreos);
}

export function renderFlatcar(model: MachineModel, release: FleetRelease = FLEET_RELEASE): string {
    return stringifyCloudConfig(flatcarDocument(model, release));
}
