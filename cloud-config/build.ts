// config + plan -> one MachineModel per machine (pure). Everything role-specific
// is decided here; the flavor emitters only translate the model.

import { ClusterPlan, RenderingConfig, ConfigValidationError, ETCD_CLIENT_PORT, ETCD_PEER_PORT, MachineRole, MemberPlan, WorkerPlan } from "../model/types";
import { EtcdSettings, MachineModel } from "./model";
import { routerParts } from "./router";
import { clientTlsFiles, etcdGatewayUnit, memberTlsSettings } from "./etcd-tls";
import { planBundles, TLS_CONSUMER_DROP_IN, tlsFetchPartsFor } from "./tls-fetch";
import { tlsRefreshParts } from "./tls-refresh";
import { logShipperParts } from "./log-shipper";
import { SecretBundle } from "../model/pki-delivery";
import { configValueProblem, refuseValue } from "./value-safety";
import { zoneLookupParts } from "./zone-lookup";
import { registryPrefix } from "../model/images";
import { rebootStrategyFor } from "../model/reboot-strategy";
import { containerDnsFile, GCE_RESOLVER } from "./container-dns";
import { membersServeMetrics } from "../model/monitoring";
import { ETCD_METRICS_PORT, ROUTER_METRICS_PORT } from "../model/ports";

/** The platform fills this in from the first NIC (GCE metadata server). */
export const PRIVATE_IPV4 = "$private_ipv4";

const RESERVED_FLEET_METADATA = ["role", "zone", "region", "cluster"];
const FLEET_METADATA_TOKEN = /^[A-Za-z0-9_.:\/-]+$/;

/**
 * Where a machine binds and what it calls itself. On GCE every VM is its own host:
 * the platform substitutes $private_ipv4 and local clients use 127.0.0.1. On the
 * local platform all machines share one host, so each binds its own loopback IP
 * (127.0.0.1:2379 would collide) and no platform substitutes variables.
 */
interface Addressing {
    own: string;
    localClients: string;
}

function addressing(config: RenderingConfig, privateIp: string | undefined, machine: string): Addressing {
    if (config.platform === "gcp") return { own: PRIVATE_IPV4, localClients: "127.0.0.1" };
    if (!privateIp) throw new Error(`local machine ${machine} has no planned private IP`);
    return { own: privateIp, localClients: privateIp };
}

/** Every etcd URL is https: mutual TLS on both ports, loopback included (docs/security.md). */
function url(host: string, port: number): string {
    return `https://${host}:${port}`;
}

/** fleet's and locksmith's client identity (both speak v2 through the machine's local endpoint). */
function fleetTls() {
    const f = clientTlsFiles("fleet");
    return { etcd_cafile: f.ca, etcd_certfile: f.cert, etcd_keyfile: f.key };
}

/** The fetch unit and script of the machine's own bundle (cloud-config/tls-fetch.ts); the project is GCE's, none locally. */
function tlsFetch(config: RenderingConfig, bundle: SecretBundle) {
    return tlsFetchPartsFor(bundle, config.platform === "gcp" ? config.gcp.project : "");
}

/** Units that read their certificate only at start: the refresh try-restarts them for a new bundle. */
const RESTART_ON_NEW_BUNDLE = ["fleet.service", "locksmithd.service"];

/** The fetch at boot, and the refresh timer that fetches again and applies what changed (cloud-config/tls-refresh.ts). */
function tlsDelivery(config: RenderingConfig, plan: ClusterPlan, holder: string, member?: MemberPlan) {
    const fetch = tlsFetch(config, bundleOf(config, plan, holder));
    const refresh = tlsRefreshParts(
        member
            ? { role: "member", self: member.name, memberClientUrls: plan.clientUrls, identity: `${member.name}-server`, restartUnits: RESTART_ON_NEW_BUNDLE, etcdUnit: config.os.flavor === "container-linux" ? "etcd2.service" : "etcd-member.service" }
            : { role: "worker", self: "", memberClientUrls: plan.clientUrls, identity: "sidekick", restartUnits: RESTART_ON_NEW_BUNDLE },
        fetch,
    );
    return { units: [fetch.unit, refresh.service, refresh.timer], writeFiles: [fetch.script, refresh.script] };
}

function bundleOf(config: RenderingConfig, plan: ClusterPlan, holder: string): SecretBundle {
    const bundle = planBundles(config.name, plan.members).find((b) => b.holder === holder);
    if (!bundle) throw new Error(`no TLS bundle for ${holder}`);
    return bundle;
}

function clientListenUrls(addr: Addressing): string {
    const urls = [url(addr.own, ETCD_CLIENT_PORT)];
    if (addr.localClients !== addr.own) urls.push(url(addr.localClients, ETCD_CLIENT_PORT));
    return urls.join(",");
}

function refuse(key: string, message: string): never {
    throw new ConfigValidationError([{ key: `coreos-cluster:${key}`, message }]);
}

/**
 * Every config value that reaches user-data, checked here whatever the config validator let
 * through: one line of text, no character YAML 1.1 reads as a line break, no `$private_ipv4`
 * (value-safety.ts). A refusal names the key; the renderers then only quote.
 */
function checkConfigValues(config: RenderingConfig): void {
    const values: Array<[string, string | undefined]> = [
        ["clusterName", config.name],
        ["region", config.gcp.region],
        ...config.gcp.zones.map((zone, i): [string, string] => [`zones[${i}]`, zone]),
        ["etcdVersion", config.etcd.version],
        ["etcdDiscoveryUrl", config.etcd.discoveryUrl],
        ...config.ssh.authorizedKeys.map((key, i): [string, string] => [`sshAuthorizedKeys[${i}]`, key]),
        ["rebootWindowStart", config.updates.windowStart],
        ["rebootWindowLength", config.updates.windowLength],
        ["servicesPrefix", config.servicesPrefix],
        ["imageMirror", config.images?.mirror],
        ["healthCheckPath", config.healthCheck.path],
        ["localFirstAddress", config.platform === "local" ? config.local.firstAddress : undefined],
        ["fleetRelease.version", config.fleet.release?.version],
        ["fleetRelease.url", config.fleet.release?.url],
        ["fleetRelease.sha256", config.fleet.release?.sha256],
    ];
    for (const [key, value] of values) {
        if (value === undefined) continue;
        if (typeof value !== "string") refuseValue(key, "the value", `must be a string, got ${typeof value}`);
        const problem = configValueProblem(value);
        if (problem) refuseValue(key, `the value ${JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)}`, problem);
    }
    if (config.ssh.authorizedKeys.some((key) => key.trim() === "")) {
        refuseValue(`sshAuthorizedKeys[${config.ssh.authorizedKeys.findIndex((key) => key.trim() === "")}]`, "an SSH key", "is empty");
    }
}

/** Flatcar's etcd-member runs the image tag given; fleet and locksmith need the v2 API, gone in etcd 3.6. */
export function etcdImageTag(version: string): string {
    const tag = version.startsWith("v") ? version : `v${version}`;
    const match = /^v(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$/.exec(tag);
    if (!match) {
        refuse("etcdVersion", `etcd version "${version}" (coreos-cluster:etcdVersion) is not a release version like v3.5.17`);
    }
    const [major, minor] = [Number(match[1]), Number(match[2])];
    if (major !== 3 || minor < 4 || minor > 5) {
        refuse(
            "etcdVersion",
            `etcd version "${version}" (coreos-cluster:etcdVersion) is not supported: fleet, locksmith and the worker ` +
                `proxy need the etcd v2 API and v2 proxy, which exist in etcd 3.4 and 3.5 only`,
        );
    }
    return tag;
}

function fleetMetadataParts(config: RenderingConfig, role: MachineRole, zone: string): Array<[string, string]> {
    const parts: Array<[string, string]> = [
        ["role", role],
        ["zone", zone],
        ["region", config.gcp.region],
        ["cluster", config.name],
    ];
    for (const [key, value] of Object.entries(config.fleet.metadata)) {
        if (RESERVED_FLEET_METADATA.includes(key)) {
            refuse("fleetMetadata", `fleet metadata key "${key}" (coreos-cluster:fleetMetadata) is set by the product and cannot be overridden`);
        }
        if (!FLEET_METADATA_TOKEN.test(key) || !FLEET_METADATA_TOKEN.test(value)) {
            refuse("fleetMetadata", `fleet metadata "${key}=${value}" (coreos-cluster:fleetMetadata) may only use letters, digits and _ . : / -`);
        }
        parts.push([key, value]);
    }
    for (const [key, value] of parts) {
        if (!FLEET_METADATA_TOKEN.test(value)) {
            refuse(key === "zone" ? "zones" : key === "region" ? "region" : key === "cluster" ? "clusterName" : "fleetMetadata", `fleet metadata ${key}="${value}" is not a plain token (letters, digits and _ . : / -)`);
        }
    }
    return parts;
}

function joinMetadata(parts: Array<[string, string]>): string {
    return parts.map(([k, v]) => `${k}=${v}`).join(",");
}

function bootstrap(config: RenderingConfig, plan: ClusterPlan): Partial<EtcdSettings> {
    if (config.etcd.discoveryUrl) return { discovery: config.etcd.discoveryUrl };
    return { initial_cluster: plan.initialCluster };
}

function memberModel(config: RenderingConfig, plan: ClusterPlan, member: MemberPlan, imageTag: string): MachineModel {
    const addr = addressing(config, member.privateIp, member.name);
    const discovery = Boolean(config.etcd.discoveryUrl);
    // Advertised URLs come from the plan: they must match initial_cluster exactly, and other machines dial them.
    const etcd: EtcdSettings = {
        name: member.name,
        ...(discovery ? bootstrap(config, plan) : {}),
        initial_advertise_peer_urls: member.peerUrl,
        listen_peer_urls: url(addr.own, ETCD_PEER_PORT),
        listen_client_urls: clientListenUrls(addr),
        // Plain HTTP on the machine's own address: /metrics and /health hold no key, so no client
        // certificate (docs/security.md); the firewall admits it from monitoringRanges only.
        ...(membersServeMetrics(config) ? { listen_metrics_urls: `http://${addr.own}:${ETCD_METRICS_PORT}` } : {}),
        advertise_client_urls: member.clientUrl,
        ...(discovery
            ? {}
            : { ...bootstrap(config, plan), initial_cluster_state: "new" as const, initial_cluster_token: plan.clusterToken }),
        ...memberTlsSettings(member.name),
    };
    const localEtcd = url(addr.localClients, ETCD_CLIENT_PORT);
    const tls = tlsDelivery(config, plan, member.name, member);
    return {
        name: member.name,
        role: "etcd",
        fileName: `etcd-${member.index}.yaml`,
        hostname: member.name,
        zone: member.zone,
        sshAuthorizedKeys: [...config.ssh.authorizedKeys],
        etcd,
        etcdImageTag: imageTag,
        ...(config.fleet.release ? { fleetRelease: { ...config.fleet.release } } : {}),
        fleet: {
            metadata: joinMetadata(fleetMetadataParts(config, "etcd", member.zone)),
            public_ip: addr.own,
            etcd_servers: localEtcd,
            ...fleetTls(),
        },
        locksmith: locksmithSettings(config, "etcd", localEtcd),
        update: { reboot_strategy: rebootStrategyFor("etcd", config.updates.rebootStrategy) },
        // Certificates first: etcd, fleet and locksmith start after the fetch (Before= and the consumers' drop-ins).
        units: tls.units,
        fleetDropIns: [TLS_CONSUMER_DROP_IN],
        writeFiles: tls.writeFiles,
    };
}

function locksmithSettings(config: RenderingConfig, role: MachineRole, endpoint: string): MachineModel["locksmith"] {
    return {
        endpoint,
        ...fleetTls(),
        group: `${config.name}-${role}`,
        ...(config.updates.windowStart ? { window_start: config.updates.windowStart } : {}),
        ...(config.updates.windowLength ? { window_length: config.updates.windowLength } : {}),
    };
}

/**
 * A worker's local etcd endpoint is `etcd gateway` on its loopback (model/etcd-gateway-contract.ts):
 * fleet, locksmith and the router's health check dial https://127.0.0.1:2379 with their own
 * certificates, and the gateway carries each TLS session to a member (whose certificate names 127.0.0.1).
 */
function workerModel(
    config: RenderingConfig,
    plan: ClusterPlan,
    slot: { name: string; fileName: string; worker?: WorkerPlan },
    imageTag: string,
): MachineModel {
    const addr = addressing(config, slot.worker?.privateIp, slot.name);
    // The worker's own loopback on both platforms (each local machine has its own in its namespace).
    const proxyUrl = url("127.0.0.1", ETCD_CLIENT_PORT);
    const tls = tlsDelivery(config, plan, "worker");
    const model: MachineModel = {
        name: slot.name,
        role: "worker",
        fileName: slot.fileName,
        ...(slot.worker ? { hostname: slot.worker.name, zone: slot.worker.zone } : {}),
        sshAuthorizedKeys: [...config.ssh.authorizedKeys],
        etcdImageTag: imageTag,
        ...(config.fleet.release ? { fleetRelease: { ...config.fleet.release } } : {}),
        fleet: { metadata: "", public_ip: addr.own, etcd_servers: proxyUrl, ...fleetTls() },
        locksmith: locksmithSettings(config, "worker", proxyUrl),
        // Never etcd-lock: a worker the group deletes while holding the lock would keep it forever (model/reboot-strategy.ts).
        update: { reboot_strategy: rebootStrategyFor("worker", config.updates.rebootStrategy) },
        units: [...tls.units, etcdGatewayUnit(plan.members.map((m) => m.clientUrl), imageTag)],
        fleetDropIns: [TLS_CONSUMER_DROP_IN],
        writeFiles: tls.writeFiles,
    };
    // Every worker routes the registered services (docs/router.md).
    const router = routerParts({
        prefix: config.servicesPrefix,
        memberClientUrls: plan.members.map((m) => m.clientUrl),
        proxyUrl,
        bind: config.platform === "gcp" ? "0.0.0.0" : addr.own,
        ownAddress: addr.own,
        httpPorts: [...config.loadBalancer.httpPorts],
        healthPort: config.healthCheck.port,
        healthPath: config.healthCheck.path,
        metricsPort: ROUTER_METRICS_PORT,
        registry: registryPrefix(config.images?.mirror, { name: config.name, platform: config.platform, project: config.gcp.project, region: config.gcp.region }),
        tls: { ...clientTlsFiles("router"), user: "router" },
    });
    model.units.push(router.unit);
    model.writeFiles.push(router.script, router.pullScript);
    // Containers resolve <service>.local through this worker's router (cloud-config/container-dns.ts).
    if (config.platform === "gcp") model.writeFiles.push(containerDnsFile(addr.own, GCE_RESOLVER));
    if (slot.worker) {
        model.fleet.metadata = joinMetadata(fleetMetadataParts(config, "worker", slot.worker.zone));
    } else {
        const parts = fleetMetadataParts(config, "worker", "unknown");
        // Until the zone is known the section carries everything but the zone; the lookup unit adds it.
        model.fleet.metadata = joinMetadata(parts.filter(([k]) => k !== "zone"));
        const lookup = zoneLookupParts(parts);
        model.units.push(lookup.unit);
        model.fleetDropIns.push(lookup.fleetDropIn);
        model.writeFiles.push(lookup.script);
    }
    return model;
}

/** One model per etcd member, then the worker template (GCE) or one model per local worker. */
export function buildMachineModels(config: RenderingConfig, plan: ClusterPlan): MachineModel[] {
    if (plan.members.length === 0) throw new Error("the cluster plan has no etcd members");
    checkConfigValues(config);
    const imageTag = etcdImageTag(config.etcd.version);
    const members = plan.members.map((member) => memberModel(config, plan, member, imageTag));
    // GCE workers share one template; local workers are individual machines (possibly none).
    const workers =
        config.platform === "gcp"
            ? [workerModel(config, plan, { name: `${config.name}-worker`, fileName: "worker.yaml" }, imageTag)]
            : plan.workers.map((worker, i) =>
                  workerModel(config, plan, { name: worker.name, fileName: `worker-${i}.yaml`, worker }, imageTag),
              );
    // On GCE every machine ships its journal to Cloud Logging (locally: `npm run local -- logs`).
    if (config.platform === "gcp") for (const model of [...members, ...workers]) addLogShipper(config, model);
    return [...members, ...workers];
}

function addLogShipper(config: RenderingConfig, model: MachineModel): void {
    const shipper = logShipperParts({ cluster: config.name, role: model.role, registry: registryPrefix(config.images?.mirror, { name: config.name, platform: config.platform, project: config.gcp.project, region: config.gcp.region }) });
    model.units.push(shipper.unit);
    model.writeFiles.push(shipper.config);
    // The router's pull script on a worker is the same file.
    if (!model.writeFiles.some((f) => f.path === shipper.pullScript.path)) model.writeFiles.push(shipper.pullScript);
}
