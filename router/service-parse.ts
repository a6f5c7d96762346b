// What the router reads from etcd: the service keys under the prefix, each service either routed
// or skipped with its reasons (docs/router.md, "Bad data"). Pure (plain data in and out, no I/O).
// Key layout (model/service-keys.ts, seeds/004):
//   <prefix>/<name>/scheme      http | tcp
//   <prefix>/<name>/hosts/<n>   ip:port
//   <prefix>/<name>/host_port   optional; a TCP frontend on that port
// What etcd holds is data, never trusted: every problem belongs to one service, and that service
// is skipped and reported while every other one is rendered.
// Keys become Map entries, so no service name can reach an object's built-in properties.
import { collisionMessage, DOCKER_EPHEMERAL_CLAIM, fixedPortClaims, PortClaim, portCollisions, publishedPortProblem } from "../model/ports";
import { HostRuleContext, serviceHostProblem } from "../model/service-hosts";
import { SERVICE_NAME } from "../model/service-naming";
/** What the rules for etcd's data need to know about the cluster (the same rules the stack config obeys). */
export interface ServiceRules {
    /** The services prefix, e.g. `/services` (no trailing slash). */
    prefix: string;
    /** HTTP frontends (the load balancer's lbHttpPorts): no host_port may take one. */
    httpPorts: number[];
    /** The worker's health check port: no host_port, and no host, may use it. */
    healthPort?: number;
    /** The etcd members' addresses: no service host may be one. */
    memberAddresses: string[];
}


export interface RoutedService {
    name: string;
    scheme: "http" | "tcp";
    /** Sorted by host key, so round robin order is stable. */
    hosts: Array<{ id: string; address: string }>;
    hostPort?: number;
}

/** A service the router does not route, and every reason, each naming its key. */
export interface SkippedService {
    /** The name segment of its keys (shown escaped and shortened when it is not a service name). */
    service: string;
    problems: string[];
}

/** A key's value, with the etcd revision that created the key when known (who registered a host_port first). */
export interface KeyEntry {
    value: string;
    createRevision?: number;
}

/** Keys under the prefix: a plain record of values (tests, the flow check) or what etcd returned. */
export type ServiceKeys = Readonly<Record<string, string>> | ReadonlyMap<string, string | KeyEntry>;
const HOST_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const CANONICAL_PORT = /^[1-9]\d{0,4}$/;
/** A skipped service lists at most this many problems (a flood of bad keys stays a short report). */
export const MAX_PROBLEMS_PER_SERVICE = 10;
const SHOWN_LENGTH = 80;

/** A key or name as a message may show it: plain when it is printable ASCII, else JSON-quoted; long ones shortened. */
export function shown(text: string): string {
    const short = text.length > SHOWN_LENGTH ? `${text.slice(0, SHOWN_LENGTH)}...` : text;
    if (/^[\x21-\x7e]+$/.test(short) && !short.includes('"')) return short;
    // Quoted, and every character outside printable ASCII escaped: a key can never start a new log line or hide what it is.
    return JSON.stringify(short).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function entries(keys: ServiceKeys): Array<[string, KeyEntry]> {
    const out: Array<[string, KeyEntry]> = [];
    if (keys instanceof Map) {
        for (const [key, raw] of keys as ReadonlyMap<string, string | KeyEntry>) out.push([key, typeof raw === "string" ? { value: raw } : raw]);
    } else {
        for (const [key, value] of Object.entries(keys as Record<string, string>)) out.push([key, { value }]);
    }
    return out;
}

interface Draft {
    scheme?: string;
    hosts: Map<string, string>;
    hostPort?: KeyEntry;
    problems: string[];
}

/** The services the keys define, each either routed or skipped with its reasons. Pure; never throws on any key or value. */
export function parseServiceKeys(keys: ServiceKeys, prefix: string, rules: Partial<Omit<ServiceRules, "prefix">> = {}): { services: RoutedService[]; skipped: SkippedService[] } {
    const base = `${prefix}/`;
    const httpPorts = rules.httpPorts ?? [];
    const fixed = fixedPortClaims(rules.healthPort);
    const context: HostRuleContext = { memberAddresses: rules.memberAddresses ?? [], reservedPorts: fixed.map((c) => ({ port: c.first, what: c.role })) };
    const drafts = new Map<string, Draft>();
    /** Name segments that are not service names, with their keys: reported, never routed. */
    const strays = new Map<string, string[]>();
    for (const [key, { value, createRevision }] of entries(keys)) {
        if (!key.startsWith(base)) continue;
        const rest = key.slice(base.length);
        const slash = rest.indexOf("/");
        const name = slash < 0 ? rest : rest.slice(0, slash);
        const field = slash < 0 ? undefined : rest.slice(slash + 1);
        if (!SERVICE_NAME.test(name)) {
            const list = strays.get(name) ?? [];
            list.push(key);
            strays.set(name, list);
            continue;
        }
        let draft = drafts.get(name);
        if (draft === undefined) {
            draft = { hosts: new Map(), problems: [] };
            drafts.set(name, draft);
        }
        if (field === "scheme") draft.scheme = value;
        else if (field === "host_port") draft.hostPort = { value, createRevision };
        else if (field !== undefined && field.startsWith("hosts/")) {
            const id = field.slice("hosts/".length);
            const problem = HOST_ID.test(id) ? serviceHostProblem(value, context) : `host key ${shown(id)} must be 1-64 of A-Z a-z 0-9 _ . -`;
            if (problem) draft.problems.push(`${shown(key)}: ${problem}`);
            else draft.hosts.set(id, value);
        }
        // Other keys under a service (a future field, the v2 mirror's dir markers) route nothing.
    }

    const candidates: Array<{ service: RoutedService; createRevision?: number }> = [];
    const skipped = new Map<string, string[]>();
    for (const [name, keysOfName] of strays) {
        const listed = keysOfName.sort().slice(0, 3).map(shown).join(", ");
        const more = keysOfName.length > 3 ? ` and ${keysOfName.length - 3} more` : "";
        // Names shortened alike share one entry; valid names never look like these (they pass SERVICE_NAME, these do not).
        const entry = skipped.get(shown(name)) ?? [];
        entry.push(`${shown(name)} is not a service name (1-63 of a-z 0-9 and "-", starting with a letter, not ending with "-"); its keys route nothing: ${listed}${more}`);
        skipped.set(shown(name), entry);
    }
    for (const [name, d] of drafts) {
        const where = `${base}${name}`;
        const problems = d.problems;
        if (d.scheme === undefined) problems.push(`${where}/scheme is missing (must be http or tcp)`);
        else if (d.scheme !== "http" && d.scheme !== "tcp") problems.push(`${where}/scheme: ${shown(d.scheme)} must be http or tcp`);
        let hostPort: number | undefined;
        if (d.hostPort !== undefined) {
            const text = d.hostPort.value;
            const port = CANONICAL_PORT.test(text) ? Number(text) : NaN;
            const published = port <= 65535 ? publishedPortProblem(port) : undefined;
            if (!(port <= 65535)) problems.push(`${where}/host_port: ${shown(text)} must be a port 1-65535 (digits, no leading zero)`);
            else if (published) problems.push(`${where}/host_port: ${published}`);
            else hostPort = port;
        } else if (d.scheme === "tcp") {
            problems.push(`${where}/host_port is missing (required for a tcp service)`);
        }
        if (problems.length > 0) {
            skipped.set(name, problems);
            continue;
        }
        const hosts = [...d.hosts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, address]) => ({ id, address }));
        candidates.push({ service: { name, scheme: d.scheme as "http" | "tcp", hosts, ...(hostPort !== undefined ? { hostPort } : {}) }, createRevision: d.hostPort?.createRevision });
    }

    // Ports, against the same table the stack config obeys: the fixed roles and the HTTP ports come
    // first, then host_ports in the order they were registered (the etcd revision that created the
    // host_port key). A clash costs the later service; two created in one revision both lose.
    const revisionOf = (c: { createRevision?: number }) => c.createRevision ?? Number.POSITIVE_INFINITY;
    const withPorts = candidates
        .filter((c) => c.service.hostPort !== undefined)
        .sort((a, b) => revisionOf(a) - revisionOf(b) || (a.service.name < b.service.name ? -1 : 1));
    const claims: PortClaim[] = [
        ...fixed,
        DOCKER_EPHEMERAL_CLAIM,
        ...httpPorts.map((port) => ({ key: "lbHttpPorts (ROUTER_HTTP_PORTS)", role: "an HTTP port of the router", first: port, last: port, shareGroup: "http" })),
    ];
    const ownerOf = new Map<PortClaim, (typeof withPorts)[number]>();
    for (const c of withPorts) {
        const claim: PortClaim = { key: `${base}${c.service.name}/host_port`, role: `the host_port of service ${c.service.name}`, first: c.service.hostPort!, last: c.service.hostPort! };
        ownerOf.set(claim, c);
        claims.push(claim);
    }
    const lose = (name: string, problem: string) => {
        const list = skipped.get(name) ?? [];
        if (!list.includes(problem)) list.push(problem);
        skipped.set(name, list);
    };
    for (const [earlier, later] of portCollisions(claims)) {
        const loser = ownerOf.get(later);
        if (loser === undefined) continue; // two fixed roles: the stack config's problem, not etcd's
        const holder = ownerOf.get(earlier);
        const message = `${later.key}: ${collisionMessage(earlier, later)}`;
        if (holder === undefined) {
            lose(loser.service.name, message);
        } else if (revisionOf(holder) === revisionOf(loser)) {
            const when = Number.isFinite(revisionOf(holder)) ? `in the same etcd revision ${holder.createRevision}` : "with no record of which came first";
            const tie = `, and both host_port keys were created ${when}, so neither keeps it`;
            lose(loser.service.name, message + tie);
            lose(holder.service.name, `${earlier.key}: ${collisionMessage(later, earlier)}${tie}`);
        } else {
            lose(loser.service.name, `${message}; ${holder.service.name} registered it first (its host_port key was created at etcd revision ${holder.createRevision}, this one at ${loser.createRevision})`);
        }
    }

    const services = candidates
        .map((c) => c.service)
        .filter((s) => !skipped.has(s.name))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
    const skippedList = [...skipped]
        .map(([service, problems]) => ({
            service,
            problems: problems.length > MAX_PROBLEMS_PER_SERVICE ? [...problems.slice(0, MAX_PROBLEMS_PER_SERVICE), `and ${problems.length - MAX_PROBLEMS_PER_SERVICE} more`] : problems,
        }))
        .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
    return { services, skipped: skippedList };
}
