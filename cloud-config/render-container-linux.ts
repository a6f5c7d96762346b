// Classic CoreOS Container Linux: coreos-cloudinit turns the coreos.etcd2 / fleet /
// locksmith sections into ETCD_* / FLEET_* / LOCKSMITHD_* drop-ins itself; the units
// list only has to start etcd2.service and fleet.service.

import { FLEET_SOCKET_DROP_IN } from "./fleet-release";
import { MachineModel } from "./model";
import { TLS_CONSUMER_DROP_IN } from "./tls-fetch";
import { TLS_LOADED_CA_DROP_IN } from "./tls-refresh";
import { stringifyCloudConfig, topLevel, unitEntry } from "./render-common";
import { cloudinitEnvironmentProblem, refuseValue, SECTION_CONFIG_KEYS } from "./value-safety";

/**
 * coreos-cloudinit writes each `coreos.etcd2` / `fleet` / `locksmith` value into a drop-in as
 * `Environment="K=V"` without escaping anything, so a value it cannot carry is refused here,
 * naming the config key it comes from.
 */
function section<T extends object>(name: string, values: T): T {
    for (const [key, value] of Object.entries(values)) {
        if (typeof value !== "string") continue;
        const problem = cloudinitEnvironmentProblem(value);
        if (problem) refuseValue(SECTION_CONFIG_KEYS[`${name}.${key}`], `coreos.${name}.${key}`, problem);
    }
    return { ...values };
}

export function containerLinuxDocument(model: MachineModel): Record<string, unknown> {
    // A worker has no etcd2 (its gateway is a unit of model.units): only members configure etcd2.service.
    const coreos: Record<string, unknown> = {
        ...(model.etcd ? { etcd2: section("etcd2", model.etcd) } : {}),
        fleet: section("fleet", model.fleet),
        locksmith: section("locksmith", model.locksmith),
        update: { ...model.update },
        units: [
            ...model.units.map(unitEntry),
            ...(model.etcd ? [unitEntry({ name: "etcd2.service", command: "start", drop_ins: [TLS_CONSUMER_DROP_IN, TLS_LOADED_CA_DROP_IN] })] : []),
            unitEntry({ name: "fleet.socket", drop_ins: [FLEET_SOCKET_DROP_IN] }),
            unitEntry({ name: "fleet.service", command: "start", drop_ins: model.fleetDropIns }),
        ],
    };
    return topLevel(model, model.writeFiles, coreos);
}

export function renderContainerLinux(model: MachineModel): string {
    return stringifyCloudConfig(containerLinuxDocument(model));
}
