// The two templates of a FleetService, as pure data: `<name>@.service` (the service itself) and
// `<name>_presence@.service`, its sidekick, which announces each instance in etcd under the key
// layout the router reads (model/service-keys.ts):
//   <prefix>/<name>/hosts/<instance>  ip:port   (lease with TTL, refreshed every TTL/3)
//   <prefix>/<name>/scheme            http|tcp  (same lease)
//   <prefix>/<name>/host_port         optional  (same lease)
// and, under the owner namespace, a marker naming fleet as the announcer, so a declared
// ServiceRegistration(Set) of the same service refuses it and a sidekick refuses to announce a
// service someone else declared (docs/fleet-units.md, "Ownership").
// Imports only Pulumi-free modules: the FleetService provider bundles this file.
import { certFile, keyFile, TRUST_BUNDLE_FILE } from "../../model/pki-delivery";
import type { FleetUnitOption } from "../../model/types";
import { encodeOwnerMarker, ownerMarkerKey, serviceRoot } from "../../model/service-keys";
import { setRecordsPrefix } from "../../model/set-records";

export interface FleetServiceSpec {
    service: string;
    prefix: string;
    scheme: "http" | "tcp";
    /** Docker image run by each instance, publishing containerPort on an ephemeral host port... */
    image?: string;
    containerPort?: number;
    /** ...or the template's own unit file options, whose instances listen on instancePort. */
    options?: FleetUnitOption[];
    instancePort?: number;
    /** The service's host_port key (what the router publishes it on; required for tcp). */
    hostPort?: number;
    ttlSeconds: number;
    /** etcd v3 client URLs the sidekick writes to (a worker's local etcd is a v2 proxy: name the members). */
    etcdEndpoints: string;
}

export const FLEET_SERVICE_OWNER_PREFIX = "fleet:";
/** Lease TTL of the announced keys when none is given (the provider's and the local platform's). */
export const DEFAULT_TTL_SECONDS = 30;
/** The [Unit] key that marks units a FleetService generated (systemd ignores X- keys). */
export const OWNER_OPTION = "X-FleetService";

export const templateName = (service: string) => `${service}@.service`;
export const sidekickTemplateName = (service: string) => `${service}_presence@.service`;
export const instanceUnit = (service: string, n: string) => `${service}@${n}.service`;
export const sidekickUnit = (service: string, n: string) => `${service}_presence@${n}.service`;

/** The owner marker the sidekicks keep alive: the service is fleet-announced. */
export function sidekickMarker(spec: Pick<FleetServiceSpec, "service" | "prefix">): { key: string; value: string } {
    const root = serviceRoot(spec.prefix, spec.service);
    return { key: ownerMarkerKey(spec.prefix, spec.service), value: encodeOwnerMarker({ owner: `${FLEET_SERVICE_OWNER_PREFIX}${root}`, keys: [] }, root) };
}

const ownerOption = (spec: FleetServiceSpec): FleetUnitOption => ({ section: "Unit", name: OWNER_OPTION, value: serviceRoot(spec.prefix, spec.service) });

/**
 * Instances run on workers: the sidekick announces the machine's own address, and only workers run
 * the router and are admitted to each other's instance ports (model/firewall.ts). Every machine's
 * fleet metadata carries its role (cloud-config/build.ts).
 */
export const ON_WORKERS: FleetUnitOption = { section: "X-Fleet", name: "MachineMetadata", value: "role=worker" };
const PLACEMENT = ["MachineMetadata", "X-ConditionMachineMetadata", "MachineID", "X-ConditionMachineID", "MachineOf", "X-ConditionMachineOf"];

export function serviceTemplateOptions(spec: FleetServiceSpec): FleetUnitOption[] {
    if (spec.options) {
        const own = spec.options.filter((o) => !(o.section === "Unit" && o.name === OWNER_OPTION));
        // A unit file that places itself keeps its placement; otherwise it goes to workers, as the image form does.
        const placed = own.some((o) => o.section === "X-Fleet" && PLACEMENT.includes(o.name));
        return [ownerOption(spec), ...own, ...(placed ? [] : [ON_WORKERS])];
    }
    const container = `${spec.service}-%i`;
    return [
        { section: "Unit", name: "Description", value: `${spec.service} %i (${spec.image})` },
        ownerOption(spec),
        { section: "Unit", name: "After", value: "docker.service" },
        { section: "Unit", name: "Requires", value: "docker.service" },
        { section: "Service", name: "TimeoutStartSec", value: "0" },
        { section: "Service", name: "ExecStartPre", value: `-/usr/bin/docker rm -f ${container}` },
        { section: "Service", name: "ExecStart", value: `/usr/bin/docker run --rm --name ${container} -p ${spec.containerPort} ${spec.image}` },
        { section: "Service", name: "ExecStop", value: `/usr/bin/docker stop ${container}` },
        ON_WORKERS,
    ];
}

/**
 * The sidekick's loop as bash, with `@I@` where the instance goes. It avoids quotes systemd would
 * reinterpret and backslashes (systemd unescapes them); the marker value travels base64-encoded.
 */
export function sidekickScript(spec: FleetServiceSpec): string {
    const root = serviceRoot(spec.prefix, spec.service);
    const marker = sidekickMarker(spec);
    const records = setRecordsPrefix(spec.prefix);
    const every = Math.max(1, Math.floor(spec.ttlSeconds / 3));
    const port = spec.image
        ? `p=$(docker port ${spec.service}-@I@ ${spec.containerPort}/tcp | head -n1); port=\${p##*:}`
        : `port=${spec.instancePort}`;
    const extra = spec.hostPort !== undefined ? ` && etcdctl put --lease=$lease ${root}/host_port ${spec.hostPort} >/dev/null` : "";
    const body = [
        `cur=$(etcdctl get --print-value-only ${marker.key}) || { sleep 2; continue; }`,
        `if [ -n "$cur" ] && [ "$cur" != "$ours" ]; then echo "${root} is declared by another owner ($cur): not announcing" >&2; exit 1; fi`,
        // No marker: a ServiceRegistrationSet may still claim it, by a line of its records.
        `if [ -z "$cur" ]; then recs=$(etcdctl get --prefix --print-value-only ${records}) || { sleep 2; continue; }; if echo "$recs" | grep -q "^${spec.service} "; then echo "${root} is declared by a ServiceRegistrationSet (a record under ${records}): not announcing" >&2; exit 1; fi; fi`,
        port,
        `if [ -z "$port" ]; then sleep 2; continue; fi`,
        `set -- $(etcdctl lease grant ${spec.ttlSeconds}); lease=$2`,
        `etcdctl put --lease=$lease ${root}/hosts/@I@ $COREOS_PRIVATE_IPV4:$port >/dev/null && etcdctl put --lease=$lease ${root}/scheme ${spec.scheme} >/dev/null${extra} && etcdctl put --lease=$lease ${marker.key} "$ours" >/dev/null`,
        `sleep ${every}`,
    ];
    return `ours=$(echo ${Buffer.from(marker.value).toString("base64")} | base64 -d); while :; do ${body.join("; ")}; done`;
}

/** The sidekick's ExecStop: remove this instance's host key, if fleet still announces the service. */
export function sidekickStopScript(spec: FleetServiceSpec): string {
    const marker = sidekickMarker(spec);
    return `if [ "$(etcdctl get --print-value-only ${marker.key})" = "$(echo ${Buffer.from(marker.value).toString("base64")} | base64 -d)" ]; then etcdctl del ${serviceRoot(spec.prefix, spec.service)}/hosts/@I@ >/dev/null; fi`;
}

/** systemd's escaping for an Exec line: `$` and `%` are doubled, then the instance placeholder becomes %i. */
const execEscape = (script: string) => script.replace(/\$/g, "$$$$").replace(/%/g, "%%").replace(/@I@/g, "%i");

export function sidekickTemplateOptions(spec: FleetServiceSpec): FleetUnitOption[] {
    const root = serviceRoot(spec.prefix, spec.service);
    return [
        { section: "Unit", name: "Description", value: `announce ${spec.service} %i at ${root}/hosts/%i` },
        ownerOption(spec),
        { section: "Unit", name: "BindsTo", value: `${spec.service}@%i.service` },
        { section: "Unit", name: "After", value: `${spec.service}@%i.service` },
        { section: "Service", name: "EnvironmentFile", value: "/etc/environment" },
        { section: "Service", name: "Environment", value: "ETCDCTL_API=3" },
        { section: "Service", name: "Environment", value: `ETCDCTL_ENDPOINTS=${spec.etcdEndpoints}` },
        // Mutual TLS as the sidekick identity (docs/security.md), from the worker's fetched bundle.
        { section: "Service", name: "Environment", value: `ETCDCTL_CACERT=${TRUST_BUNDLE_FILE}` },
        { section: "Service", name: "Environment", value: `ETCDCTL_CERT=${certFile("sidekick")}` },
        { section: "Service", name: "Environment", value: `ETCDCTL_KEY=${keyFile("sidekick")}` },
        { section: "Service", name: "ExecStart", value: `/bin/bash -c '${execEscape(sidekickScript(spec))}'` },
        // a stopped instance leaves the router at once, not when its lease runs out
        // only while the marker is fleet's: after a declared registration took the service over, hosts/<n> is not ours
        { section: "Service", name: "ExecStop", value: `/bin/bash -c '${execEscape(sidekickStopScript(spec))}'` },
        { section: "X-Fleet", name: "MachineOf", value: `${spec.service}@%i.service` },
    ];
}

/**
 * What systemd would run for an Exec value of an instance: quoting, `%i`, `%%` and `$$` undone.
 * Only what these units use (single quotes, no backslashes); tests run the sidekick through it.
 */
export function execArgv(value: string, instance: string): string[] {
    const words: string[] = [];
    const re = /'([^']*)'|(\S+)/g;
    for (let m = re.exec(value); m; m = re.exec(value)) words.push(m[1] ?? m[2]);
    return words.map((w) => w.replace(/%%|%i|\$\$/g, (t) => (t === "%%" ? "%" : t === "%i" ? instance : "$")));
}

/**
 * The FleetService as plain fleet unit declarations (both templates, instances 1..count), for a
 * platform without fleetd: the local platform writes them as files and says nothing runs them.
 */
export function fleetServiceDeclarations(spec: FleetServiceSpec, count: number): Array<{ name: string; options: FleetUnitOption[]; instances: string[] }> {
    const instances = Array.from({ length: count }, (_, i) => String(i + 1));
    return [
        { name: templateName(spec.service), options: serviceTemplateOptions(spec), instances },
        { name: sidekickTemplateName(spec.service), options: sidekickTemplateOptions(spec), instances },
    ];
}
