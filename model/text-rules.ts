// The rules every config string obeys before it can reach rendered text (user-data YAML, unit
// files, shell, HAProxy config): one line of printable characters unless the key is a document
// of its own, and URLs of one strict grammar. Closing the class here means a new key is safe by
// default: the config reader applies textProblem to every string leaf of the raw config.
// No imports: pure, bundled by the providers.

/**
 * Every character that some reader treats as a line break or a control: C0 (tab aside, in
 * documents), DEL, C1 (NEL U+0085 among them: YAML 1.1 breaks lines there), the Unicode line and
 * paragraph separators (U+2028, U+2029), and the byte-order mark and bidi controls that make
 * text read differently from what it is.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]/;
const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\u202a-\u202e\u2066-\u2069]/;

/** A readable name for the first offending character, e.g. `U+2028 (line separator)`. */
function describeChar(ch: string): string {
    const code = ch.codePointAt(0)!;
    const names: Record<number, string> = {
        0x09: "a tab",
        0x0a: "a line feed (LF)",
        0x0d: "a carriage return (CR)",
        0x85: "a next-line character (NEL, U+0085)",
        0x2028: "a line separator (U+2028)",
        0x2029: "a paragraph separator (U+2029)",
        0xfeff: "a byte-order mark (U+FEFF)",
    };
    return names[code] ?? `the control character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why a config string may not be used as it is, or undefined. `document` keys (a unit file, a
 * private key) may span lines (LF, and CRLF read as LF) and hold tabs; everything else is one line.
 */
export function textProblem(value: string, kind: "line" | "document" = "line"): string | undefined {
    const pattern = kind === "document" ? CONTROL : CONTROL_OR_BREAK;
    const text = kind === "document" ? value.replace(/\r\n/g, "\n") : value;
    const m = pattern.exec(text);
    if (m) {
        const what = kind === "document" ? "may hold line feeds and tabs but no other control or line-separator character" : "must be one line of printable text";
        return `contains ${describeChar(m[0])} at position ${m.index}; the value ${what} (such a character changes what YAML, systemd or a shell reads)`;
    }
    return undefined;
}

/** Object keys that are not safe as map entries anywhere (they reach prototypes, not data). */
export const UNSAFE_OBJECT_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

export interface UrlRule {
    /** Schemes the key admits; `https` unless the key says otherwise. */
    schemes: readonly string[];
    /** Whether a path after the authority is allowed (default true). */
    path?: boolean;
    /** The path is a credential (a discovery token): messages show it as `/<hidden>`. */
    secretPath?: boolean;
}

/**
 * A value as a message may show it: quoted, shortened, and with anything that reads as a credential
 * hidden (everything up to the last "@": `user:password@host`, `unix://user:pw@/path`).
 */
export function shownValue(text: string, max = 80): string {
    const hidden = text.includes("@") ? text.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?).*@/i, "$1<hidden>@") : text;
    return JSON.stringify(hidden.length > max ? `${hidden.slice(0, max)}...` : hidden);
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/**
 * RFC 3986 unreserved characters in path segments, plus "+", "=" and "@" (release paths); no quote,
 * space, "$", "`", ";", "&", "|", "\\", "<", ">", "(", ")", and no "%": coreos-cloudinit pastes some
 * URLs into a unit's Environment= unescaped, where systemd reads "%x" as a specifier.
 */
const PATH = /^(?:\/[A-Za-z0-9._~+=@-]*)*$/;

/**
 * Why `text` is not a URL of the strict grammar `scheme://host[:port][/path]`, or undefined.
 * No credentials (user@), no query, no fragment, no quote or shell character anywhere: a URL is
 * data that may land in a unit file's environment or a curl argument.
 */
export function urlProblem(text: string, rule: UrlRule): string | undefined {
    const example = `${rule.schemes[0]}://host.example.com${rule.path === false ? ":2379" : "/path"}`;
    const line = textProblem(text);
    if (line) return line;
    // Credentials in a URL are a secret: no message shows them (the whole authority is hidden, as a password may hold "@").
    const shown = rule.secretPath ? shownValue(text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)[/?#].*$/i, "$1/<hidden>")) : shownValue(text, 200);
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/.exec(text);
    if (!m) return `${shown} is not a URL like ${example}`;
    const [, scheme, authority, path, rest] = m;
    if (!rule.schemes.includes(scheme)) return `${shown} must use ${rule.schemes.map((s) => `${s}://`).join(" or ")}, not ${scheme}://`;
    if (authority.includes("@")) return `${shown} carries credentials (user@host): give them in their own secret key, never in a URL`;
    const hostPort = /^([^:]+)(?::([1-9]\d{0,4}))?$/.exec(authority);
    if (!hostPort || (hostPort[2] !== undefined && Number(hostPort[2]) > 65535)) return `${shown} must have a host and an optional port 1-65535, like ${example}`;
    if (!DNS_NAME.test(hostPort[1]) && !IPV4.test(hostPort[1])) return `${shown}: host "${hostPort[1]}" must be a lowercase DNS name or an IPv4 address`;
    if (rest !== "") return `${shown} must not have a query or fragment ("?" or "#")`;
    if (path !== "" && rule.path === false) return `${shown} must be just ${scheme}://host:port, with no path`;
    if (!PATH.test(path)) return `${shown}: its path may hold only letters, digits and "/", ".", "_", "~", "-", "+", "=", "@" (no escapes)`;
    return undefined;
}

/** Strict absolute file path (for unix sockets and data folders): no quote, space or shell character. */
export const SAFE_PATH = /^\/?(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+\/?$/;

/** A registry host as Docker reads one: a lowercase DNS name with a dot (or `localhost`), an optional port. */
const REGISTRY_HOST = /^(?=[^:]{1,253}(?::|$))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+(?::[1-9]\d{0,4})?$/;
/** A repository path component of Docker's reference grammar: lowercase alphanumerics joined by `.`, `_`, `__` or `-`. */
const REPOSITORY_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * Why `text` is not an image repository prefix `host[:port][/path...]` (what an image's name is
 * appended to: `<prefix>/library/haproxy`), or undefined. No scheme, no credentials, no tag or
 * digest, nothing a unit file or a shell reads differently: the prefix lands in ExecStart lines.
 */
export function registryPrefixProblem(text: string): string | undefined {
    const line = textProblem(text);
    if (line) return line;
    const example = "europe-west1-docker.pkg.dev/my-project/dockerhub";
    const shown = shownValue(text, 200);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `${shown} must be a registry host and path without a scheme, like ${example}`;
    if (text.includes("@")) return `${shown} must not carry credentials or a digest ("@")`;
    const [host, ...path] = text.split("/");
    const port = /:(\d+)$/.exec(host);
    if (!REGISTRY_HOST.test(host) || (port && Number(port[1]) > 65535)) return `${shown}: "${host}" must be a lowercase registry host name with a dot and an optional port 1-65535, like ${example}`;
    const bad = path.find((c) => !REPOSITORY_COMPONENT.test(c));
    if (bad !== undefined) return `${shown}: the path component ${JSON.stringify(bad)} must be lowercase letters and digits joined by ".", "_" or "-" (no tag, no trailing "/")`;
    if (text.length > 200) return `${shown} is longer than 200 characters`;
    return undefined;
}
