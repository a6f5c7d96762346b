// Reads `Environment=` assignments out of systemd unit / drop-in text, the way systemd does
// for the lines that matter here: sections, comments, line continuations, quoted words,
// backslash escapes and the `%%` / `%H` specifiers. Pure.

export interface UnitEnvironment {
    /** Variables in the order systemd would apply them (later assignments win). */
    assignments: Array<{ name: string; value: string }>;
    /** Lines of the [Service] section that are not `Environment=` (e.g. ExecStart=), as written. */
    otherServiceLines: string[];
}

/** Joins backslash-continued lines and drops comments and blank lines. */
function logicalLines(text: string): string[] {
    const out: string[] = [];
    let pending = "";
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trimEnd();
        if (pending === "" && /^\s*[#;]/.test(line)) continue;
        if (line.endsWith("\\")) {
            pending += line.slice(0, -1) + " ";
            continue;
        }
        const full = (pending + line).trim();
        pending = "";
        if (full !== "") out.push(full);
    }
    if (pending.trim() !== "") out.push(pending.trim());
    return out;
}

const C_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", " ": " " };

/** Splits an `Environment=` value into words, honouring quotes and C escapes (systemd's extract_first_word). */
export function splitEnvironmentWords(value: string): string[] {
    const words: string[] = [];
    let current = "";
    let inWord = false;
    let quote: '"' | "'" | undefined;
    for (let i = 0; i < value.length; i++) {
        const ch = value[i];
        if (ch === "\\" && quote !== "'" && i + 1 < value.length) {
            const next = value[++i];
            current += C_ESCAPES[next] ?? next;
            inWord = true;
        } else if (quote) {
            if (ch === quote) quote = undefined;
            else current += ch;
        } else if (ch === '"' || ch === "'") {
            quote = ch;
            inWord = true;
        } else if (/\s/.test(ch)) {
            if (inWord) words.push(current);
            current = "";
            inWord = false;
        } else {
            current += ch;
            inWord = true;
        }
    }
    if (quote) throw new Error(`unterminated ${quote} quote in Environment=${value}`);
    if (inWord) words.push(current);
    return words;
}

function expandSpecifiers(value: string, hostname: string): string {
    return value.replace(/%([%H])/g, (_m, spec: string) => (spec === "%" ? "%" : hostname));
}

/** The `Environment=` assignments of a unit file or drop-in's [Service] section. */
export function serviceEnvironment(unitText: string, hostname: string): UnitEnvironment {
    const result: UnitEnvironment = { assignments: [], otherServiceLines: [] };
    let section = "";
    for (const line of logicalLines(unitText)) {
        const header = /^\[([^\]]+)\]$/.exec(line);
        if (header) {
            section = header[1];
            continue;
        }
        if (section !== "Service") continue;
        const eq = line.indexOf("=");
        const key = eq < 0 ? line : line.slice(0, eq).trim();
        if (key !== "Environment") {
            result.otherServiceLines.push(line);
            continue;
        }
        for (const word of splitEnvironmentWords(line.slice(eq + 1))) {
            const at = word.indexOf("=");
            if (at <= 0) {
                result.otherServiceLines.push(`Environment=${word} (not NAME=value)`);
                continue;
            }
            result.assignments.push({ name: word.slice(0, at), value: expandSpecifiers(word.slice(at + 1), hostname) });
        }
    }
    return result;
}
