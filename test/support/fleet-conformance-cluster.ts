// The conformance server's simulated cluster: fleet's engine (scheduling with MachineID, MachineOf,
// MachineMetadata, Conflicts, Replaces and Global over simulated machines) and its agents, which
// publish what /state reports. Everything moves only on a tick (fleet's reconcile interval), so
// /state lags /units, and a deleted unit's state lingers, with its old hash, for a few ticks.
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
    private readonly published = new Map<string, PublishedState & { lingerUntil?: number }>();
    private readonly progress = new Map<string, number>();
    private ticks = 0;

    constructor(private readonly opts: ClusterOptions = {}) {
        this.machines = opts.machines ?? defaultMachines();
    }

    put(name: string, options: ConformanceUnitOption[], desiredState: string): void {
        this.units.set(name, { name, options, desiredState, currentState: "inactive", machineIDs: [], hash: unitHash(options) });
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
        for (const [key, s] of this.published) if (s.lingerUntil !== undefined && s.lingerUntil <= this.ticks) this.published.delete(key);
        for (const u of [...this.units.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const want = STATES.indexOf(u.desiredState as ConformanceState);
            if (this.stuckUnits.has(u.name) || isTemplate(u.name) || want < 0) continue;
            const cur = STATES.indexOf(u.currentState);
            if (cur === want) continue;
            if (cur === 0 && u.machineIDs.length === 0) {
                u.machineIDs = this.placement(u);
                if (u.machineIDs.length === 0) continue; // nowhere to run: never scheduled, as fleet leaves it
            }
            const done = (this.progress.get(u.name) ?? 0) + 1;
            if (done < (this.opts.ticksPerStep ?? 1)) { this.progress.set(u.name, done); continue; }
            this.progress.delete(u.name);
            u.currentState = STATES[cur + Math.sign(want - cur)];
            this.publish(u);
            if (u.currentState === "inactive") u.machineIDs = [];
        }
    }

    private publish(u: StoredUnit): void {
        for (const machineID of u.machineIDs) {
            const key = `${u.name}\u0000${machineID}`;
            if (u.currentState === "inactive") { this.published.delete(key); continue; }
            const active = u.currentState === "launched";
            this.published.set(key, {
                name: u.name, hash: u.hash, machineID, systemdLoadState: "loaded",
                systemdActiveState: active ? "active" : "inactive", systemdSubState: active ? "running" : "dead",
            });
        }
    }

    /** Machines a unit may run on now; one (the least loaded) unless Global. */
    private placement(u: StoredUnit): string[] {
        const r = requirements(u.name, u.options);
        const on = (id: string) => [...this.units.values()].filter((x) => x !== u && x.machineIDs.includes(id));
        const clashes = (x: StoredUnit) => {
            const other = requirements(x.name, x.options);
            return r.conflicts.some((g) => globMatch(g, x.name)) || other.conflicts.some((g) => globMatch(g, u.name))
                || r.replaces.includes(x.name) || other.replaces.includes(u.name);
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
