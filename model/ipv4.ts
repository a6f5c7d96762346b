// Strict IPv4 address and CIDR arithmetic (no leading zeros, no shorthand), shared by
// validation and the address plan so both agree on what an address is.

/**
 * The address as an unsigned 32-bit number, or undefined when it is not a dotted quad of canonical
 * octets (0-255, no leading zero). One pass over the characters: providers parse tens of thousands
 * of hosts per write (test/model/ipv4.test.ts holds it to the regular-expression definition).
 */
export function parseIpv4(text: string): number | undefined {
    let value = 0;
    let octets = 0;
    let i = 0;
    for (;;) {
        const start = i;
        let octet = 0;
        while (i < text.length && i - start < 4) {
            const c = text.charCodeAt(i);
            if (c < 48 || c > 57) break;
            octet = octet * 10 + (c - 48);
            i++;
        }
        const digits = i - start;
        if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return undefined;
        value = value * 256 + octet;
        octets++;
        if (octets === 4) return i === text.length ? value : undefined;
        if (text.charCodeAt(i) !== 46) return undefined;
        i++;
    }
}

export function formatIpv4(value: number): string {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new RangeError(`not an IPv4 address value: ${value}`);
    }
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

export interface Cidr {
    network: number;
    prefix: number;
    /** Number of addresses in the range. */
    size: number;
}

export type CidrParse = { cidr: Cidr } | { problem: string };

/** Strict `a.b.c.d/n`: a valid address, prefix 0-32, and no host bits set. */
export function parseCidr(text: string): CidrParse {
    const match = /^([0-9.]+)\/(0|[1-9][0-9]?)$/.exec(text);
    if (!match) return { problem: `"${text}" is not an IPv4 CIDR (expected a.b.c.d/n)` };
    const address = parseIpv4(match[1]);
    if (address === undefined) return { problem: `"${text}" has an invalid IPv4 address "${match[1]}"` };
    const prefix = Number(match[2]);
    if (prefix > 32) return { problem: `"${text}" has prefix /${prefix}; IPv4 prefixes are 0 to 32` };
    const size = 2 ** (32 - prefix);
    const network = address - (address % size);
    if (network !== address) {
        return { problem: `"${text}" has host bits set; the network address of that range is ${formatIpv4(network)}/${prefix}` };
    }
    return { cidr: { network, prefix, size } };
}

export function cidrContains(cidr: Cidr, address: number): boolean {
    return address >= cidr.network && address < cidr.network + cidr.size;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    return a.network < b.network + b.size && b.network < a.network + a.size;
}

/**
 * Addresses GCE lets instances use in a subnet: all but the network address, the
 * gateway (network + 1), the second-to-last address and the broadcast address.
 */
export function gceUsableRange(cidr: Cidr): { first: number; last: number; count: number } {
    const first = cidr.network + 2;
    const last = cidr.network + cidr.size - 3;
    return { first, last, count: Math.max(0, last - first + 1) };
}

export const LOOPBACK: Cidr = { network: 127 * 2 ** 24, prefix: 8, size: 2 ** 24 };
/** Last loopback address a local machine may take (127.255.255.255 is the broadcast). */
export const LAST_LOOPBACK_HOST = LOOPBACK.network + LOOPBACK.size - 2;

/** RFC 1918: 10/8, 172.16/12, 192.168/16 (the local VPC's addresses come from these only). */
export function isPrivateIpv4(address: number): boolean {
    const a = Math.floor(address / 2 ** 24);
    const b = Math.floor(address / 2 ** 16) % 256;
    return a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168);
}
