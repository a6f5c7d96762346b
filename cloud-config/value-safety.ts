// Where a config value may go in rendered text, and the refusal that names its key when it may
// not. A config value reaches user-data only as a YAML scalar (render-common.ts quotes it for
// YAML 1.1 and 1.2 alike), as a quoted systemd `Environment=` value (environment.ts), or as a
// `coreos.*` section value that coreos-cloudinit pastes into `Environment="K=V"` itself
// (render-container-linux.ts). Never into a shell line: scripts are constant text that read
// their inputs from the unit's environment.

import { ConfigValidationError } from "../model/types";
import { qualifiedKey } from "../model/defaults";

/**
 * Characters no config value may carry into user-data: C0 controls (line feed, carriage return,
 * tab...), DEL, C1 controls (NEL U+0085 among them), the Unicode line and paragraph separators
 * (YAML 1.1 reads NEL, U+2028 and U+2029 as line breaks), the byte order mark and non-characters.
 */
const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

/** Half of a UTF-16 surrogate pair without its other half: no UTF-8 encoding exists for it. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The variables coreos-cloudinit substitutes in the whole text before it parses it. */
const SUBSTITUTED = /\$(?:private|public)_ipv4/;

function describeCharacter(ch: string): string {
    const code = ch.codePointAt(0)!;
    const names: Record<number, string> = { 0x0a: "a line feed", 0x0d: "a carriage return", 0x09: "a tab", 0x85: "NEL (U+0085)", 0x2028: "a line separator (U+2028)", 0x2029: "a paragraph separator (U+2029)", 0xfeff: "a byte order mark (U+FEFF)" };
    return names[code] ?? `the control character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why `value` cannot be a one-line value in user-data, or undefined when it can. */
export function singleLineProblem(value: string): string | undefined {
    if (LONE_SURROGATE.test(value)) return "contains a lone UTF-16 surrogate (not valid Unicode text)";
    const unsafe = UNSAFE_CHARACTER.exec(value);
    if (unsafe) return `contains ${describeCharacter(unsafe[0])} at offset ${unsafe.index}; a value reaches the machine as one line of a file and may not break it`;
    return undefined;
}

/**
 * singleLineProblem, and for a value the stack config gives (not one the product composes, such
 * as `http://$private_ipv4:2379`): no `$private_ipv4` / `$public_ipv4`, which coreos-cloudinit
 * would replace before parsing, so the machine would read another value than the one rendered.
 */
export function configValueProblem(value: string): string | undefined {
    const line = singleLineProblem(value);
    if (line) return line;
    const substituted = SUBSTITUTED.exec(value);
    if (substituted) return `contains ${substituted[0]}, which coreos-cloudinit replaces with an address in the whole user-data before reading it`;
    return undefined;
}

/**
 * What coreos-cloudinit itself writes for `coreos.etcd2` / `fleet` / `locksmith`: `Environment="K=V"`
 * with the value pasted unescaped. A quote, backslash or `%` there would end the value, start an
 * escape or a systemd specifier, so such a value is refused rather than rewritten.
 */
export function cloudinitEnvironmentProblem(value: string): string | undefined {
    const line = singleLineProblem(value);
    if (line) return line;
    const special = /["\\%]/.exec(value);
    if (special) {
        return `contains ${JSON.stringify(special[0])}, which coreos-cloudinit pastes unescaped into an Environment="K=V" line (the container-linux flavor); flatcar quotes it`;
    }
    return undefined;
}

/** Throws naming the config key (`etcdDiscoveryUrl`, `sshAuthorizedKeys[1]`) when one is known. */
export function refuseValue(configKey: string | undefined, what: string, problem: string): never {
    if (configKey) throw new ConfigValidationError([{ key: qualifiedKey(configKey), message: `${what} ${problem}` }]);
    throw new Error(`${what} ${problem}`);
}

/**
 * The config key behind each environment variable the rendering writes (for refusals and for
 * the YAML agreement check's report). Variables whose values the plan derives from other keys
 * name the key they come from.
 */
export const VARIABLE_CONFIG_KEYS: Readonly<Record<string, string>> = {
    ETCD_IMAGE_TAG: "etcdVersion",
    ETCD_NAME: "clusterName",
    ETCD_DISCOVERY: "etcdDiscoveryUrl",
    ETCD_INITIAL_CLUSTER: "clusterName",
    ETCD_INITIAL_CLUSTER_TOKEN: "clusterName",
    FLEET_METADATA: "fleetMetadata",
    FLEET_METADATA_BEFORE_ZONE: "fleetMetadata",
    FLEET_METADATA_AFTER_ZONE: "fleetMetadata",
    FLEET_RELEASE_VERSION: "fleetRelease.version",
    FLEET_RELEASE_URL: "fleetRelease.url",
    FLEET_RELEASE_SHA256: "fleetRelease.sha256",
    LOCKSMITHD_GROUP: "clusterName",
    REBOOT_WINDOW_START: "rebootWindowStart",
    REBOOT_WINDOW_LENGTH: "rebootWindowLength",
    ROUTER_PREFIX: "servicesPrefix",
    ROUTER_HTTP_PORTS: "lbHttpPorts",
    ROUTER_HEALTH_PORT: "healthCheckPort",
    ROUTER_HEALTH_PATH: "healthCheckPath",
};

/** The config key behind a `coreos.<section>.<key>` value of the container-linux flavor. */
export const SECTION_CONFIG_KEYS: Readonly<Record<string, string>> = {
    "etcd2.name": "clusterName",
    "etcd2.discovery": "etcdDiscoveryUrl",
    "etcd2.initial_cluster": "clusterName",
    "etcd2.initial_cluster_token": "clusterName",
    "fleet.metadata": "fleetMetadata",
    "locksmith.group": "clusterName",
    "locksmith.window_start": "rebootWindowStart",
    "locksmith.window_length": "rebootWindowLength",
};
