// `write_files` of a cloud-config, mapped under a local machine's own root folder. Pure:
// decodes content (base64 / gzip as coreos-cloudinit does) and returns plain data.
import type { BootProblem } from "./boot-error";

export interface PlannedFile {
    /** The path the cloud-config names (the path on a real host). */
    hostPath: string;
    /** Where the file lands locally: `<machine root><hostPath>`. */
    localPath: string;
    /** File bytes, base64 (plain data, so a plan can be stored and compared). */
    contentBase64: string;
    /** Unix mode, e.g. 0o644. */
    mode: number;
    /** `user:group` as written; not applied locally (the users do not exist here). */
    owner?: string;
}

const PERMISSIONS = /^0?[0-7]{3,4}$/;
const ENCODINGS = ["base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"];

/** Maps an absolute host path under root, so `..` can never climb out of the machine's folder. */
export function underRoot(root: string, hostPath: string): string {
    const path: typeof import("path") = require("path");
    return path.posix.join(root, path.posix.normalize("/" + hostPath));
}

function decode(content: string, encoding: string | undefined): Buffer {
    const zlib: typeof import("zlib") = require("zlib");
    switch (encoding) {
        case undefined:
        case "":
            return Buffer.from(content, "utf8");
        case "base64":
        case "b64":
            return Buffer.from(content, "base64");
        case "gz":
        case "gzip":
            return zlib.gunzipSync(Buffer.from(content, "binary"));
        default:
            return zlib.gunzipSync(Buffer.from(content, "base64"));
    }
}

/** Parses `permissions` as coreos-cloudinit does: an octal string; YAML 1.2 reads an unquoted 0644 as 644, same digits. */
function parseMode(value: unknown): number | undefined {
    if (value === undefined || value === null || value === "") return 0o644;
    const text = String(value);
    return PERMISSIONS.test(text) ? parseInt(text, 8) : undefined;
}

export function planWriteFiles(
    entries: unknown,
    root: string,
): { files: PlannedFile[]; problems: BootProblem[]; ignored: string[] } {
    const files: PlannedFile[] = [];
    const problems: BootProblem[] = [];
    const ignored: string[] = [];
    if (entries === undefined || entries === null) return { files, problems, ignored };
    if (!Array.isArray(entries)) {
        problems.push({ key: "write_files", message: "must be a list of files" });
        return { files, problems, ignored };
    }
    entries.forEach((entry, i) => {
        const key = `write_files[${i}]`;
        if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
            problems.push({ key, message: "must be a mapping with path and content" });
            return;
        }
        const file = entry as Record<string, unknown>;
        for (const k of Object.keys(file)) {
            if (!["path", "content", "owner", "permissions", "encoding"].includes(k)) {
                ignored.push(`${key}.${k} (not a write_files key; coreos-cloudinit ignores it)`);
            }
        }
        if (typeof file.path !== "string" || file.path === "") {
            problems.push({ key: `${key}.path`, message: "is required" });
            return;
        }
        if (file.path === "/usr" || file.path.startsWith("/usr/")) {
            problems.push({ key: `${key}.path`, message: `${file.path} is under /usr, which is read-only on CoreOS` });
            return;
        }
        const mode = parseMode(file.permissions);
        if (mode === undefined) {
            problems.push({ key: `${key}.permissions`, message: `'${String(file.permissions)}' is not an octal mode like 0644` });
            return;
        }
        const encoding = file.encoding === undefined ? undefined : String(file.encoding);
        if (encoding !== undefined && !ENCODINGS.includes(encoding)) {
            problems.push({ key: `${key}.encoding`, message: `'${encoding}' is not one of ${ENCODINGS.join(", ")}` });
            return;
        }
        let bytes: Buffer;
        try {
            bytes = decode(file.content === undefined || file.content === null ? "" : String(file.content), encoding);
        } catch (err) {
            problems.push({ key: `${key}.content`, message: `cannot be decoded as ${encoding}: ${(err as Error).message}` });
            return;
        }
        const owner = file.owner === undefined ? undefined : String(file.owner);
        if (owner !== undefined) ignored.push(`${key}.owner ${owner} (file ownership is not applied locally)`);
        files.push({ hostPath: file.path, localPath: underRoot(root, file.path), contentBase64: bytes.toString("base64"), mode, owner });
    });
    return { files, problems, ignored };
}
