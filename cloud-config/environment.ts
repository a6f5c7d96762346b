// The ETCD_* / FLEET_* / LOCKSMITHD_* variables a model stands for, and the systemd
// `Environment=` drop-ins that carry them on Flatcar. coreos-cloudinit turns a
// `coreos.etcd2` section into exactly these variables on Container Linux, which is
// why both flavors can be rendered from one model and compared variable by variable.

import { EtcdSettings, FleetSettings, LocksmithSettings } from "./model";

export type EnvironmentEntries = Array<[string, string]>;

/** `{ listen_client_urls: "x" }` -> `[["ETCD_LISTEN_CLIENT_URLS", "x"]]`, skipping empty values like cloudinit does. */
export function sectionEnvironment(prefix: string, section: object): EnvironmentEntries {
    const entries: EnvironmentEntries = [];
    for (const [key, value] of Object.entries(section)) {
        if (value === undefined || value === null || value === "") continue;
        entries.push([`${prefix}_${key.toUpperCase()}`, String(value)]);
    }
    return entries;
}

export function etcdEnvironment(etcd: EtcdSettings): EnvironmentEntries {
    return sectionEnvironment("ETCD", etcd);
}

export function fleetEnvironment(fleet: FleetSettings): EnvironmentEntries {
    return sectionEnvironment("FLEET", fleet);
}

/** locksmithd reads its window from REBOOT_WINDOW_*, not LOCKSMITHD_WINDOW_*. */
export function locksmithEnvironment(locksmith: LocksmithSettings): EnvironmentEntries {
    const entries: EnvironmentEntries = [
        ["LOCKSMITHD_ENDPOINT", locksmith.endpoint],
        ["LOCKSMITHD_GROUP", locksmith.group],
    ];
    if (locksmith.window_start) entries.push(["REBOOT_WINDOW_START", locksmith.window_start]);
    if (locksmith.window_length) entries.push(["REBOOT_WINDOW_LENGTH", locksmith.window_length]);
    return entries;
}

/** Quote a value for `Environment="K=V"`: systemd unescapes C-style and expands `%` specifiers. */
function quoteSystemdValue(name: string, value: string): string {
    if (/[\n\r]/.test(value)) throw new Error(`environment variable ${name} must not contain a line break`);
    return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%");
}

export function environmentDropIn(entries: EnvironmentEntries): string {
    const lines = entries.map(([name, value]) => `Environment="${name}=${quoteSystemdValue(name, value)}"`);
    return ["[Service]", ...lines, ""].join("\n");
}

/** Reads back the `Environment="K=V"` lines of a drop-in (the inverse of environmentDropIn). */
export function parseEnvironmentDropIn(content: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of content.split("\n")) {
        const match = /^Environment="([A-Z0-9_]+)=((?:[^"\\]|\\.)*)"\s*$/.exec(line.trim());
        if (!match) continue;
        env[match[1]] = match[2].replace(/\\(.)/g, "$1").replace(/%%/g, "%");
    }
    return env;
}
