// The conformance server's simulated cluster: fleet's engine (scheduling with MachineID, MachineOf,
// MachineMetadata, Conflicts, Replaces and Global over simulated machines) and its agents, which
// publish what /state reports. Everything moves only on a tick (fleet's reconcile interval), so
// /state lags /units, and a deleted unit's state lingers, with its old hash, for a few ticks.
// /state is systemd's view: a unit whose process exits shows failed, whatever fleet wanted.
import { ConformanceState, ConformanceUnitOption, globMatch, isTemplate, requirements, STATES, unitHash } from "./fleet-conformance-rules";

export interface ConformanceMachine { id: string; primaryIP: string; metadata?: Record<string, string> }
export interface StoredUnit {
    name: string;
    options: ConformanceUnitOption[];
    /** A bogus value stays stored when fleetd accepted it (an existing unit); GET then answers 500. */
    desiredState: ConformanceState | string;
    /** The engine's target state (what GET /units reports as currentState). */
    currentState: ConformanceState;
    machineIDs: string[];
    hash: string;
    /** Replaced with new options while scheduled: its machines still run the old unit file. */
    stale?: boolean;
}
export interface PublishedState {
    name: string; hash: string; machineID: string;
    systemdLoadState: string; systemdActiveState: string; systemdSubState: string;
}
export interface ClusterOptions {
    machines?: ConformanceMachine[];
    /** Ticks each state step takes (systemd's share of fleet's 2-18 s transitions); default 1. */
    ticksPerStep?: number;
    /** Ticks a deleted unit's state stays in /state (old hash, still active); default 3. */
    lingerTicks?: number;
}

export const defaultMachines = (n = 3): ConformanceMachine[] =>
    Array.from({ length: n }, (_, i) => ({ id: `m${i + 1}${"0".repeat(30)}`, primaryIP: `10.0.0.${i + 1}`, metadata: { role: "worker", zone: `z${i + 1}` } }));

export class SimulatedCluster {
    readonly units = new Map<string, StoredUnit>();
    readonly machines: ConformanceMachine[];
    /** Units whose state never moves (a unit that cannot start). */
    readonly stuckUnits = new Set<string>();
    neverConverge = false;
    /** Units whose process exits at once (systemd: failed/failed); ExecStart=/bin/false does too. */
    readonly exitingUnits = new Set<string>();
    /** Machines whose agent a launched template stopped for good (real fleetd: nothing there moves again). */
    readonly wedgedMachines = new Set<string>();
    private readonly published = new Map<string, PublishedState & { lingerUntil?: number }>();
    private readonly progress = new Map<string, number>();
    private ticks = 0;

    constructor(private readonly opts: ClusterOptions = {}) {
        this.machines = opts.machines ?? defaultMachines();
    }

    put(name: string, options: ConformanceUnitOption[], desiredState: string): void {
        const old = this.units.get(name);
        // A replace keeps the unit where it is: right after it, GET still says the old currentState and
        // machine; the agents then stop the old file and load the new one (the stale flag, on a tick).
        const placed = old && old.machineIDs.length > 0 ? { currentState: old.currentState, machineIDs: old.machineIDs, stale: true } : { currentState: "inactive" as const, machineIDs: [] };
        this.units.set(name, { name, options, desiredState, hash: unitHash(options), ...placed });
        this.progress.delete(name);
    }

    /** The unit goes at once; its agents' states linger (old hash) until they notice. */
    delete(name: string): boolean {
        if (!this.units.delete(name)) return false;
        for (const s of this.published.values()) if (s.name === name && s.lingerUntil === undefined) s.lingerUntil = this.ticks + (this.opts.lingerTicks ?? 3);
        return true;
    }

    states(): PublishedState[] {
        return [...this.published.values()].map(({ lingerUntil: _, ...s }) => s).sort((a, b) => (a.name + a.machineID < b.name + b.machineID ? -1 : 1));
    }

    tick(): void {
        if (this.neverConverge) return;
        this.ticks++;
        // a wedged agent publishes nothing any more: its entries neither change nor expire
        const frozen = (machineID: string) => this.wedgedMachines.has(machineID);
        for (const [key, s] of this.published) if (s.lingerUntil !== undefined && s.lingerUntil <= this.ticks && !frozen(s.machineID)) this.published.delete(key);
        for (const u of [...this.units.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const want = STATES.indexOf(u.desiredState as ConformanceState);
            if (this.stuckUnits.has(u.name) || want < 0 || u.machineIDs.some(frozen)) continue;
            if (isTemplate(u.name)) { this.scheduleTemplate(u, want); continue; }
            if (u.stale) { this.reload(u); continue; }
            const cur = STATES.indexOf(u.currentState);
            if (cur === want) continue;
            if (cur === 0 && u.machineIDs.length === 0) {
                u.machineIDs = this.placement(u);
                if (u.machineIDs.length === 0) continue; // nowhere to run: never scheduled, as fleet leaves it
                this.evictReplaced(u);
                if (u.machineIDs.some(frozen)) continue; // scheduled to a wedged agent: never started
            }
            const done = (this.progress.get(u.name) ?? 0) + 1;
            if (done < (this.opts.ticksPerStep ?? 1)) { this.progress.set(u.name, done); continue; }
            this.progress.delete(u.name);
            u.currentState = STATES[cur + Math.sign(want - cur)];
            this.publish(u);
            if (u.currentState === "inactive") u.machineIDs = [];
        }
    }

    /**
     * A template wanted loaded or launched (real fleetd takes one created so): fleet schedules it,
     * systemd refuses to start a template, and that machine's agent never reads unit state again.
     */
    private scheduleTemplate(u: StoredUnit, want: number): void {
        if (want === 0 || u.machineIDs.length > 0) return;
        u.machineIDs = this.placement(u).slice(0, 1);
        for (const id of u.machineIDs) this.wedgedMachines.add(id);
    }

    /** After a replace with new options: the agents stop the old unit file and load the new one. */
    private reload(u: StoredUnit): void {
        u.stale = false;
        u.currentState = "loaded";
        this.publish(u); // overwrites the old file's entries: no stale running entry stays behind
    }

    /**
     * fleet's Replaces (agent/state.go hasReplace, engine/reconciler.go): a unit may land where a unit
     * it replaces runs (exactly one of the two names the other); that one is then moved to another
     * machine or, when there is none, unscheduled and stopped. Not a conflict: the replacer is not
     * kept away from the replaced.
     */
    private evictReplaced(u: StoredUnit): void {
        for (const id of u.machineIDs) {
            for (const x of [...this.units.values()].filter((o) => o !== u && o.machineIDs.includes(id) && replaces(u, o))) {
                for (const key of [...this.published.keys()]) if (key === `${x.name}\u0000${id}`) this.published.delete(key); // stopped
                const elsewhere = this.placement(x).filter((m) => m !== id);
                x.machineIDs = elsewhere.slice(0, 1);
                x.currentState = "inactive";
                this.progress.delete(x.name);
            }
        }
    }

    private publish(u: StoredUnit): void {
        const exits = this.exitingUnits.has(u.name) || u.options.some((o) => o.section === "Service" && o.name === "ExecStart" && /^-?(\/usr)?\/bin\/false(\s|$)/.test(o.value));
        for (const machineID of u.machineIDs) {
            const key = `${u.name}\u0000${machineID}`;
            if (u.currentState === "inactive") { this.published.delete(key); continue; }
            // systemd's view, not fleet's wish: a started process that exits leaves the unit failed
            const [active, sub] = u.currentState !== "launched" ? ["inactive", "dead"] : exits ? ["failed", "failed"] : ["active", "running"];
            this.published.set(key, { name: u.name, hash: u.hash, machineID, systemdLoadState: "loaded", systemdActiveState: active, systemdSubState: sub });
        }
    }

    /** Machines a unit may run on now; one (the least loaded) unless Global. */
    private placement(u: StoredUnit): string[] {
        const r = requirements(u.name, u.options);
        const on = (id: string) => [...this.units.values()].filter((x) => x !== u && x.machineIDs.includes(id));
        const clashes = (x: StoredUnit) => {
            const other = requirements(x.name, x.options);
            // a replaced unit is kept off its replacer's machine (it was moved away from it)
            return r.conflicts.some((g) => globMatch(g, x.name)) || other.conflicts.some((g) => globMatch(g, u.name)) || replaces(x, u);
        };
        const eligible = this.machines.filter((m) =>
            (!r.machineID || m.id.startsWith(r.machineID))
            && r.metadata.every(([k, v]) => m.metadata?.[k] === v)
            && r.peers.every((p) => this.units.get(p)?.machineIDs.includes(m.id))
            && !on(m.id).some(clashes));
        if (r.global) return eligible.map((m) => m.id);
        if (eligible.length === 0) return [];
        return [eligible.reduce((a, b) => (on(b.id).length < on(a.id).length ? b : a)).id];
    }
}

/** `a` replaces `b`: a's Replaces globs name b, and b's do not name a (fleet ignores a circular pair). */
function replaces(a: StoredUnit, b: StoredUnit): boolean {
    const names = (x: StoredUnit, y: StoredUnit) => requirements(x.name, x.options).replaces.some((g) => globMatch(g, y.name));
    return names(a, b) && !names(b, a);
}
