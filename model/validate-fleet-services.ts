// Validation of `fleetServices`: templated fleet services with presence sidekicks
// (components/fleet/fleet-service.ts). Pure, and every problem names its item, e.g.
// `coreos-cluster:fleetServices[0].count`. The FleetService provider's check applies the same
// rules again at deploy time; here they stop a stack before any resource exists.

import { FleetServiceConfig, FleetUnitSpec, ServiceScheme, ServiceSpec } from "./types";
import { Problems, checkFields, describeValue } from "./config-reader";
import { DOCKER_IMAGE, instanceName, isTemplateName, optionLineProblems, parseUnitFileLenient, systemUnitProblem, xFleetProblems } from "./fleet-rules";
import { serviceNameProblem } from "./service-naming";
import { portNumberProblem } from "./ports";

const FIELDS = ["name", "image", "containerPort", "content", "instancePort", "count", "scheme", "hostPort", "ttlSeconds", "waitTimeoutSeconds"] as const;
/** A rolling update briefly runs two generations: 2 x 100 instances and sidekicks is plenty for one service. */
export const FLEET_SERVICE_MAX_COUNT = 100;

export interface FleetServiceContext {
    /** The stack's declared `services` (ServiceRegistrationSet): a fleet service must not be one of them. */
    services: ServiceSpec[];
    /** The stack's validated `fleetUnits`: their names (and instances) must not be a fleet service's units. */
    fleetUnits: FleetUnitSpec[];
}

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/** Every unit name of the stack's fleetUnits (templates, their instances, plain units), with where it is declared. */
function declaredUnits(units: FleetUnitSpec[]): Array<{ unit: string; at: string }> {
    return units.flatMap((u, i) => [
        { unit: u.name, at: `fleetUnits[${i}]` },
        ...(isTemplateName(u.name) ? (u.instances ?? []).map((n) => ({ unit: instanceName(u.name, n), at: `fleetUnits[${i}]` })) : []),
    ]);
}

/** The fleetUnits entry holding a unit that is, or is an instance of, `<name>@.service` or `<name>_presence@.service`. */
function unitClash(name: string, units: Array<{ unit: string; at: string }>): { unit: string; at: string } | undefined {
    return units.find(({ unit }) => [`${name}@`, `${name}_presence@`].some((stem) => unit.startsWith(stem) && unit.endsWith(".service")));
}

function port(problems: Problems, path: string, value: unknown, what: string): void {
    if (!isInt(value) || value < 1 || value > 65535) problems.add(path, `must be ${what} (an integer 1-65535), got ${describeValue(value)}`);
}

export function validateFleetServices(items: Array<Record<string, unknown> | undefined>, ctx: FleetServiceContext, problems: Problems): FleetServiceConfig[] {
    const out: FleetServiceConfig[] = [];
    const firstByName = new Map<string, number>();
    const units = declaredUnits(ctx.fleetUnits);

    items.forEach((item, i) => {
        if (!item) return;
        const path = `fleetServices[${i}]`;
        checkFields(problems, path, item, FIELDS);
        const before = problems.count;

        const name = item.name;
        const nameProblem = typeof name === "string" ? serviceNameProblem(name) : `is required and must be a string, got ${describeValue(name)}`;
        if (nameProblem) problems.add(`${path}.name`, nameProblem);
        else {
            const n = name as string;
            const declared = ctx.services.findIndex((s) => s.name === n);
            const clash = unitClash(n, units);
            if (firstByName.has(n)) problems.add(`${path}.name`, `duplicate fleet service "${n}" (also fleetServices[${firstByName.get(n)}])`);
            else firstByName.set(n, i);
            // The ownership rule (docs/fleet-units.md): sidekick keys must not fight declared hosts.
            if (declared >= 0) {
                problems.add(`${path}.name`, `"${n}" is also declared in coreos-cluster:services[${declared}]: a service is either announced by its fleet sidekicks or registered from services, not both`);
            }
            if (clash) problems.add(`${path}.name`, `"${n}" would push ${n}@.service and ${n}_presence@.service, but ${clash.at} already declares the unit ${clash.unit}`);
            const shadow = systemUnitProblem(`${n}@.service`) ?? systemUnitProblem(`${n}_presence@.service`);
            if (shadow) problems.add(`${path}.name`, `fleet service "${n}": ${shadow}`);
        }

        // Exactly one way to say what runs, and the port that goes with it (nothing silently ignored).
        const hasImage = item.image !== undefined;
        const hasContent = item.content !== undefined;
        if (hasImage === hasContent) {
            problems.add(path, "give exactly one of image (a docker image, with containerPort) and content (the template's unit file, with instancePort)");
        }
        if (hasImage) {
            if (typeof item.image !== "string" || !DOCKER_IMAGE.test(item.image)) problems.add(`${path}.image`, `${describeValue(item.image)} is not a docker image reference such as nginx:1.27-alpine`);
            port(problems, `${path}.containerPort`, item.containerPort, "the port the image listens on (published on an ephemeral host port)");
        } else if (item.containerPort !== undefined) problems.add(`${path}.containerPort`, "applies to image only; with content, give instancePort");
        if (hasContent) {
            contentProblems(problems, `${path}.content`, item.content, typeof name === "string" ? name : "service");
            port(problems, `${path}.instancePort`, item.instancePort, "the port each instance listens on, on its machine");
        } else if (item.instancePort !== undefined) problems.add(`${path}.instancePort`, "applies to content only; with image, give containerPort");

        const count = item.count;
        if (!isInt(count) || count < 1 || count > FLEET_SERVICE_MAX_COUNT) {
            problems.add(`${path}.count`, `must be a whole number of instances, 1-${FLEET_SERVICE_MAX_COUNT}, got ${describeValue(count)}`);
        }

        const scheme = item.scheme ?? "http";
        if (scheme !== "http" && scheme !== "tcp") problems.add(`${path}.scheme`, `must be "http" or "tcp", got ${describeValue(scheme)}`);
        const hostPort = item.hostPort;
        if (hostPort === undefined) {
            if (scheme === "tcp") problems.add(`${path}.hostPort`, "is required for a tcp service: TCP carries no host name, so the port every worker's router serves it on is what routes to it");
        } else if (scheme === "http") {
            problems.add(`${path}.hostPort`, "applies to tcp services only; an http service is routed by host name on lbHttpPorts");
        } else if (portNumberProblem(hostPort)) {
            // What it collides with is the port table's business (validate-ports.ts).
            problems.add(`${path}.hostPort`, portNumberProblem(hostPort)!);
        }

        const ttl = item.ttlSeconds;
        if (ttl !== undefined && (!isInt(ttl) || ttl < 3 || ttl > 3600)) {
            problems.add(`${path}.ttlSeconds`, `must be a whole number of seconds, 3-3600 (the sidekick refreshes every TTL/3), got ${describeValue(ttl)}`);
        }
        const wait = item.waitTimeoutSeconds;
        if (wait !== undefined && (!isInt(wait) || wait < 1 || wait > 3600)) {
            problems.add(`${path}.waitTimeoutSeconds`, `must be a whole number of seconds, 1-3600 (the bound on each wait for fleet), got ${describeValue(wait)}`);
        }

        if (problems.count === before) {
            out.push({
                name: name as string,
                ...(hasImage ? { image: item.image as string, containerPort: item.containerPort as number } : { content: item.content as string, instancePort: item.instancePort as number }),
                count: count as number,
                scheme: scheme as ServiceScheme,
                ...(hostPort !== undefined ? { hostPort: hostPort as number } : {}),
                ...(ttl !== undefined ? { ttlSeconds: ttl as number } : {}),
                ...(wait !== undefined ? { waitTimeoutSeconds: wait as number } : {}),
            });
        }
    });
    return out;
}

/** The template's own unit file: systemd syntax and the option rules fleet enforces. */
function contentProblems(problems: Problems, path: string, content: unknown, service: string): void {
    if (typeof content !== "string") return problems.add(path, `must be unit file text, got ${describeValue(content)}`);
    const parsed = parseUnitFileLenient(content);
    parsed.problems.forEach((p) => problems.add(path, `unit file syntax: ${p}`));
    if (parsed.problems.length > 0) return;
    if (parsed.options.length === 0) return problems.add(path, "the unit has no options; fleet refuses an empty unit");
    const rules = [...optionLineProblems(parsed.options), ...xFleetProblems(parsed.options, `${service}@.service`)];
    rules.forEach((p) => problems.add(path, `fleet would refuse this unit: ${p}`));
}
