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
}

export const CLIENT_IDENTITIES: readonly Identity[] = [
    { commonName: "worker-proxy", holder: "every worker's etcd proxy, dialing the members", may: "forward the requests of the worker's local clients (the proxy's own listener demands their certificates)" },
    { commonName: "router", holder: "every worker's router", may: "read the services prefix" },
    { commonName: "fleet", holder: "fleetd and locksmithd on every machine (etcd v2 clients)", may: "fleet's registry and locksmith's semaphore: fleet is a root scheduler, so this identity runs code as root on every machine by design" },
    { commonName: "sidekick", holder: "the presence sidekicks of fleet services on workers", may: "write the hosts of services under the services prefix (one shared worker identity: a per-service grant would need a per-service key on every worker)" },
    { commonName: "deployer", holder: "Pulumi's providers, through the SSH tunnel", may: "write the services prefix and the ownership markers" },
    { commonName: "consumer", holder: "other stacks that register their services (StackReference)", may: "write the services prefix and the ownership markers; never the CA key" },
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
 * Workers: one loopback server certificate for the proxy's own listener, and the client identities.
 */
export function planCertificates(members: readonly PkiMember[]): CertificateSpec[] {
    const specs: CertificateSpec[] = [];
    for (const m of members) {
        specs.push({ id: `${m.name}-server`, commonName: m.name, usage: "server-and-client", ipSans: [m.ip, "127.0.0.1"], dnsSans: [m.name, "localhost"] });
        specs.push({ id: `${m.name}-peer`, commonName: m.name, usage: "server-and-client", ipSans: [m.ip], dnsSans: [m.name] });
    }
    specs.push({ id: "worker-local-server", commonName: "worker-local", usage: "server", ipSans: ["127.0.0.1"], dnsSans: ["localhost"] });
    for (const identity of CLIENT_IDENTITIES) specs.push({ id: identity.commonName, commonName: identity.commonName, usage: "client", ipSans: [], dnsSans: [] });
    return specs;
}

/** What a certificate was issued as, kept in state beside its PEM. */
export interface IssuedRecord {
    spec: CertificateSpec;
    /** ISO 8601. */
    notAfter: string;
    caGeneration: number;
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
 * generation than the signing one, and those inside the renewal window (renewBeforeDays before
 * notAfter). Everything else keeps its key and certificate: a no-op `up` re-issues nothing.
 */
export function planIssuance(
    previous: Readonly<Record<string, IssuedRecord>>,
    wanted: readonly CertificateSpec[],
    opts: { now: Date; renewBeforeDays: number; signingCaGeneration: number },
): IssuancePlan {
    const plan: IssuancePlan = { issue: [], keep: [], drop: [] };
    const wantedIds = new Set(wanted.map((w) => w.id));
    for (const spec of wanted) {
        const before = Object.prototype.hasOwnProperty.call(previous, spec.id) ? previous[spec.id] : undefined;
        let reason: string | undefined;
        if (!before) reason = "new";
        else if (!sameSpec(before.spec, spec)) reason = "its names or usage changed";
        else if (before.caGeneration !== opts.signingCaGeneration) reason = `signed by CA generation ${before.caGeneration}, the signing CA is generation ${opts.signingCaGeneration}`;
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
