// Validation of the list-valued workload keys: services to register in etcd and fleet
// units to push. Every problem names the item, e.g. `coreos-cluster:services[2].hosts[0]`.

import { FleetDesiredState, FleetUnitOption, FleetUnitSpec, ServiceScheme, ServiceSpec } from "./types";
import { Problems, checkFields, describeValue, isPlainObject } from "./config-reader";
import { HostRuleContext, serviceHostProblem } from "./service-hosts";
import { portNumberProblem } from "./ports";
import {
    DESIRED_STATES,
    systemUnitProblem,
    templateSpecProblem,
    instanceName,
    isTemplateName,
    optionLineProblems,
    parseUnitFileLenient,
    unitNameProblems,
    xFleetProblems,
} from "./fleet-rules";

import { SERVICE_NAME, serviceNameProblem } from "./service-naming";

export { SERVICE_NAME };
const SERVICE_FIELDS = ["name", "scheme", "hosts", "host_port", "public"] as const;
const UNIT_FIELDS = ["name", "content", "options", "desiredState", "instances"] as const;
const OPTION_FIELDS = ["section", "name", "value"] as const;

export function validateServices(items: Array<Record<string, unknown> | undefined>, problems: Problems): ServiceSpec[] {
    const services: ServiceSpec[] = [];
    const firstIndexByName = new Map<string, number>();
    items.forEach((item, i) => {
        if (!item) return;
        const path = `services[${i}]`;
        checkFields(problems, path, item, SERVICE_FIELDS);
        const before = problems.count;

        const name = item.name;
        if (typeof name !== "string") {
            problems.add(`${path}.name`, `is required and must be a string, got ${describeValue(name)}`);
        } else if (!SERVICE_NAME.test(name)) {
            problems.add(`${path}.name`, serviceNameProblem(name)!);
        } else if (firstIndexByName.has(name)) {
            problems.add(`${path}.name`, `duplicate service name "${name}" (also services[${firstIndexByName.get(name)}])`);
        } else {
            firstIndexByName.set(name, i);
        }

        const scheme = item.scheme;
        if (scheme !== "http" && scheme !== "tcp") {
            problems.add(`${path}.scheme`, `must be "http" or "tcp", got ${describeValue(scheme)}`);
        }

        const hosts = item.hosts;
        if (!Array.isArray(hosts) || hosts.length === 0) {
            problems.add(`${path}.hosts`, `must be a non-empty list of ip:port entries, got ${describeValue(hosts)}`);
        } else {
            const seen = new Set<string>();
            hosts.forEach((host, j) => {
                const hostPath = `${path}.hosts[${j}]`;
                if (typeof host !== "string") return problems.add(hostPath, `must be an "ip:port" string, got ${describeValue(host)}`);
                const problem = serviceHostProblem(host);
                if (problem) return problems.add(hostPath, problem);
                if (seen.has(host)) return problems.add(hostPath, `duplicate host "${host}"`);
                seen.add(host);
            });
        }

        const hostPort = item.host_port;
        if (hostPort === undefined) {
            if (scheme === "tcp") {
                problems.add(`${path}.host_port`, "is required for a tcp service: TCP carries no host name, so the port the load balancer exposes is what routes to it");
            }
        } else if (portNumberProblem(hostPort)) {
            problems.add(`${path}.host_port`, portNumberProblem(hostPort)!);
        }

        const isPublic = item.public;
        if (isPublic !== undefined && typeof isPublic !== "boolean") {
            problems.add(`${path}.public`, `must be true or false, got ${describeValue(isPublic)}`);
        } else if (isPublic === true && hostPort === undefined) {
            problems.add(`${path}.public`, "applies to a service's host_port, and this service has none (http services are public on lbHttpPorts)");
        }

        if (problems.count === before) {
            services.push({
                name: name as string,
                scheme: scheme as ServiceScheme,
                hosts: hosts as string[],
                ...(hostPort !== undefined ? { hostPort: hostPort as number } : {}),
                ...(isPublic === true ? { public: true } : {}),
            });
        }
    });
    return services;
}

/** Hosts of validated services against the cluster they route for (members, reserved ports): `services[i].hosts[j]`. */
export function checkServiceHosts(services: ServiceSpec[], context: HostRuleContext, problems: Problems): void {
    services.forEach((service, i) =>
        service.hosts.forEach((host, j) => {
            const problem = serviceHostProblem(host, context);
            if (problem) problems.add(`services[${i}].hosts[${j}]`, problem);
        }),
    );
}

export function validateFleetUnits(items: Array<Record<string, unknown> | undefined>, problems: Problems): FleetUnitSpec[] {
    const units: FleetUnitSpec[] = [];
    const owner = new Map<string, string>();
    const claim = (unitName: string, path: string): void => {
        if (owner.has(unitName)) problems.add(path, `duplicate unit "${unitName}" (also ${owner.get(unitName)})`);
        else owner.set(unitName, path);
    };
    items.forEach((item, i) => {
        if (!item) return;
        const path = `fleetUnits[${i}]`;
        checkFields(problems, path, item, UNIT_FIELDS);
        const before = problems.count;

        const name = item.name;
        let validName = false;
        if (typeof name !== "string") {
            problems.add(`${path}.name`, `is required and must be a string, got ${describeValue(name)}`);
        } else {
            const shadow = systemUnitProblem(name);
            const nameProblems = shadow ? [] : unitNameProblems(name);
            if (shadow) problems.add(`${path}.name`, shadow);
            nameProblems.forEach((p) => problems.add(`${path}.name`, `fleet would refuse this unit: ${p}`));
            validName = nameProblems.length === 0 && !shadow;
            if (validName) claim(name, `${path}.name`);
        }
        const template = validName && isTemplateName(name as string);

        const options = unitOptions(item, path, problems, validName ? (name as string) : undefined);

        const desiredState = item.desiredState;
        if (desiredState !== undefined && !DESIRED_STATES.includes(desiredState as FleetDesiredState)) {
            problems.add(`${path}.desiredState`, `must be one of ${DESIRED_STATES.join(", ")}, got ${describeValue(desiredState)}`);
        }

        const instances = item.instances;
        // On a template desiredState is its instances' state; with none it would ask fleet to run the template itself.
        const templateState = template ? templateSpecProblem(name, desiredState, Array.isArray(instances) ? instances : []) : undefined;
        if (templateState) problems.add(`${path}.desiredState`, templateState);
        if (instances !== undefined) {
            if (!Array.isArray(instances)) {
                problems.add(`${path}.instances`, `must be a list of instance names or numbers, got ${describeValue(instances)}`);
            } else if (validName && !template) {
                problems.add(`${path}.instances`, `instances are only for template units (name@.service); "${name}" is not a template`);
            } else if (template) {
                instances.forEach((instance, j) => {
                    const instancePath = `${path}.instances[${j}]`;
                    if (!(typeof instance === "string" || (typeof instance === "number" && Number.isInteger(instance) && instance >= 0))) {
                        return problems.add(instancePath, `must be a string or a non-negative integer, got ${describeValue(instance)}`);
                    }
                    if (String(instance) === "") return problems.add(instancePath, "is empty");
                    const expanded = instanceName(name as string, instance);
                    const p = unitNameProblems(expanded);
                    if (p.length > 0) return p.forEach((x) => problems.add(instancePath, `fleet would refuse instance "${expanded}": ${x}`));
                    claim(expanded, instancePath);
                });
            }
        }

        if (problems.count === before && options) {
            units.push({
                name: name as string,
                ...(typeof item.content === "string" ? { content: item.content } : { options }),
                ...(desiredState !== undefined ? { desiredState: desiredState as FleetDesiredState } : {}),
                ...(Array.isArray(instances) ? { instances: instances as Array<string | number> } : {}),
            });
        }
    });
    return units;
}

function unitOptions(
    item: Record<string, unknown>,
    path: string,
    problems: Problems,
    unitName: string | undefined,
): FleetUnitOption[] | undefined {
    const hasContent = item.content !== undefined;
    const hasOptions = item.options !== undefined;
    if (hasContent === hasOptions) {
        problems.add(path, "give exactly one of content (unit file text) and options (a list of {section, name, value})");
        return undefined;
    }
    let options: FleetUnitOption[];
    let where: string;
    if (hasContent) {
        where = `${path}.content`;
        if (typeof item.content !== "string") {
            problems.add(where, `must be unit file text, got ${describeValue(item.content)}`);
            return undefined;
        }
        const parsed = parseUnitFileLenient(item.content);
        parsed.problems.forEach((p) => problems.add(where, `unit file syntax: ${p}`));
        if (parsed.problems.length > 0) return undefined;
        options = parsed.options;
    } else {
        where = `${path}.options`;
        if (!Array.isArray(item.options)) {
            problems.add(where, `must be a list of {section, name, value}, got ${describeValue(item.options)}`);
            return undefined;
        }
        let ok = true;
        options = item.options.map((option, j) => {
            const optionPath = `${where}[${j}]`;
            if (!isPlainObject(option)) {
                ok = false;
                problems.add(optionPath, `must be an object {section, name, value}, got ${describeValue(option)}`);
                return { section: "", name: "", value: "" };
            }
            checkFields(problems, optionPath, option, OPTION_FIELDS);
            for (const field of OPTION_FIELDS) {
                if (typeof option[field] !== "string") {
                    ok = false;
                    problems.add(`${optionPath}.${field}`, `must be a string, got ${describeValue(option[field])}`);
                }
            }
            return { section: String(option.section), name: String(option.name), value: String(option.value) };
        });
        if (!ok) return undefined;
    }
    if (options.length === 0) {
        problems.add(where, "the unit has no options; fleet refuses an empty unit");
        return undefined;
    }
    const ruleProblems = [...optionLineProblems(options), ...xFleetProblems(options, unitName)];
    ruleProblems.forEach((p) => problems.add(where, `fleet would refuse this unit: ${p}`));
    return ruleProblems.length === 0 ? options : undefined;
}
