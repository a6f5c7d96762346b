// The cluster's PKI as data (issue 21): which certificates the stack issues from its own CA, for
// whom, with which names and usages, and when one must be issued again. Pure: the ClusterPki
// provider (components/pki/) signs what this plans, and the docs' identity table is this table.

/** The etcd identities: a client certificate's Common Name is its etcd user once auth is on. */
export interface Identity {
    /** Certificate id and etcd user name. */
    commonName: string;
    /** Who holds it. */
    holder: string;
    /** What it may do in etcd, in words (the role the auth setup grants). */
    may: string;
    /**
     * A client of etcd's JSON gateway (the router): its certificate carries no Common Name, since
     * etcd 3.4 answers a gateway request from a certificate with one "400 CommonName of client sending
     * a request against gateway will be ignored"; it authenticates as its user by password instead.
     */
    jsonGateway?: boolean;
}

export const CLIENT_IDENTITIES: readonly Identity[] = [
    { commonName: "router", holder: "every worker's router", may: "read the services prefix (v3, through the members' JSON gateway with a password derived from its key: the gateway ignores certificate names)", jsonGateway: true },
    { commonName: "fleet", holder: "fleetd and locksmithd on every machine (etcd v2 clients)", may: "fleet's registry and locksmith's semaphore over the v2 API, which v3 roles do not cover: fleet is a root scheduler, so this identity runs code as root on every machine by design" },
    { commonName: "sidekick", holder: "the presence sidekicks of fleet services on workers", may: "write the services prefix and fleet's ownership markers (one shared worker identity: a per-service grant would need a per-service key on every worker, and any worker may run any service's sidekick)" },
    { commonName: "deployer", holder: "Pulumi's providers, through the SSH tunnel", may: "write the services prefix and the ownership markers" },
    { commonName: "consumer", holder: "other stacks that register their services (a secret stack output)", may: "write the services prefix and the ownership markers; never the CA key" },
    { commonName: "root", holder: "the deploy step that converges etcd's users and roles (never on a machine)", may: "etcd's root: manage users, roles and auth; etcd requires a user named root before auth can be turned on" },
];

export type CertificateUsage = "server" | "client" | "server-and-client";

export interface CertificateSpec {
    /** Unique within the PKI: `etcd-0-server`, `etcd-0-peer`, `router`, ... */
    id: string;
    commonName: string;
    usage: CertificateUsage;
    ipSans: string[];
    dnsSans: string[];
}

export interface PkiMember {
    name: string;
    ip: string;
}

/**
 * Every certificate of the cluster. Members: a client-port certificate (server and client: etcd's
 * gRPC gateway dials its own client port with it) and a peer certificate (both ends of raft), each
 * with the member's static address as an IP SAN (etcd checks a peer's IP SAN against its address).
 * Workers hold client identities only: their local etcd endpoint is `etcd gateway`, a TCP proxy
 * that carries each client's own TLS session (and its client certificate) to a member, so the
 * member's server certificate answers on the worker's loopback (hence its 127.0.0.1/localhost SANs)
 * and the gateway itself holds no certificate.
 */
export function planCertificates(members: readonly PkiMember[]): CertificateSpec[] {
    const specs: CertificateSpec[] = [];
    for (const m of members) {
        specs.push({ id: `${m.name}-server`, commonName: m.name, usage: "server-and-client", ipSans: [m.ip, "127.0.0.1"], dnsSans: [m.name, "localhost"] });
        specs.push({ id: `${m.name}-peer`, commonName: m.name, usage: "server-and-client", ipSans: [m.ip], dnsSans: [m.name] });
    }
    // A JSON-gateway client's certificate has no CN (an empty commonName): x509.ts names it by OU=<id>.
    for (const identity of CLIENT_IDENTITIES) specs.push({ id: identity.commonName, commonName: identity.jsonGateway ? "" : identity.commonName, usage: "client", ipSans: [], dnsSans: [] });
    return specs;
}

/** What a certificate was issued as, kept in state beside its PEM. */
export interface IssuedRecord {
    spec: CertificateSpec;
    /** ISO 8601. */
    notAfter: string;
    caGeneration: number;
    /** The leaf generation it was issued under (absent: 1, before the setting existed). */
    leafGeneration?: number;
}

export interface IssuancePlan {
    /** Ids to issue now, each with why. */
    issue: Array<{ id: string; reason: string }>;
    keep: string[];
    drop: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

function sameSpec(a: CertificateSpec, b: CertificateSpec): boolean {
    return a.commonName === b.commonName && a.usage === b.usage && a.ipSans.join(",") === b.ipSans.join(",") && a.dnsSans.join(",") === b.dnsSans.join(",");
}

/**
 * Which certificates to issue again: new ones, changed names or usage, those signed by another CA
 * generation than the signing one, those of an older leaf generation (a renewal asked for by
 * config), and those inside the renewal window (renewBeforeDays before
 * notAfter). Everything else keeps its key and certificate: a no-op `up` re-issues nothing.
 */
export function planIssuance(
    previous: Readonly<Record<string, IssuedRecord>>,
    wanted: readonly CertificateSpec[],
    opts: { now: Date; renewBeforeDays: number; signingCaGeneration: number; leafGeneration?: number },
): IssuancePlan {
    const plan: IssuancePlan = { issue: [], keep: [], drop: [] };
    const wantedIds = new Set(wanted.map((w) => w.id));
    for (const spec of wanted) {
        const before = Object.prototype.hasOwnProperty.call(previous, spec.id) ? previous[spec.id] : undefined;
        let reason: string | undefined;
        if (!before) reason = "new";
        else if (!sameSpec(before.spec, spec)) reason = "its names or usage changed";
        else if (before.caGeneration !== opts.signingCaGeneration) reason = `signed by CA generation ${before.caGeneration}, the signing CA is generation ${opts.signingCaGeneration}`;
        else if ((before.leafGeneration ?? 1) < (opts.leafGeneration ?? 1)) reason = `issued under leaf generation ${before.leafGeneration ?? 1}, renewal asked for generation ${opts.leafGeneration}`;
        else if (Date.parse(before.notAfter) - opts.now.getTime() <= opts.renewBeforeDays * DAY_MS) reason = `expires ${before.notAfter}, within the ${opts.renewBeforeDays}-day renewal window`;
        if (reason) plan.issue.push({ id: spec.id, reason });
        else plan.keep.push(spec.id);
    }
    for (const id of Object.keys(previous)) if (!wantedIds.has(id)) plan.drop.push(id);
    return plan;
}

/** Certificates (CAs included) that expire within `warnDays`, as warnings naming each and its date. */
export function expiryWarnings(expiries: Readonly<Record<string, string>>, now: Date, warnDays: number): string[] {
    return Object.entries(expiries)
        .filter(([, notAfter]) => Date.parse(notAfter) - now.getTime() <= warnDays * DAY_MS)
        .sort(([, a], [, b]) => Date.parse(a) - Date.parse(b))
        .map(([id, notAfter]) => `certificate ${id} expires ${notAfter} (within ${warnDays} days): the next \`pulumi up\` renews it`);
}

/** Why the validity settings do not hold together, or undefined. */
export function validityProblem(v: { leafValidityDays: number; renewBeforeDays: number; caValidityDays: number }): string | undefined {
    const whole = (n: number) => Number.isInteger(n) && n > 0;
    if (!whole(v.leafValidityDays) || !whole(v.renewBeforeDays) || !whole(v.caValidityDays)) return "validity days must be positive whole numbers";
    if (v.renewBeforeDays >= v.leafValidityDays) return `renewBeforeDays (${v.renewBeforeDays}) must be less than leafValidityDays (${v.leafValidityDays}), or every up would renew`;
    if (v.caValidityDays <= v.leafValidityDays) return `caValidityDays (${v.caValidityDays}) must exceed leafValidityDays (${v.leafValidityDays}): a leaf cannot outlive its CA`;
    return undefined;
}
