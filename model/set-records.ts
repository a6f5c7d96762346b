// Ownership records of a ServiceRegistrationSet: one record per write transaction, naming the set and
// the services that transaction wrote, instead of one owner marker per service. Seeding 1,000
// services then writes 40 records, not 1,000 markers (a sixth more operations; docs/performance.md).
//
//   <OWNER_NAMESPACE><prefix>/@set/<owner, URI-encoded>/<record id>
//
// "@" starts no service name and appears in no prefix (model/service-naming.ts), so no per-service
// marker key of any prefix falls among the records. The value is text, one line per service, so a
// sidekick's shell can find a name with grep (components/fleet/fleet-service-units.ts):
//
//   {"owner":"set:<owner key>"}
//   <service> <since> <key relative to <prefix>/<service>/> ...
//
// <since> is the revision the writer read the service at; its transaction was guarded so nothing of
// the service changed after it. A service may be listed by several records (an update writes new
// ones before the old are tidied): the line with the highest <since> is the set's claim, and it
// beats a per-service marker whose mod revision is not above <since> (a marker written later is a
// takeover). Rewriting a record keeps each line's <since>, so tidying never reorders claims.
// Pure: imports only Pulumi-free modules (the providers bundle it).
import { OWNER_NAMESPACE, SERVICE_NAME } from "./service-naming";

export const SET_RECORD_SEGMENT = "@set";

export interface SetRecord {
    key: string;
    /** The set's owner, e.g. `set:<organization>/<project>/<stack>/<resource>`. */
    owner: string;
    /** Service name to its line: the revision it was claimed at and the keys written, relative to `<prefix>/<service>/`. */
    services: Map<string, RecordLine>;
    modRevision: string;
}

export interface RecordLine {
    since: string;
    keys: string[];
}

/** A service's claim by a set record: who, which keys (absolute), and where it is recorded. */
export interface SetClaim {
    owner: string;
    keys: string[];
    recordKey: string;
    since: string;
}

/** Where every set's records under `prefix` live (a range read of it finds them all). */
export function setRecordsPrefix(prefix: string): string {
    return `${OWNER_NAMESPACE}${prefix}/${SET_RECORD_SEGMENT}/`;
}

/** Where one set's records live. */
export function ownSetRecordsPrefix(prefix: string, owner: string): string {
    return `${setRecordsPrefix(prefix)}${encodeURIComponent(owner)}/`;
}

export function setRecordKey(prefix: string, owner: string, id: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`set record id "${id}": A-Z a-z 0-9 . _ - only`);
    return `${ownSetRecordsPrefix(prefix, owner)}${id}`;
}

const RELATIVE_KEY = /^[A-Za-z0-9_/.-]+$/;

const REVISION = /^(0|[1-9][0-9]{0,18})$/;

const body = (rule: RegExp) => rule.source.slice(1, -1);
/** A whole service line, composed from the three rules above: one test per line, the rules alone say which part is wrong. */
const LINE = new RegExp(`^${body(SERVICE_NAME)} ${body(REVISION)}(?: ${body(RELATIVE_KEY)})*$`);

const holdsSpace = (part: string) => part.includes(" ");

/** The record's text; `services` maps names to lines, as `SetRecord.services`. */
export function encodeSetRecord(owner: string, services: Iterable<[string, RecordLine]>): string {
    let text = JSON.stringify({ owner });
    for (const [service, line] of services) {
        const encoded = line.keys.length === 0 ? `${service} ${line.since}` : `${service} ${line.since} ${line.keys.join(" ")}`;
        // The grammar matches the joined text, and no part holds the separator: "web", "5 scheme" would
        // match too, and read back as a different revision and key.
        if (LINE.test(encoded) && !holdsSpace(service) && !holdsSpace(line.since) && !line.keys.some(holdsSpace)) {
            text += `\n${encoded}`;
            continue;
        }
        if (!SERVICE_NAME.test(service)) throw new Error(`set record of ${owner}: "${service}" is not a service name`);
        if (!REVISION.test(line.since)) throw new Error(`set record of ${owner}: "${line.since}" of ${service} is not a revision`);
        const bad = line.keys.find((k) => !RELATIVE_KEY.test(k));
        throw new Error(`set record of ${owner}: key "${bad}" of ${service} is not a relative key`);
    }
    return text;
}

/** A record this product wrote, or undefined for anything else under the records' prefix. */
export function decodeSetRecord(key: string, value: string, modRevision: string): SetRecord | undefined {
    const [header, ...lines] = value.split("\n");
    let owner: unknown;
    try {
        owner = JSON.parse(header)?.owner;
    } catch {
        return undefined;
    }
    if (typeof owner !== "string" || owner === "") return undefined;
    const services = new Map<string, RecordLine>();
    for (const line of lines) {
        const [service, since, ...keys] = line.split(" ");
        if (!SERVICE_NAME.test(service) || !REVISION.test(since ?? "") || keys.some((k) => !RELATIVE_KEY.test(k)) || services.has(service)) return undefined;
        services.set(service, { since, keys });
    }
    return { key, owner, services, modRevision };
}

/** Revisions as etcd returns them (decimal strings, no leading zeros), compared as numbers. */
export function newerRevision(a: string, b: string): boolean {
    return a.length !== b.length ? a.length > b.length : a > b;
}

/** Whether a set's line claimed at `since` is the claim over a marker last modified at `markerModRevision` ("0": none). */
export function lineBeatsMarker(since: string, markerModRevision: string): boolean {
    return !newerRevision(markerModRevision, since);
}

/**
 * Every line of `records` (any owner) by service root, as claims. The per-service owner is
 * `<root>@<record owner>`, as ServiceRegistrationSet names its services.
 */
export function setLinesByRoot(prefix: string, records: readonly SetRecord[]): Map<string, SetClaim[]> {
    const lines = new Map<string, SetClaim[]>();
    for (const record of records) {
        for (const [service, line] of record.services) {
            const root = `${prefix}/${service}`;
            const claim = { owner: `${root}@${record.owner}`, keys: line.keys.map((k) => `${root}/${k}`), recordKey: record.key, since: line.since };
            const seen = lines.get(root);
            if (seen) seen.push(claim);
            else lines.set(root, [claim]);
        }
    }
    return lines;
}

/** A service's set claim among its lines: the one with the highest <since>. */
export function newestLine(lines: readonly SetClaim[]): SetClaim | undefined {
    let newest: SetClaim | undefined;
    for (const line of lines) if (!newest || newerRevision(line.since, newest.since)) newest = line;
    return newest;
}

export interface RecordRewrite {
    key: string;
    /** The record's mod revision when read: the rewrite is guarded by it. */
    modRevision: string;
    /** The new text, or undefined to delete the record. */
    value?: string;
}

/**
 * What tidies records after a write: each record keeps only the lines that are still their
 * service's claim (`claimOf(service)` names the record's key) and that `keep` allows (its set still
 * has the service); a record left with none is deleted. Records already so are left alone.
 */
export function planRecordRewrites(records: readonly SetRecord[], claimOf: (service: string) => string | undefined, keep: (record: SetRecord, service: string) => boolean = () => true): RecordRewrite[] {
    const rewrites: RecordRewrite[] = [];
    for (const record of records) {
        const kept = [...record.services.keys()].filter((s) => keep(record, s) && claimOf(s) === record.key);
        if (kept.length === record.services.size) continue;
        rewrites.push({
            key: record.key,
            modRevision: record.modRevision,
            value: kept.length === 0 ? undefined : encodeSetRecord(record.owner, kept.map((s) => [s, record.services.get(s)!])),
        });
    }
    return rewrites;
}
