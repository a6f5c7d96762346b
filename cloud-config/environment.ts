// The ETCD_* / FLEET_* / LOCKSMITHD_* variables a model stands for, and the systemd
// `Environment=` drop-ins that carry them on Flatcar. coreos-cloudinit turns a
// `coreos.etcd2` section into exactly these variables on Container Linux, which is
// why both flavors can be rendered from one model and compared variable by variable.

import { EtcdSettings, FleetSettings, LocksmithSettings } from "./model";
import { refuseValue, singleLineProblem, VARIABLE_CONFIG_KEYS } from "./value-safety";

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
        ["LOCKSMITHD_ETCD_CAFILE", locksmith.etcd_cafile],
        ["LOCKSMITHD_ETCD_CERTFILE", locksmith.etcd_certfile],
        ["LOCKSMITHD_ETCD_KEYFILE", locksmith.etcd_keyfile],
        ["LOCKSMITHD_GROUP", locksmith.group],
    ];
    if (locksmith.window_start) entries.push(["REBOOT_WINDOW_START", locksmith.window_start]);
    if (locksmith.window_length) entries.push(["REBOOT_WINDOW_LENGTH", locksmith.window_length]);
    return entries;
}

/**
 * Quote a value for `Environment="K=V"` (systemd.syntax(7), systemd.exec(5)): systemd splits the
 * line into words honouring double quotes and C escapes, then expands `%` specifiers; `$` means
 * nothing in `Environment=`. So backslash and double quote are escaped, `%` doubled, and whatever cannot stay
 * on one line (line breaks, other control characters, U+2028/U+2029, lone surrogates) is
 * refused naming the config key behind the variable: systemd would end the line there or drop
 * the assignment as invalid.
 */
export function quoteSystemdValue(name: string, value: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`"${name}" is not an environment variable name`);
    const problem = singleLineProblem(value);
    if (problem) refuseValue(VARIABLE_CONFIG_KEYS[name], `environment variable ${name}`, problem);
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
