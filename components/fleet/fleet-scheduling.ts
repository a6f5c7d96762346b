// Pure fleet facts the provider needs to judge what /state says: the unit hash fleet reports
// (so a wait is satisfied only by the unit file just pushed, not by a deleted predecessor whose
// state lingers), and why fleet has not scheduled a unit (Conflicts, MachineOf, metadata).
// Imports only Pulumi-free modules: the FleetService provider bundles this file.
import type { FleetUnitOption } from "../../model/types";
import { expandSpecifiers, splitFleetValues, unitFileText } from "../../model/fleet-rules";

/**
 * fleet's unit hash: sha1 of the unit file text (go-systemd's serialization, which unitFileText
 * reproduces), in hex. It is what UnitState.hash carries and what fleetctl list-unit-files shows.
 */
export function fleetUnitHash(options: FleetUnitOption[]): string {
    const crypto = require("crypto") as typeof import("crypto");
    return crypto.createHash("sha1").update(unitFileText(options)).digest("hex");
}

/** Option values fleet stores differently from how they were sent, so its hash would never match. */
export function valueRewriteProblems(options: FleetUnitOption[]): string[] {
    const problems: string[] = [];
    for (const o of options) {
        if (typeof o?.value !== "string") continue;
        if (o.value.endsWith("\\")) problems.push(`[${o.section}] ${o.name}: value ends in a backslash, which fleet joins with the next option`);
        else if (o.value !== o.value.trim()) problems.push(`[${o.section}] ${o.name}: value has leading or trailing whitespace, which fleet strips`);
    }
    return problems;
}

export interface PlacedUnit { name: string; options: FleetUnitOption[]; machineID?: string }
export interface MachineInfo { id: string; metadata?: Record<string, string> }

function xFleet(name: string, options: FleetUnitOption[], ...keys: string[]): string[] {
    return options.filter((o) => o.section === "X-Fleet" && keys.includes(o.name)).flatMap((o) => splitFleetValues(expandSpecifiers(o.value, name)));
}

function globMatch(glob: string, name: string): boolean {
    return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(name);
}

/**
 * Why no machine can take `unit` now, given where the other units run; undefined when some machine
 * could. Used to explain a wait that ran out on a unit fleet never scheduled.
 */
export function unschedulableReason(unit: PlacedUnit, others: PlacedUnit[], machines: MachineInfo[]): string | undefined {
    const conflicts = xFleet(unit.name, unit.options, "Conflicts", "X-Conflicts");
    const metadata = xFleet(unit.name, unit.options, "MachineMetadata", "X-ConditionMachineMetadata").map((kv) => kv.split("="));
    const peers = xFleet(unit.name, unit.options, "MachineOf", "X-ConditionMachineOf");
    const placed = others.filter((o) => o.name !== unit.name && o.machineID);
    const reasons: string[] = [];
    let free = 0;
    for (const m of machines) {
        const here = placed.filter((o) => o.machineID === m.id);
        const clash = here.find((o) => conflicts.some((g) => globMatch(g, o.name)) || xFleet(o.name, o.options, "Conflicts", "X-Conflicts").some((g) => globMatch(g, unit.name)));
        const missingMeta = metadata.find(([k, v]) => m.metadata?.[k] !== v);
        const missingPeer = peers.find((p) => !here.some((o) => o.name === p));
        if (clash) reasons.push(`${m.id.slice(0, 8)} runs ${clash.name} (Conflicts)`);
        else if (missingMeta) reasons.push(`${m.id.slice(0, 8)} lacks metadata ${missingMeta.join("=")}`);
        else if (missingPeer) reasons.push(`${m.id.slice(0, 8)} does not run ${missingPeer} (MachineOf)`);
        else free++;
    }
    if (free > 0) return undefined;
    if (machines.length === 0) return "fleet reports no machines";
    return `no machine of ${machines.length} can take it: ${reasons.join("; ")}`;
}
