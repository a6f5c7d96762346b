// Server slots: how a host change reaches HAProxy without a reload (issue 25 item 4).
// Every backend has a fixed number of `server s<n>` lines. A slot holds one host (`ip:port`) or is
// free (`disabled`, i.e. in maintenance: no traffic, no checks). A host added, removed or replaced
// in etcd becomes a batch of runtime commands on the admin socket (`set server <b>/s<n> addr`,
// `state ready|maint`, `health up`): the same HAProxy worker serves on, with no new process and no
// connection handed over. Only a change of the structure (a service, its scheme or host_port, or a
// backend out of free slots) is a reload; then the slot count grows.
// These commands exist with the same syntax in HAProxy 2.6 (Debian's, run by the tests) and 3.x
// (GCE's image). `add server`/`del server` were not used: `del server` refuses a server that still
// has connections, and dynamic servers need `enable health` and differ between the two.
// Pure: plain data in and out, property-tested (test/router/slots.test.ts).
import { splitHost } from "../model/service-hosts";

/** One backend's slots, in server order: the host it routes to, or null for a free slot. */
export type Slots = ReadonlyArray<string | null>;
/** Slots of every backend, by backend name (`http_<service>`, `tcp_<service>`). */
export type SlotLayout = ReadonlyMap<string, Slots>;

/** The fewest slots a backend gets: room for small services to add hosts without a reload. */
export const MIN_SLOTS = 8;

/** Slots for `hosts` hosts: a power of two of at least twice as many, so every host can be replaced at once (new ones are up before old ones go). */
export function slotCapacity(hosts: number): number {
    let n = MIN_SLOTS;
    while (n < 2 * hosts) n *= 2;
    return n;
}

/**
 * The slots a backend gets for `hosts` (addresses, in host-key order) after `previous`.
 * - A host that stays keeps its slot: its connections, checks and round-robin place are untouched.
 * - A new host goes into a slot that was free *before* this change, never into one this change
 *   frees: the new host is up before the old one leaves, so a service never has fewer hosts than
 *   both its old and its new set while the batch runs (one host replaced by another: 0 failures).
 * - Without enough such slots the backend grows to slotCapacity (never shrinks while the watcher
 *   runs): the structure changes and the change is a hitless reload instead.
 */
export function assignSlots(previous: Slots | undefined, hosts: readonly string[]): Slots {
    if (previous === undefined) {
        const fresh: Array<string | null> = new Array(slotCapacity(hosts.length)).fill(null);
        hosts.forEach((h, i) => (fresh[i] = h));
        return fresh;
    }
    const wanted = new Map<string, number>();
    for (const h of hosts) wanted.set(h, (wanted.get(h) ?? 0) + 1);
    const next: Array<string | null> = previous.map((h) => {
        if (h === null || !wanted.get(h)) return null;
        wanted.set(h, wanted.get(h)! - 1);
        return h;
    });
    // Hosts still to place, in host-key order (a duplicate address is placed as often as it is listed).
    const toPlace: string[] = [];
    for (const h of hosts) {
        if (wanted.get(h)) {
            toPlace.push(h);
            wanted.set(h, wanted.get(h)! - 1);
        }
    }
    const freeBefore = previous.flatMap((h, i) => (h === null ? [i] : []));
    if (toPlace.length <= freeBefore.length) {
        toPlace.forEach((h, k) => (next[freeBefore[k]] = h));
        return next;
    }
    // Out of slots: a reload swaps the whole worker, so any free slot (freed now or added) will do.
    const grown = next.concat(new Array(Math.max(0, slotCapacity(hosts.length) - next.length)).fill(null));
    let at = 0;
    for (const h of toPlace) {
        while (grown[at] !== null) at++;
        grown[at] = h;
    }
    return grown;
}

/** The slots of every backend of `backends` (name -> hosts) after `previous`. */
export function assignLayout(previous: SlotLayout | undefined, backends: ReadonlyArray<{ backend: string; hosts: readonly string[] }>): SlotLayout {
    return new Map(backends.map((b) => [b.backend, assignSlots(previous?.get(b.backend), b.hosts)]));
}

/** HAProxy's name of slot `index` (0-based): s1, s2, ... */
export const slotName = (index: number) => `s${index + 1}`;

const CHECK = "check inter 1s fall 2 rise 1";
/**
 * A free slot's line: `disabled` is maintenance (no traffic, no checks). The address is a
 * placeholder of the right family (`set server addr` keeps a server's family in HAProxy 2.6) and is
 * only ever replaced by a host's address before the slot is made ready.
 */
const FREE_SLOT = "0.0.0.0:1 disabled";

/**
 * The server lines of a backend. With `structural`, every slot reads the same whatever it holds:
 * the config's id is the hash of that form, so a host change keeps the id (no reload) and only a
 * change of the structure (here: the number of slots) changes it.
 */
export function serverLines(slots: Slots, structural = false): string[] {
    // TCP checks: a host that stops accepting connections leaves the rotation within ~2 s.
    return slots.map((h, i) => `    server ${slotName(i)} ${structural ? "slot" : h === null ? FREE_SLOT : h} ${CHECK}`);
}

/** A backend name the planner may send: only what the config renders from a valid service name. */
const BACKEND = /^(?:http|tcp)_[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * Every command the router may send to HAProxy's admin socket, and nothing else: the socket writer
 * refuses a batch with any other line (router/runtime-api.ts). Addresses are canonical dotted IPv4
 * and ports digits, so no `;`, newline or space from etcd can start a command of its own.
 */
export const RUNTIME_COMMAND =
    /^set server (?:http|tcp)_[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\/s[1-9]\d{0,5} (?:addr (?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d) port [1-9]\d{0,4}|state (?:ready|maint)|health up)$/;

function target(backend: string, index: number): string {
    if (!BACKEND.test(backend)) throw new Error(`not a backend the router renders: ${JSON.stringify(backend)}`);
    return `set server ${backend}/${slotName(index)}`;
}

/** The commands that put `host` into slot `index`: its address, then ready, then up (a slot a check saw down would otherwise wait for the next check). */
function fill(backend: string, index: number, host: string): string[] {
    // The one host grammar again (model/service-hosts.ts), whatever the caller checked: a value that is not canonical ip:port never becomes a command.
    const parts = splitHost(host);
    if (!parts) throw new Error(`not a host the router routes: ${JSON.stringify(host)}`);
    const t = target(backend, index);
    return [`${t} addr ${parts.address} port ${parts.port}`, `${t} state ready`, `${t} health up`];
}

/**
 * The runtime commands that turn `before` into `after`, or undefined when they cannot (a backend
 * appears, disappears or changes its slot count: that is a reload). One batch, in this order:
 * hosts into free slots first, then hosts replaced in place, then slots freed. So while the batch
 * runs a backend serves its old hosts plus some new ones, and never fewer than it will end with.
 */
export function runtimeCommands(before: SlotLayout, after: SlotLayout): string[] | undefined {
    if (before.size !== after.size) return undefined;
    const fills: string[] = [];
    const swaps: string[] = [];
    const frees: string[] = [];
    for (const [backend, next] of after) {
        const prev = before.get(backend);
        if (prev === undefined || prev.length !== next.length) return undefined;
        next.forEach((host, i) => {
            const old = prev[i];
            if (host === old) return;
            if (host === null) frees.push(`${target(backend, i)} state maint`);
            else if (old === null) fills.push(...fill(backend, i, host));
            else swaps.push(`${target(backend, i)} state maint`, ...fill(backend, i, host));
        });
    }
    return [...fills, ...swaps, ...frees];
}

/** Backends whose hosts differ between two layouts of the same structure (for the log). */
export function changedBackends(before: SlotLayout, after: SlotLayout): string[] {
    return [...after].filter(([b, slots]) => before.get(b)?.some((h, i) => h !== slots[i]) ?? true).map(([b]) => b);
}
