// Classic CoreOS Container Linux: coreos-cloudinit turns the coreos.etcd2 / fleet /
// locksmith sections into ETCD_* / FLEET_* / LOCKSMITHD_* drop-ins itself; the units
// list only has to start etcd2.service and fleet.service.

import { MachineModel } from "./model";
import { stringifyCloudConfig, topLevel, unitEntry } from "./render-common";

export function containerLinuxDocument(model: MachineModel): Record<string, unknown> {
    const coreos: Record<string, unknown> = {
        etcd2: { ...model.etcd },
        fleet: { ...model.fleet },
        locksmith: { ...model.locksmith },
        update: { ...model.update },
        units: [
            ...model.units.map(unitEntry),
            unitEntry({ name: "etcd2.service", command: "start" }),
            unitEntry({ name: "fleet.service", command: "start", drop_ins: model.fleetDropIns }),
        ],
    };
    return topLevel(model, model.writeFiles, coreos);
}

export function renderContainerLinux(model: MachineModel): string {
    return stringifyCloudConfig(containerLinuxDocument(model));
}
