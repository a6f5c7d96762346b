// The FleetService rolling update as a pure plan: from what fleet holds (units and /state) to which
// instances to keep, which to start and which to retire. The robust form of the seed's bash:
// start the new instances numbered after the highest, wait until they and their sidekicks run,
// then retire the rest. Healthy instances of the wanted unit file are kept, so a retry after an
// interruption finishes the job instead of starting yet another generation.
// Pure (no I/O, no Pulumi): the FleetService provider bundles it.

export interface ObservedUnit { name: string; hash?: string; currentState?: string }
export interface ObservedState { name: string; hash?: string; systemdActiveState?: string }

export interface ObservedInstance {
    n: string;
    hash?: string;
    /** The instance runs the unit file it holds (fleet's record agrees and every /state entry of that file is active). */
    running: boolean;
    sidekick: boolean;
    sidekickHash?: string;
    sidekickRunning: boolean;
}

export interface RollTarget { count: number; templateHash: string; sidekickHash: string }

export interface RollPlan {
    /** Healthy instances of the wanted unit file that stay (the highest numbers first). */
    keep: string[];
    /** New instance numbers, after the highest seen. */
    start: string[];
    /** Everything else of this service: the old generation and strays of interrupted runs. */
    retire: string[];
    noop: boolean;
}

const runs = (unit: ObservedUnit | undefined, states: ObservedState[]) => {
    if (!unit || (unit.currentState !== undefined && unit.currentState !== "launched")) return false;
    const mine = states.filter((s) => s.name === unit.name && s.hash === unit.hash);
    return mine.length > 0 && mine.every((s) => s.systemdActiveState === "active");
};

/** Instances of `service` (units `<service>@<n>.service`, sidekicks `<service>_presence@<n>.service`). */
export function observeInstances(service: string, units: ObservedUnit[], states: ObservedState[]): ObservedInstance[] {
    const byN = new Map<string, { main?: ObservedUnit; side?: ObservedUnit }>();
    const instanceRe = new RegExp(`^${escapeRe(service)}(_presence)?@([^.]+)\\.service$`);
    for (const u of units) {
        const m = instanceRe.exec(u.name);
        if (!m) continue;
        const entry = byN.get(m[2]) ?? {};
        if (m[1]) entry.side = u;
        else entry.main = u;
        byN.set(m[2], entry);
    }
    return [...byN].map(([n, { main, side }]) => ({
        n, hash: main?.hash, running: runs(main, states),
        sidekick: side !== undefined, sidekickHash: side?.hash, sidekickRunning: runs(side, states),
    })).sort(byNumber);
}

export function planRoll(observed: ObservedInstance[], target: RollTarget): RollPlan {
    const healthy = observed.filter((i) => i.hash === target.templateHash && i.running && i.sidekickHash === target.sidekickHash && i.sidekickRunning);
    const keep = [...healthy].sort(byNumber).reverse().slice(0, target.count).map((i) => i.n).sort(numeric);
    const start = nextInstanceNumbers(observed.map((i) => i.n), target.count - keep.length);
    const retire = observed.map((i) => i.n).filter((n) => !keep.includes(n));
    return { keep, start, retire, noop: start.length === 0 && retire.length === 0 };
}

/** `count` numbers after the highest numeric instance (1.. when there is none). */
export function nextInstanceNumbers(existing: string[], count: number): string[] {
    const highest = existing.filter((n) => /^\d+$/.test(n)).reduce((max, n) => Math.max(max, Number(n)), 0);
    return Array.from({ length: Math.max(0, count) }, (_, i) => String(highest + 1 + i));
}

function numeric(a: string, b: string): number {
    const [x, y] = [Number(a), Number(b)];
    return Number.isNaN(x) || Number.isNaN(y) ? (a < b ? -1 : a > b ? 1 : 0) : x - y;
}
const byNumber = (a: { n: string }, b: { n: string }) => numeric(a.n, b.n);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
