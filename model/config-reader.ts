// Typed access to a raw config map that records a problem (naming the key) for every
// value of the wrong type instead of throwing, so validation can report everything at once.

import { ConfigProblem } from "./types";
import { CONFIG_KEY_NAMES, configKeySpec, qualifiedKey } from "./defaults";
import { shownValue } from "./text-rules";

/** What `pulumi config set --secret` writes into a stack file: readable only with the stack's passphrase. */
export interface EncryptedValue {
    secure: string;
}

/**
 * Set by the config readers on the raw map they return: secret keys whose value was stored
 * in plaintext (not with `pulumi config set --secret`). A symbol, so it is not a config key.
 */
export const PLAINTEXT_SECRETS = Symbol.for("coreos-cluster.plaintextSecrets");

export function plaintextSecretsOf(raw: Record<string, unknown>): string[] {
    const marked = (raw as Record<symbol, unknown>)[PLAINTEXT_SECRETS];
    return Array.isArray(marked) ? (marked as string[]) : [];
}

export function markPlaintextSecrets(raw: Record<string, unknown>, keys: string[]): Record<string, unknown> {
    // Enumerable, so a spread copy of the raw map keeps the mark (Object.keys and JSON skip symbols).
    if (keys.length > 0) (raw as Record<symbol, unknown>)[PLAINTEXT_SECRETS] = keys;
    return raw;
}

export function isEncryptedValue(value: unknown): value is EncryptedValue {
    return (
        isPlainObject(value) && Object.keys(value).length === 1 && typeof (value as { secure?: unknown }).secure === "string"
    );
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short description of a value for an error message; secret values are never shown. */
export function describeValue(value: unknown, secret = false): string {
    if (value === null) return "null (no value)";
    if (Array.isArray(value)) return "a list";
    if (isEncryptedValue(value)) return "an encrypted value";
    if (isPlainObject(value)) return "an object";
    if (secret) return `a ${typeof value}`;
    if (typeof value === "string") return `the string ${shownValue(value, 57)}`;
    return `${typeof value} ${String(value)}`;
}

export class Problems {
    readonly list: ConfigProblem[] = [];
    /** Values already refused as text (a line break, a control character): their other checks stay quiet. */
    private readonly refused: string[] = [];

    /** `path` is the short key with any item path, e.g. `services[2].hosts[0]`. */
    add(path: string, message: string): void {
        if (this.refused.some((r) => path === r || path.startsWith(`${r}.`) || path.startsWith(`${r}[`))) return;
        this.list.push({ key: qualifiedKey(path), message });
    }

    /** The one problem of a value no other rule should judge (it is not text): later problems of `path` and below are dropped. */
    refuse(path: string, message: string): void {
        this.add(path, message);
        this.refused.push(path);
    }

    get count(): number {
        return this.list.length;
    }
}

/** Levenshtein distance, for "did you mean" hints on misspelt keys. */
export function editDistance(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let previous = Array.from({ length: y.length + 1 }, (_, i) => i);
    for (let i = 1; i <= x.length; i++) {
        const current = [i];
        for (let j = 1; j <= y.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[y.length];
}

export function closestName(name: string, candidates: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const distance = editDistance(name, candidate);
        if (distance < bestDistance) {
            best = candidate;
            bestDistance = distance;
        }
    }
    return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

export function unknownNameMessage(kind: string, name: string, known: readonly string[]): string {
    const hint = closestName(name, known);
    return hint
        ? `unknown ${kind} "${name}"; did you mean "${hint}"?`
        : `unknown ${kind} "${name}"; known: ${known.join(", ")}`;
}

/**
 * Reads top-level keys: an absent key gives the schema default; a present key of the
 * wrong type gives `undefined` (and a problem), so cross-checks can skip it.
 */
export class ConfigReader {
    constructor(
        private readonly raw: Record<string, unknown>,
        readonly problems: Problems,
    ) {}

    has(key: string): boolean {
        return this.raw[key] !== undefined;
    }

    private value(key: string): unknown {
        const spec = configKeySpec(key);
        if (!spec) throw new Error(`internal: ${key} is not a declared config key`);
        if (this.raw[key] === undefined) return spec.defaultValue;
        const value = this.raw[key];
        if (value === null) {
            this.problems.add(key, "is present but has no value; remove the line or give it a value");
            return undefined;
        }
        if (isEncryptedValue(value) && !spec.secret) {
            this.problems.add(
                key,
                "is encrypted, which only etcdPassword and sshTunnel are expected to be; set it as a plain value",
            );
            return undefined;
        }
        return value;
    }

    private wrongType(key: string, expected: string, value: unknown): undefined {
        this.problems.add(key, `must be ${expected}, got ${describeValue(value, configKeySpec(key)?.secret)}`);
        return undefined;
    }

    string(key: string): string | undefined {
        const value = this.value(key);
        if (value === undefined || typeof value === "string") return value as string | undefined;
        return this.wrongType(key, "a string", value);
    }

    /** A string that may also be an encrypted stack-file value (secret keys). */
    secretString(key: string): string | EncryptedValue | undefined {
        const value = this.value(key);
        if (value === undefined || typeof value === "string" || isEncryptedValue(value)) return value as string | undefined;
        return this.wrongType(key, "a string", value);
    }

    integer(key: string): number | undefined {
        const value = this.value(key);
        if (value === undefined) return undefined;
        if (typeof value === "number" && Number.isInteger(value)) return value;
        return this.wrongType(key, "an integer", value);
    }

    boolean(key: string): boolean | undefined {
        const value = this.value(key);
        if (value === undefined || typeof value === "boolean") return value as boolean | undefined;
        return this.wrongType(key, "true or false", value);
    }

    /** A list whose wrong-typed items are reported one by one and dropped. */
    list<T>(key: string, itemType: "string" | "integer"): T[] | undefined {
        const value = this.value(key);
        if (value === undefined) return undefined;
        if (!Array.isArray(value)) return this.wrongType(key, `a list of ${itemType}s`, value);
        let ok = true;
        value.forEach((item, i) => {
            const good = itemType === "string" ? typeof item === "string" : typeof item === "number" && Number.isInteger(item);
            if (!good) {
                ok = false;
                this.problems.add(`${key}[${i}]`, `must be ${itemType === "string" ? "a string" : "an integer"}, got ${describeValue(item)}`);
            }
        });
        return ok ? (value as T[]) : undefined;
    }

    /** Items that are not objects are reported and come back as undefined. */
    objectList(key: string): Array<Record<string, unknown> | undefined> | undefined {
        const value = this.value(key);
        if (value === undefined) return undefined;
        if (!Array.isArray(value)) return this.wrongType(key, "a list of objects", value);
        return value.map((item, i) => {
            if (isPlainObject(item)) return item;
            this.problems.add(`${key}[${i}]`, `must be an object, got ${describeValue(item)}`);
            return undefined;
        });
    }

    object(key: string): Record<string, unknown> | undefined {
        const value = this.value(key);
        if (value === undefined || (isPlainObject(value) && !isEncryptedValue(value))) return value as Record<string, unknown> | undefined;
        if (isEncryptedValue(value)) return { [ENCRYPTED_WHOLE]: value };
        return this.wrongType(key, "an object", value);
    }

    /** Raw keys the schema does not know: typos must fail loudly, not be ignored. */
    unknownKeys(): string[] {
        return Object.keys(this.raw).filter((key) => !CONFIG_KEY_NAMES.includes(key));
    }
}

/** Marks an object-typed secret whose whole value is encrypted in a stack file. */
export const ENCRYPTED_WHOLE = "__encrypted__";

/** Checks that an object has only the named fields, reporting the others with a hint. */
export function checkFields(problems: Problems, path: string, value: Record<string, unknown>, known: readonly string[]): void {
    for (const field of Object.keys(value)) {
        if (!known.includes(field)) problems.add(`${path}.${field}`, unknownNameMessage("field", field, known));
    }
}
