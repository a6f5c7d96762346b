// The text rule (model/text-rules.ts) applied to every string of the raw stack config, keys
// included, before any other rule reads it: a value with a line break or control character, or
// an object key that reaches a prototype, gets one problem naming it and no other check sees it.
// New keys are covered without anyone remembering to: the walk is generic.

import { Problems, isEncryptedValue, isPlainObject } from "./config-reader";
import { UNSAFE_OBJECT_KEYS, textProblem } from "./text-rules";

/** Values that are documents of their own: unit files and a private key may span lines. */
const DOCUMENT_PATHS = [/^fleetUnits\[\d+\]\.content$/, /^fleetServices\[\d+\]\.content$/, /^sshTunnel\.privateKey$/];
/** Secrets are not shown and not judged as text here (their own rules read them). */
const SECRET_KEYS = ["etcdPassword"];

/**
 * coreos-cloudinit replaces these words in the WHOLE user-data text before it reads the YAML, so a
 * value holding one would reach the machine as another text than the one rendered and checked.
 */
const CLOUDINIT_SUBSTITUTION = /\$(?:private|public)_ipv[46]/;

function substitutionProblem(value: string): string | undefined {
    const m = CLOUDINIT_SUBSTITUTION.exec(value);
    return m ? `contains ${m[0]}, which coreos-cloudinit replaces in the whole user-data before reading it; the value must not hold it` : undefined;
}

export function checkConfigText(raw: Record<string, unknown>, problems: Problems): void {
    for (const key of Object.keys(raw)) {
        if (SECRET_KEYS.includes(key)) continue;
        walk(raw[key], key, problems);
    }
}

function walk(value: unknown, path: string, problems: Problems): void {
    if (typeof value === "string") {
        const problem = textProblem(value, DOCUMENT_PATHS.some((p) => p.test(path)) ? "document" : "line") ?? substitutionProblem(value);
        if (problem) problems.refuse(path, problem);
    } else if (Array.isArray(value)) {
        value.forEach((item, i) => walk(item, `${path}[${i}]`, problems));
    } else if (isPlainObject(value) && !isEncryptedValue(value)) {
        for (const key of Object.keys(value)) {
            const shownKey = JSON.stringify(key);
            const keyProblem = textProblem(key);
            if (keyProblem) problems.refuse(path, `the field name ${shownKey} ${keyProblem.replace(/^contains/, "contains")}`);
            else if (UNSAFE_OBJECT_KEYS.includes(key)) problems.refuse(`${path}.${key}`, `${shownKey} is not allowed as a name: it reaches the object's prototype, not a value`);
            else walk(value[key], `${path}.${key}`, problems);
        }
    }
}
