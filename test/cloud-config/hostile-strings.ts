// Hostile text for the property tests: what could change the meaning of a rendered line in
// YAML (1.1 or 1.2), a systemd unit, a shell script or an HAProxy config, mixed with pieces
// of a valid value so that format checks anchored at either end still see what they expect.
// Also a YAML 1.1 reader for the tests: libyaml through Debian's python3-yaml (scripts/install-system-deps.sh installs it).

import { spawnSync } from "child_process";
import fc from "fast-check";

const EVIL_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEvilEvilEvilEvilEvilEvilEvilEvilEvilEvil evil@attacker";

/** Single pieces, each dangerous somewhere. */
export const HOSTILE_FRAGMENTS: readonly string[] = [
    // Line breaks of every kind: YAML 1.1 breaks lines at NEL, U+2028 and U+2029 too.
    "\n", "\r", "\r\n", "\u0085", "\u2028", "\u2029", "\u000b", "\u000c",
    `\n- ${EVIL_KEY}`, `\u2028  - ${EVIL_KEY}`, `\u0085- ${EVIL_KEY}`, `\u2029    - ${EVIL_KEY}`,
    "\nExecStartPre=/bin/sh -c 'touch /tmp/pwned'", "\u2028ExecStartPre=/bin/sh -c id", "\n[Service]\nExecStart=/bin/evil",
    "\\\nExecStart=/bin/evil", "\"\nEnvironment=\"LD_PRELOAD=/tmp/x.so", "\n    bind *:22", "\n  server evil 6.6.6.6:22",
    // Shell.
    "'", '"', "`", "$(touch /tmp/pwned)", "`touch /tmp/pwned`", "${IFS}", "$HOME", ";", "&&", "||", "|", "&", ">", "<", "'$(reboot)'", "\"; reboot; \"",
    // systemd: specifiers, escapes, quotes, comments.
    "%", "%H", "%%", "%n", "%2F", "%41", "\\", "\\\\", "\\x41", "\\u2028", "\\n", "#", ";comment", "\" \"", "' '",
    // YAML indicators and document markers.
    ": ", "- ", " #", "{", "}", "[", "]", "&a", "*a", "!!str ", "!!binary ", "|", ">", "---", "...", "%YAML 1.1", "<<", "=", "? ", ",",
    // Scalars YAML 1.1 and 1.2 resolve differently.
    "yes", "No", "on", "OFF", "y", "n", "~", "null", "0777", "0o17", "0x1F", "0b101", "1_000", "1:20", "190:20:30", ".inf", "-.NaN", "1e3", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    // cloudinit substitutes these in the whole text.
    "$private_ipv4", "$public_ipv4", "\\$private_ipv4",
    // Controls, odd Unicode, invalid UTF-16.
    "\t", "\u0000", "\u0007", "\u001b[31m", "\u007f", "\u0080", "\u009f", "\u00a0", "\u200b", "\u200e", "\u202e", "\u2066", "\ufeff", "\ufffe", "\uffff", "\ud800", "\udfff", "é", "日本", "\u{1f600}", "İ",
];

/** A string of hostile pieces, sometimes long. */
export const hostileTail: fc.Arbitrary<string> = fc
    .tuple(
        fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...HOSTILE_FRAGMENTS) }, { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) }), { minLength: 1, maxLength: 4 }),
        fc.oneof({ weight: 12, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 50, max: 400 }) }),
    )
    .map(([pieces, repeat]) => pieces.join("").repeat(repeat));

/**
 * A hostile variant of `valid`: its start, hostile pieces, and maybe its rest (so `^https://`
 * and `\.tar\.gz$` checks still pass), or hostile pieces alone.
 */
export function hostileVariant(valid: string): fc.Arbitrary<string> {
    return fc.oneof(
        { weight: 4, arbitrary: fc.tuple(fc.nat({ max: valid.length }), hostileTail, fc.boolean()).map(([cut, tail, keepRest]) => valid.slice(0, cut) + tail + (keepRest ? valid.slice(cut) : "")) },
        { weight: 2, arbitrary: hostileTail.map((tail) => valid + tail) },
        { weight: 1, arbitrary: hostileTail },
    ).filter((s) => s !== valid && s !== ""); // "" is "unset" to the validator, not hostile
}

/**
 * The fixed corpus tried on every field before the random runs: each fragment after the valid
 * value, inside it (before its last 7 characters, which keeps `.tar.gz`-style tails) and alone.
 */
export function hostileCorpus(valid: string): string[] {
    const cut = Math.max(0, valid.length - 7);
    const out = new Set<string>();
    for (const piece of HOSTILE_FRAGMENTS) {
        out.add(valid + piece);
        out.add(valid.slice(0, cut) + piece + valid.slice(cut));
        out.add(piece);
    }
    out.delete(valid);
    out.delete("");
    return [...out];
}

export type LibyamlRead = { value: unknown } | { error: string };

const PYTHON_READER = `
import json, sys
try:
    import yaml
except ImportError:
    print("NO-PYYAML")
    sys.exit(0)
loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
out = []
for text in json.load(sys.stdin):
    try:
        out.append({"value": yaml.load(text, Loader=loader)})
    except Exception as e:
        out.append({"error": (str(e).splitlines() or ["?"])[0]})
print(json.dumps({"loader": loader.__name__, "reads": out}, default=str))
`;

/**
 * What libyaml reads from each text, through python3's PyYAML (CSafeLoader: libyaml itself,
 * which go-yaml, coreos-cloudinit's reader, is a port of; YAML 1.1, with NEL, U+2028 and U+2029
 * as line breaks). Undefined when python3 or PyYAML is missing on this machine.
 */
export function libyamlRead(texts: string[]): { loader: string; reads: LibyamlRead[] } | undefined {
    const run = spawnSync("/usr/bin/python3", ["-c", PYTHON_READER], { input: JSON.stringify(texts), encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (run.error || run.status !== 0 || run.stdout.startsWith("NO-PYYAML")) return undefined;
    return JSON.parse(run.stdout) as { loader: string; reads: LibyamlRead[] };
}
