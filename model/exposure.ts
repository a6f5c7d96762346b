// How much of the internet a set of source ranges admits, judged by coverage, not by spelling:
// 0.0.0.0/1 + 128.0.0.0/1 is the whole internet as surely as 0.0.0.0/0 is. Used by the config
// validation (sshSourceRanges) and by the policy pack (every firewall rule), so both agree.

import { parseCidr } from "./ipv4";

/** IPv4 ranges that are not public internet addresses (RFC 6890 special-purpose blocks). */
const NOT_PUBLIC = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
];

type Interval = [start: number, end: number];

function interval(cidr: string): Interval | undefined {
    const parsed = parseCidr(cidr.trim());
    return "cidr" in parsed ? [parsed.cidr.network, parsed.cidr.network + parsed.cidr.size] : undefined;
}

function merge(intervals: Interval[]): Interval[] {
    const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
    const out: Interval[] = [];
    for (const [s, e] of sorted) {
        const last = out[out.length - 1];
        if (last && s <= last[1]) last[1] = Math.max(last[1], e);
        else out.push([s, e]);
    }
    return out;
}

const NOT_PUBLIC_INTERVALS = merge(NOT_PUBLIC.map((c) => interval(c)!));

/** Size of the public IPv4 space (every address outside NOT_PUBLIC). */
export const PUBLIC_ADDRESSES = 2 ** 32 - NOT_PUBLIC_INTERVALS.reduce((n, [s, e]) => n + (e - s), 0);

/**
 * A set of ranges is "open to the internet" from this many public addresses on: one /8's worth
 * (16.7 million). The IAP range is a /20, a large company's own ranges a few /16s; past a /8 a
 * rule admits strangers, whatever its spelling.
 */
export const WORLD_OPEN_THRESHOLD = 2 ** 24;

/** Public addresses the ranges admit together (overlaps counted once); unparsable ranges count as nothing. */
export function publicAddressesAdmitted(ranges: readonly string[]): number {
    const union = merge(ranges.map(interval).filter((i): i is Interval => i !== undefined));
    let total = 0;
    for (const [s, e] of union) {
        let size = e - s;
        for (const [ps, pe] of NOT_PUBLIC_INTERVALS) size -= Math.max(0, Math.min(e, pe) - Math.max(s, ps));
        total += size;
    }
    return total;
}

export interface Exposure {
    publicAddresses: number;
    /** Share of the public IPv4 space, 0..1. */
    share: number;
    openToInternet: boolean;
}

export function exposureOf(ranges: readonly string[]): Exposure {
    const publicAddresses = publicAddressesAdmitted(ranges);
    return { publicAddresses, share: publicAddresses / PUBLIC_ADDRESSES, openToInternet: publicAddresses >= WORLD_OPEN_THRESHOLD };
}

/** "0.0.0.0/1, 128.0.0.0/1 admit 100% of the public IPv4 space (3,702,258,432 addresses)". */
export function describeExposure(ranges: readonly string[], e: Exposure = exposureOf(ranges)): string {
    const pct = e.share >= 0.01 ? `${Math.round(e.share * 100)}%` : `${(e.share * 100).toPrecision(2)}%`;
    return `${ranges.join(", ")} admit${ranges.length === 1 ? "s" : ""} ${pct} of the public IPv4 space (${e.publicAddresses.toLocaleString("en-US")} addresses)`;
}
