// Reads rendered user-data back: the ETCD_* / FLEET_* environment a machine would
// get, whichever flavor produced it. Used by tests (both flavors must agree) and by
// anything that "boots" a config by exporting those variables to a real etcd.

import YAML from "yaml";
import { parseEnvironmentDropIn, sectionEnvironment } from "./environment";

export interface AddressValues {
    privateIpv4: string;
    /** Empty when the machine has no external IP, as on GCE. */
    publicIpv4?: string;
}

/** What coreos-cloudinit does before parsing: replace $private_ipv4 / $public_ipv4, honouring `\$` escapes. */
export function substituteAddresses(text: string, values: AddressValues): string {
    return text.replace(/(\\?)\$(private_ipv4|public_ipv4)/g, (whole, escape: string, name: string) => {
        if (escape) return whole.slice(1);
        return name === "private_ipv4" ? values.privateIpv4 : values.publicIpv4 ?? "";
    });
}

interface UnitLike {
    name?: string;
    drop_ins?: Array<{ name?: string; content?: string }>;
}

function parseCoreos(userData: string): Record<string, unknown> {
    const doc = YAML.parse(userData) as Record<string, unknown> | null;
    return ((doc?.coreos as Record<string, unknown>) ?? {}) as Record<string, unknown>;
}

function sectionVariables(prefix: string, section: unknown): Record<string, string> {
    return Object.fromEntries(sectionEnvironment(prefix, (section as object) ?? {}));
}

function dropInEnvironment(coreos: Record<string, unknown>, unitName: string): Record<string, string> {
    const units = (coreos.units as UnitLike[] | undefined) ?? [];
    const env: Record<string, string> = {};
    for (const unit of units.filter((u) => u.name === unitName)) {
        for (const dropIn of unit.drop_ins ?? []) Object.assign(env, parseEnvironmentDropIn(dropIn.content ?? ""));
    }
    return env;
}

/** The etcd environment: from `coreos.etcd2` (Container Linux) or etcd-member.service drop-ins (Flatcar). */
export function etcdEnvironmentOf(userData: string): Record<string, string> {
    const coreos = parseCoreos(userData);
    if (coreos.etcd2) return sectionVariables("ETCD", coreos.etcd2);
    return dropInEnvironment(coreos, "etcd-member.service");
}

/** The fleet environment: from `coreos.fleet` (Container Linux) or fleet.service drop-ins (Flatcar). */
export function fleetEnvironmentOf(userData: string): Record<string, string> {
    const coreos = parseCoreos(userData);
    if (coreos.fleet) return sectionVariables("FLEET", coreos.fleet);
    return dropInEnvironment(coreos, "fleet.service");
}
