// etcd's client and peer ports hand out (and accept) the whole cluster state, and SSH is
// a shell: neither may be reachable from the whole internet. SSH goes through IAP or a
// named range (coreos-cluster:sshSourceRanges); etcd is reached from inside the network.
import { PlainResource, TYPES, asArray, isRecord } from "./resource-data";
import { describeExposure, exposureOf } from "../../model/exposure";

/** Ports that must never be open to the world, with why. */
export const GUARDED_PORTS: ReadonlyArray<{ port: number; what: string }> = [
    { port: 22, what: "SSH" },
    { port: 2379, what: "etcd client" },
    { port: 2380, what: "etcd peer" },
];

/**
 * Well-known database and cache ports: open to the world they are almost always a mistake, so a
 * service is public only when its config says `public: true`, and the policy pack still says so.
 */
export const DATABASE_PORTS: ReadonlyArray<{ port: number; what: string }> = [
    { port: 1433, what: "SQL Server" },
    { port: 3306, what: "MySQL" },
    { port: 5432, what: "PostgreSQL" },
    { port: 6379, what: "Redis" },
    { port: 9042, what: "Cassandra" },
    { port: 9200, what: "Elasticsearch" },
    { port: 11211, what: "memcached" },
    { port: 27017, what: "MongoDB" },
];

/** IPv6 ranges count by spelling only (the cluster is IPv4): the whole v6 space. */
const IPV6_WORLD = ["::/0"];

/** `22`, `2379-2380`; a rule without ports opens every port of its protocol. */
export function portSpecCovers(ports: unknown[], port: number): boolean {
    if (ports.length === 0) return true;
    return ports.some((spec) => {
        const text = String(spec).trim();
        const range = /^(\d+)-(\d+)$/.exec(text);
        if (range) return Number(range[1]) <= port && port <= Number(range[2]);
        return /^\d+$/.test(text) && Number(text) === port;
    });
}

/** tcp, or a protocol selector that includes tcp (`all`, IANA number 6). */
function coversTcp(protocol: unknown): boolean {
    const p = String(protocol ?? "").toLowerCase();
    return p === "tcp" || p === "all" || p === "6";
}

/**
 * The sources of an ingress rule when, together, they admit the internet: judged by coverage
 * (model/exposure.ts, the config validation's rule), so 0.0.0.0/1 + 128.0.0.0/1 is the world as
 * 0.0.0.0/0 is. GCE applies an ingress rule with no source at all (no ranges, tags or service
 * accounts) to 0.0.0.0/0, so that counts as the world too.
 */
function worldSources(props: Record<string, unknown>): string[] {
    const ranges = asArray(props.sourceRanges).map((r) => String(r).trim());
    const v6 = ranges.filter((r) => IPV6_WORLD.includes(r));
    if (v6.length > 0) return v6;
    const exposure = exposureOf(ranges);
    if (exposure.openToInternet) return [describeExposure(ranges, exposure)];
    const noSource =
        ranges.length === 0 && asArray(props.sourceTags).length === 0 && asArray(props.sourceServiceAccounts).length === 0;
    return noSource ? ["0.0.0.0/0 (an ingress rule without sources applies to every address)"] : [];
}

export function firewallExposureViolations(resource: PlainResource): string[] {
    if (resource.type !== TYPES.firewall) return [];
    const props = resource.props;
    const direction = String(props.direction ?? "INGRESS").toUpperCase();
    if (direction !== "INGRESS" || props.disabled === true) return [];
    const world = worldSources(props);
    if (world.length === 0) return [];
    const violations: string[] = [];
    for (const allow of asArray(props.allows)) {
        if (!isRecord(allow) || !coversTcp(allow.protocol)) continue;
        const ports = asArray(allow.ports);
        for (const guarded of GUARDED_PORTS) {
            if (!portSpecCovers(ports, guarded.port)) continue;
            violations.push(
                `firewall ${resource.name} opens ${guarded.what} port ${guarded.port} ` +
                    `(${allow.protocol}${ports.length ? ` ${ports.join(",")}` : ", all ports"}) to ${world.join(", ")}; ` +
                    `restrict sourceRanges (SSH: coreos-cluster:sshSourceRanges, default the IAP range 35.235.240.0/20; ` +
                    `etcd: only the cluster's own tags).`,
            );
        }
    }
    return violations;
}

/** Findings for a firewall that opens a well-known database port to the world (advisory). */
export function firewallDatabaseExposureFindings(resource: PlainResource): string[] {
    if (resource.type !== TYPES.firewall) return [];
    const props = resource.props;
    if (String(props.direction ?? "INGRESS").toUpperCase() !== "INGRESS" || props.disabled === true) return [];
    const world = worldSources(props);
    if (world.length === 0) return [];
    const findings: string[] = [];
    for (const allow of asArray(props.allows)) {
        if (!isRecord(allow) || !coversTcp(allow.protocol)) continue;
        const ports = asArray(allow.ports);
        if (ports.length === 0) continue; // every port: the mandatory rule above already refuses it for 22/2379/2380
        for (const db of DATABASE_PORTS) {
            if (!portSpecCovers(ports, db.port)) continue;
            findings.push(
                `firewall ${resource.name} opens the ${db.what} port ${db.port} to ${world.join(", ")}: ` +
                    `a database is reachable from the whole internet; unless that is meant, drop \`public: true\` from the service ` +
                    `(coreos-cluster:services[].public) so it is reachable from inside the VPC only.`,
            );
        }
    }
    return findings;
}
