// Raw stack config in, short keys out: from a Pulumi.<stack>.yaml file (no engine needed,
// e.g. for `npm run render`) or from the running Pulumi program. Both paths hand the
// validator the same shapes, so a stack behaves the same whichever way it is read.

import * as fs from "fs";
import * as path from "path";
import { CONFIG_KEYS, CONFIG_NAMESPACE, configKeySpec } from "./defaults";
import { isEncryptedValue, isPlainObject, markPlaintextSecrets } from "./config-reader";

const PREFIX = `${CONFIG_NAMESPACE}:`;

/**
 * Pulumi hands a program every top-level config value as a string (objects and lists as
 * JSON). Decode by the key's declared type; a value that does not decode stays a string,
 * so the validator reports it against the key instead of it being silently coerced.
 */
export function decodeConfigValue(key: string, text: string): unknown {
    const spec = configKeySpec(key);
    switch (spec?.type) {
        case "string":
            return text;
        case "integer":
            return /^-?(0|[1-9][0-9]*)$/.test(text.trim()) ? Number(text.trim()) : text;
        case "boolean":
            return text === "true" ? true : text === "false" ? false : text;
        case "array":
        case "object":
            try {
                return JSON.parse(text);
            } catch {
                return text;
            }
        default:
            // Unknown key: keep it as Pulumi gave it; the validator reports it by name.
            return text;
    }
}

export class StackFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/**
 * Reads `Pulumi.<stack>.yaml` from `dir` (default: the project root) and returns the
 * `coreos-cluster:` keys without their namespace. Top-level scalars are normalized the way
 * the engine passes them (strings, then decoded by type); encrypted values stay as the
 * `{secure: ...}` objects found in the file, which the validator accepts for secret keys.
 */
export function readStackFile(stack: string, dir: string = path.resolve(__dirname, "..")): Record<string, unknown> {
    if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new StackFileError(`"${stack}" is not a stack name`);
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new StackFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return parseStackFile(text, file);
}

/** The `coreos-cluster:` keys of a stack file's text. */
export function parseStackFile(text: string, file = "stack file"): Record<string, unknown> {
    // Required lazily so that importing this module costs nothing in the Pulumi program.
    const YAML = require("yaml") as typeof import("yaml");
    const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
        throw new StackFileError(`${file} is not valid YAML:\n${doc.errors.map((e) => `  - ${e.message}`).join("\n")}`);
    }
    const content: unknown = doc.toJS() ?? {};
    if (!isPlainObject(content)) throw new StackFileError(`${file} must be a YAML mapping with a config: section`);
    const config = content.config ?? {};
    if (!isPlainObject(config)) throw new StackFileError(`${file}: config must be a mapping of namespace:key to values`);
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(PREFIX)) {
            if (!fullKey.includes(":")) {
                throw new StackFileError(`${file}: config key "${fullKey}" has no namespace; write it as ${PREFIX}${fullKey}`);
            }
            continue; // another namespace, e.g. gcp:project
        }
        const key = fullKey.slice(PREFIX.length);
        raw[key] = isScalar(value) ? decodeConfigValue(key, String(value)) : value;
    }
    const plaintext = SECRET_KEYS.filter((key) => hasSecretValue(raw[key]) && !containsEncrypted(raw[key]));
    return markPlaintextSecrets(raw, plaintext);
}

const SECRET_KEYS = CONFIG_KEYS.filter((k) => k.secret).map((k) => k.key);

function hasSecretValue(value: unknown): boolean {
    if (value === undefined || value === null || value === "") return false;
    return !(isPlainObject(value) && Object.keys(value).length === 0);
}

function containsEncrypted(value: unknown): boolean {
    if (isEncryptedValue(value)) return true;
    if (Array.isArray(value)) return value.some(containsEncrypted);
    return isPlainObject(value) && Object.values(value).some(containsEncrypted);
}

function isScalar(value: unknown): value is string | number | boolean {
    return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** Inside a Pulumi program: this project's config keys (decrypted), decoded by type. */
export function readPulumiConfig(): Record<string, unknown> {
    const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = {};
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(PREFIX)) continue;
        const key = fullKey.slice(PREFIX.length);
        raw[key] = decodeConfigValue(key, text);
    }
    // isConfigSecret is marked internal in the SDK's typings but is what the engine's secret-keys list feeds.
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    const plaintext = SECRET_KEYS.filter((key) => hasSecretValue(raw[key]) && isSecret !== undefined && !isSecret(PREFIX + key));
    return markPlaintextSecrets(raw, plaintext);
}
