// LocalFleetUnit: the local platform's stand-in for FleetUnit. There is no fleetd here, so
// a unit is validated with the same fleet rules (model/fleet-rules.ts) and written as unit
// file(s) into a folder: the template itself and one file per listed instance. Nothing
// schedules or runs them; the `note` output says so.
//
// The provider's side of LocalFleetUnit (local-fleet-unit.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import type { FleetDesiredState, FleetUnitOption, FleetUnitSpec } from "../../model/types";
import { removeIfEmpty } from "./processes";
import { fleetUnitSpecProblems, instanceName, isTemplateName, resolveUnitOptions, unitFileText } from "../../model/fleet-rules";

export interface LocalFleetUnitInputs extends FleetUnitSpec {
    /** Absolute folder the unit files are written to. */
    directory: string;
    waitTimeoutSeconds?: number;
    providerVersion: string;
}

export interface LocalFleetUnitState extends LocalFleetUnitInputs {
    /** The unit file first, then one file per instance. */
    paths: string[];
    /** The state fleet would be asked for (templates without instances: inactive). Recorded, not applied. */
    effectiveState: FleetDesiredState;
    note: string;
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** File name -> unit text for one declaration: the unit itself and its instances. */
export function unitFiles(spec: FleetUnitSpec): Array<{ name: string; text: string }> {
    const { options } = resolveUnitOptions(spec);
    const text = typeof spec.content === "string" ? spec.content : unitFileText(options as FleetUnitOption[]);
    const files = [{ name: spec.name, text }];
    if (isTemplateName(spec.name)) {
        for (const instance of spec.instances ?? []) files.push({ name: instanceName(spec.name, instance), text });
    }
    return files;
}

function expectedPaths(inputs: LocalFleetUnitInputs): string[] {
    const path: typeof import("path") = require("path");
    return unitFiles(inputs).map((f) => path.join(inputs.directory, f.name));
}

function effectiveState(spec: FleetUnitSpec): FleetDesiredState {
    if (isTemplateName(spec.name) && (spec.instances ?? []).length === 0) return "inactive";
    return spec.desiredState ?? "launched";
}

function writeUnits(inputs: LocalFleetUnitInputs, previous: string[]): LocalFleetUnitState {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    const problems = fleetUnitSpecProblems(inputs);
    if (problems.length > 0) throw new Error(`fleet unit ${inputs.name}: ${problems.join("; ")}`);
    fs.mkdirSync(inputs.directory, { recursive: true });
    const files = unitFiles(inputs);
    const paths = files.map((f) => path.join(inputs.directory, f.name));
    const clash = paths.find((p) => !previous.includes(p) && fs.existsSync(p));
    if (clash) throw new Error(`fleet unit ${inputs.name}: ${clash} already exists (another unit of that name?); not overwriting it`);
    files.forEach((f, i) => fs.writeFileSync(paths[i], f.text.endsWith("\n") ? f.text : f.text + "\n"));
    for (const stale of previous.filter((p) => !paths.includes(p))) fs.rmSync(stale, { force: true });
    const state = effectiveState(inputs);
    // a FleetService's units (components/fleet/fleet-service-units.ts) carry this [Unit] key
    const fleetService = resolveUnitOptions(inputs).options.find((o) => o.section === "Unit" && o.name === "X-FleetService")?.value;
    const serviceNote = fleetService
        ? `; it belongs to the FleetService ${fleetService}: its rolling update and its presence sidekicks' etcd registration do not run locally either (tested against the fleet conformance server and real etcd instead)`
        : "";
    return {
        ...inputs,
        paths,
        effectiveState: state,
        note:
            `written to ${inputs.directory}: there is no fleetd on the local platform, so nothing schedules or runs ` +
            `${inputs.name} (desired state ${state} is recorded, not applied)${serviceNote}`,
    };
}

export const provider: ProviderOperations = {
    async check(_olds: LocalFleetUnitInputs, news: LocalFleetUnitInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const known = (v: unknown) => v !== UNKNOWN && !JSON.stringify(v ?? null).includes(UNKNOWN);
        if (typeof news.directory !== "string" || (known(news.directory) && !news.directory.startsWith("/"))) {
            failures.push({ property: "directory", reason: `directory must be an absolute path, got ${String(news.directory)}` });
        }
        if ([news.name, news.content, news.options, news.instances, news.desiredState].every(known)) {
            for (const problem of fleetUnitSpecProblems(news)) {
                failures.push({ property: "name", reason: `fleet unit ${String(news.name)}: ${problem}` });
            }
        }
        return { inputs: news, failures };
    },

    async diff(_id: string, olds: LocalFleetUnitState, news: LocalFleetUnitInputs) {
        const replaces = (["name", "directory"] as const).filter((key) => olds[key] !== news[key]);
        const fs: typeof import("fs") = require("fs");
        const expected = expectedPaths(news);
        const filesDrifted = expected.some((p) => !(olds.paths ?? []).includes(p) || !fs.existsSync(p));
        const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
        const changes =
            replaces.length > 0 ||
            filesDrifted ||
            !same(olds.content, news.content) ||
            !same(olds.options, news.options) ||
            !same(olds.instances, news.instances) ||
            olds.desiredState !== news.desiredState ||
            olds.providerVersion !== news.providerVersion;
        return { changes, replaces: [...replaces], deleteBeforeReplace: true };
    },

    async create(inputs: LocalFleetUnitInputs) {
        const path: typeof import("path") = require("path");
        return { id: path.join(inputs.directory, inputs.name), outs: writeUnits(inputs, []) };
    },

    async read(id: string, props: LocalFleetUnitState) {
        const fs: typeof import("fs") = require("fs");
        return { id, props: { ...props, paths: (props.paths ?? []).filter((p) => fs.existsSync(p)) } };
    },

    async update(_id: string, olds: LocalFleetUnitState, news: LocalFleetUnitInputs) {
        return { outs: writeUnits(news, olds.paths ?? []) };
    },

    async delete(_id: string, props: LocalFleetUnitState) {
        const fs: typeof import("fs") = require("fs");
        for (const p of props.paths ?? []) fs.rmSync(p, { force: true });
        removeIfEmpty(props.directory);
    },
};
