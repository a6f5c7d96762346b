// Stack config -> ClusterConfig. Pure: returns every problem at once, each naming its key
// (`coreos-cluster:etcdCount`, `coreos-cluster:services[2].hosts[0]`), before any resource
// exists. Secret values (etcdPassword, sshTunnel.privateKey) never appear in a message.

import { ClusterConfig, ConfigProblem, ConfigValidationError, OsFlavor, Platform, RebootStrategy } from "./types";
import { CONFIG_KEY_NAMES, FLATCAR_STABLE_IMAGE } from "./defaults";
import { ConfigReader, Problems, describeValue, isPlainObject, plaintextSecretsOf, unknownNameMessage } from "./config-reader";
import { LOOPBACK, cidrContains, cidrsOverlap, formatIpv4, gceUsableRange, isPrivateIpv4, parseCidr, parseIpv4 } from "./ipv4";
import { failureTolerance, memberCountChangeProblems, memberCountProblem } from "./quorum";
import { checkServiceHosts, validateFleetUnits, validateServices } from "./validate-workloads";
import { diskSize, escapeRegExp, fleetEndpointProblem, fleetMetadata, fleetRelease, gceResourceName, imageMirror, machineType, portList, sshTunnel } from "./validate-fields";
import { servicesPrefixProblem } from "./service-naming";
import { validateFleetServices } from "./validate-fleet-services";
import { checkConfigText } from "./validate-text";
import { checkPortTable } from "./validate-ports";
import { fixedPortClaims, portNumberProblem } from "./ports";
import { SAFE_PATH, urlProblem } from "./text-rules";
import { describeExposure, exposureOf } from "./exposure";
import { isProductionStack } from "./environment-rules";
import { planCluster } from "./plan";
import { readTlsSettings } from "./validate-tls";
import { checkMonitoringRanges } from "./monitoring";
import { GOOGLE_HEALTH_CHECK_RANGES, NETWORK_LB_HEALTH_CHECK_RANGES } from "./firewall";
import { LOCAL_DEPLOYER_HOST, LOCAL_FIRST_MACHINE_HOST, LOCAL_LOAD_BALANCER_HOST, LOCAL_PROMETHEUS_HOST } from "./local-vpc-layout";

export { memberCountChangeProblems, faultToleranceTable } from "./quorum";
export { isEncryptedValue } from "./config-reader";

export interface ValidationContext {
    /** etcd member count of the deployed stack, when known: count changes quorum cannot survive are refused. */
    deployedMemberCount?: number;
    /**
     * The process environment, inside the Pulumi program: `sshTunnel.privateKeyEnv` is read from it.
     * Offline (absent) such a key is accepted unread, like an encrypted value.
     */
    env?: Record<string, string | undefined>;
}

/** GCE's limit for one metadata value (user-data); the renderer checks the full text, this catches the keys alone. */
const GCE_METADATA_VALUE_LIMIT = 256 * 1024;
const CLUSTER_NAME = /^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$/;
const GCP_PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const GCP_REGION = /^[a-z]+(?:-[a-z]+)+[0-9]+$/;
const LABEL = /^[a-z][a-z0-9-]{0,61}[a-z0-9]?$/;
const ETCD_VERSION = /^v3\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$/;
const SSH_PUBLIC_KEY = /^(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}(?: [\x20-\x7e]*)?$/;
const WINDOW_START = /^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?(?:[01][0-9]|2[0-3]):[0-5][0-9]$/;
const DURATION = /^(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
/** The user the cloud-config's ssh_authorized_keys belong to on Container Linux and Flatcar. */
const GCE_TUNNEL_USER = "core";
const HEALTH_PATH = /^\/[A-Za-z0-9._~\/-]*$/;
const ETCD_USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;
const FORBIDDEN_RANGES = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"].map((c) => (parseCidr(c) as { cidr: import("./ipv4").Cidr }).cidr);

export function validateConfig(
    raw: Record<string, unknown>,
    stack: string,
    context: ValidationContext = {},
): { config?: ClusterConfig; problems: ConfigProblem[] } {
    const problems = new Problems();
    const r = new ConfigReader(raw, problems);

    for (const key of r.unknownKeys()) problems.add(key, unknownNameMessage("config key", key, CONFIG_KEY_NAMES));
    checkConfigText(raw, problems);
    // A tunnel whose key comes from the environment holds no secret in the config itself.
    const keyFromEnv = (key: string) => key === "sshTunnel" && isPlainObject(raw.sshTunnel) && raw.sshTunnel.privateKey === undefined && raw.sshTunnel.privateKeyEnv !== undefined;
    for (const key of plaintextSecretsOf(raw).filter((k) => !keyFromEnv(k))) {
        problems.add(key, `is stored in plaintext; it is a secret: set it with \`pulumi config set --secret ${key === "sshTunnel" ? "--path sshTunnel.privateKey" : key}\``);
    }

    const name = r.string("clusterName");
    if (name !== undefined && !CLUSTER_NAME.test(name)) {
        problems.add("clusterName", `"${name}" is not a valid cluster name: 1-24 of a-z 0-9 and "-", starting with a letter, not ending with "-" (it prefixes every resource name)`);
    }
    const platform = r.string("platform");
    if (platform !== undefined && platform !== "gcp" && platform !== "local") {
        problems.add("platform", `must be "gcp" or "local", got ${describeValue(platform)}`);
    }
    const onGcp = platform === "gcp";
    const environmentValue = r.string("environment");
    const environment = environmentValue || stack;
    if (environment && !LABEL.test(environment)) {
        const origin = environmentValue ? "" : ` (taken from the stack name; set environment to a label)`;
        problems.add("environment", `"${environment}" must be a label: a-z 0-9 and "-", starting with a letter (it becomes a GCE label value)${origin}`);
    }
    // Fail-safe: the production rules apply when the stack's name or its environment says production.
    const isProd = isProductionStack(environment, stack);
    const isDev = r.boolean("isDev") ?? false;
    if (isDev && isProd) problems.add("isDev", `a stack whose environment is production ("${environment}") cannot be marked dev`);
    const allowSingleMember = r.boolean("allowSingleMember") ?? false;

    // Placement.
    const project = r.string("project");
    if (onGcp && project === "") problems.add("project", "is required on platform gcp (the GCP project id)");
    else if (project && !GCP_PROJECT.test(project)) problems.add("project", `"${project}" is not a GCP project id (6-30 of a-z 0-9 "-", starting with a letter)`);
    const region = r.string("region");
    if (region !== undefined) {
        if (onGcp && !GCP_REGION.test(region)) problems.add("region", `"${region}" is not a GCP region name (e.g. us-central1, europe-west1)`);
        else if (!/^[a-z][a-z0-9-]*$/.test(region)) problems.add("region", `"${region}" must be a lowercase label`);
    }
    let zones = r.list<string>("zones", "string");
    if (zones !== undefined && region !== undefined) {
        if (zones.length === 0 && !onGcp) zones = [`${region}-a`];
        if (zones.length === 0 && onGcp) problems.add("zones", `is required on platform gcp: list one or more zones of ${region}, e.g. [${region}-b, ${region}-c]`);
        const seen = new Map<string, number>();
        zones.forEach((zone, i) => {
            if (!new RegExp(`^${escapeRegExp(region)}-[a-z]$`).test(zone)) {
                problems.add(`zones[${i}]`, `"${zone}" is not a zone of region ${region} (zones of a region are ${region}-<letter>, e.g. ${region}-b)`);
            } else if (seen.has(zone)) {
                problems.add(`zones[${i}]`, `duplicate zone "${zone}" (also zones[${seen.get(zone)}]); list each zone once`);
            }
            seen.set(zone, seen.get(zone) ?? i);
        });
    }

    // etcd members.
    const etcdCount = r.integer("etcdCount");
    if (etcdCount !== undefined) {
        const problem = memberCountProblem(etcdCount, isDev && allowSingleMember);
        if (problem) problems.add("etcdCount", problem);
        if (allowSingleMember && !isDev && etcdCount === 1) problems.add("allowSingleMember", "is honoured only on a stack marked isDev: true");
        if (context.deployedMemberCount !== undefined && !problem) {
            problems.list.push(...memberCountChangeProblems(context.deployedMemberCount, etcdCount, isDev));
        }
        if (isProd && onGcp && zones && zones.length > 0 && etcdCount >= 3) {
            const perZone = Math.ceil(etcdCount / zones.length);
            if (perZone > failureTolerance(etcdCount)) {
                problems.add("zones", `prod spreads ${etcdCount} members over ${zones.length} zone(s), ${perZone} in one zone; losing that zone loses ${perZone} members but ${etcdCount} members tolerate only ${failureTolerance(etcdCount)} failures. Use at least 3 zones.`);
            }
        }
    }
    const etcdMachineType = machineType(r, "etcdMachineType");
    const etcdDiskSizeGb = diskSize(r, "etcdDiskSizeGb");
    const etcdVersion = r.string("etcdVersion");
    if (etcdVersion !== undefined) {
        const m = ETCD_VERSION.exec(etcdVersion);
        if (!m) problems.add("etcdVersion", `"${etcdVersion}" must be an etcd image tag v3.<minor>.<patch>, e.g. v3.5.17`);
        else if (Number(m[1]) > 5) problems.add("etcdVersion", `${etcdVersion}: etcd 3.6 and later have no v2 API, which fleet and locksmith need; use v3.5.x`);
    }
    const discoveryUrl = r.string("etcdDiscoveryUrl") || undefined;
    // The discovery URL's path is the cluster's join token: messages never show it.
    const discoveryProblem = discoveryUrl && urlProblem(discoveryUrl, { schemes: ["https"], secretPath: true });
    if (discoveryProblem) problems.add("etcdDiscoveryUrl", `${discoveryProblem} (e.g. https://discovery.etcd.io/<token>)`);
    const protect = r.boolean("protectMembers");
    if (isProd && protect === false) problems.add("protectMembers", "must be true when environment is prod: a deleted member cannot rejoin, and losing members loses quorum");

    // Workers.
    const workerMin = r.integer("workerMin");
    if (workerMin !== undefined && (workerMin < 0 || workerMin > 1000)) problems.add("workerMin", `${workerMin} is outside 0-1000`);
    if (isProd && workerMin !== undefined && workerMin < 3) problems.add("workerMin", `prod needs at least 3 workers, got ${workerMin}`);
    const workerMaxRaw = r.integer("workerMax");
    if (workerMaxRaw !== undefined && (workerMaxRaw < 0 || workerMaxRaw > 1000)) problems.add("workerMax", `${workerMaxRaw} is outside 0-1000`);
    const workerMax = workerMaxRaw === 0 ? workerMin : workerMaxRaw;
    if (workerMin !== undefined && workerMaxRaw !== undefined && workerMaxRaw !== 0 && workerMin > workerMaxRaw) {
        problems.add("workerMax", `workerMin (${workerMin}) is greater than workerMax (${workerMaxRaw}); set workerMax >= workerMin, or 0 for a fixed-size group`);
    }
    const workerMachineType = machineType(r, "workerMachineType");
    const workerDiskSizeGb = diskSize(r, "workerDiskSizeGb");

    // Subnet.
    const subnetCidr = r.string("subnetCidr");
    if (subnetCidr !== undefined) {
        const parsed = parseCidr(subnetCidr);
        if ("problem" in parsed) problems.add("subnetCidr", parsed.problem);
        else if (parsed.cidr.prefix < 8 || parsed.cidr.prefix > 29) problems.add("subnetCidr", `${subnetCidr}: GCE subnet ranges are /8 to /29`);
        else if (FORBIDDEN_RANGES.some((f) => cidrsOverlap(f, parsed.cidr))) problems.add("subnetCidr", `${subnetCidr} overlaps a range GCE cannot use for a subnet (0.0.0.0/8, loopback, link-local, multicast or reserved); use a private range such as 10.10.0.0/24`);
        else if (onGcp && etcdCount !== undefined) {
            const usable = gceUsableRange(parsed.cidr).count;
            const needed = etcdCount + (workerMax ?? 0);
            if (usable < needed) problems.add("subnetCidr", `${subnetCidr} has ${usable} usable addresses (GCE reserves 4 per subnet) but the cluster needs ${needed} (members + workers); use a larger range`);
        }
    }
    const existingNetwork = gceResourceName(r, "existingNetwork") || undefined;
    const existingSubnetwork = gceResourceName(r, "existingSubnetwork") || undefined;
    if (existingSubnetwork && !existingNetwork) problems.add("existingSubnetwork", "requires existingNetwork (the network the subnetwork belongs to)");

    // OS.
    const osFlavor = r.string("osFlavor");
    if (osFlavor !== undefined && osFlavor !== "flatcar" && osFlavor !== "container-linux") {
        problems.add("osFlavor", `must be "flatcar" or "container-linux", got ${describeValue(osFlavor)}`);
    }
    let osImage = gceResourceName(r, "osImage");
    if (osImage === "") {
        if (osFlavor === "flatcar") osImage = FLATCAR_STABLE_IMAGE;
        else if (osFlavor === "container-linux" && onGcp) problems.add("osImage", "is required with osFlavor container-linux: CoreOS Container Linux reached end of life in 2020 and has no public GCE images; give your own image");
    }

    // SSH and network exposure.
    const authorizedKeys = r.list<string>("sshAuthorizedKeys", "string");
    authorizedKeys?.forEach((key, i) => {
        if (!SSH_PUBLIC_KEY.test(key.trim())) problems.add(`sshAuthorizedKeys[${i}]`, "is not an SSH public key line (type, base64 key, optional comment of printable ASCII), e.g. ssh-ed25519 AAAA... user@host");
    });
    const keyBytes = (authorizedKeys ?? []).reduce((sum, key) => sum + Buffer.byteLength(key, "utf8") + 1, 0);
    if (keyBytes > GCE_METADATA_VALUE_LIMIT) {
        problems.add("sshAuthorizedKeys", `${authorizedKeys!.length} keys take ${keyBytes} bytes, and every machine's user-data carries them all: over GCE's ${GCE_METADATA_VALUE_LIMIT}-byte (256 KiB) limit for one metadata value`);
    }
    const sshAllowWorld = r.boolean("sshAllowWorld");
    if (isProd && sshAllowWorld) problems.add("sshAllowWorld", "cannot be true when environment is prod: SSH stays limited to sshSourceRanges");
    const sshSourceRanges = r.list<string>("sshSourceRanges", "string");
    let rangesParse = true;
    sshSourceRanges?.forEach((range, i) => {
        const parsed = parseCidr(range);
        if ("problem" in parsed) {
            rangesParse = false;
            return problems.add(`sshSourceRanges[${i}]`, parsed.problem);
        }
        if (sshSourceRanges.indexOf(range) !== i) problems.add(`sshSourceRanges[${i}]`, `duplicate range ${range}`);
    });
    // Coverage, not spelling: 0.0.0.0/1 + 128.0.0.0/1 opens SSH to the internet as 0.0.0.0/0 does.
    const sshExposure = sshSourceRanges && rangesParse ? exposureOf(sshSourceRanges) : undefined;
    if (sshExposure?.openToInternet && !sshAllowWorld) {
        problems.add(
            "sshSourceRanges",
            `opens SSH to the internet: ${describeExposure(sshSourceRanges!, sshExposure)}; list your own ranges (default: the IAP range 35.235.240.0/20), or set sshAllowWorld: true to really mean it`,
        );
    }
    const localFirstAddress = r.string("localFirstAddress");
    // Metrics: from the monitoring range only (model/monitoring.ts), not the world, not the load balancer.
    const monitoring = checkMonitoringRanges(
        r.list<string>("monitoringRanges", "string"),
        { platform, localFirstAddress, loadBalancer: { ranges: [...GOOGLE_HEALTH_CHECK_RANGES, ...NETWORK_LB_HEALTH_CHECK_RANGES], what: "a range of Google's load-balancer health checkers" } },
        problems,
    );
    const externalIps = r.boolean("externalIps");
    if (isProd && externalIps) problems.add("externalIps", "must be false when environment is prod: machines stay private and reach out through Cloud NAT");

    // Load balancer and health check.
    const lbHttpPorts = portList(r, "lbHttpPorts");
    const lbTcpPorts = portList(r, "lbTcpPorts");
    const healthCheckPort = r.integer("healthCheckPort");
    const healthPortProblem = healthCheckPort === undefined ? undefined : portNumberProblem(healthCheckPort);
    if (healthPortProblem) problems.add("healthCheckPort", healthPortProblem);
    const healthCheckPath = r.string("healthCheckPath");
    if (healthCheckPath !== undefined && !HEALTH_PATH.test(healthCheckPath)) {
        problems.add("healthCheckPath", `${JSON.stringify(healthCheckPath)} must be an absolute HTTP path of letters, digits and / . _ ~ - (e.g. /healthz): the router and the health checks both carry it`);
    }

    // fleet.
    const metadata = fleetMetadata(r);
    const fleetEndpoint = r.string("fleetEndpoint") || undefined;
    const tunnel = sshTunnel(r, context.env);
    // On GCE the machines' SSH keys (sshAuthorizedKeys) are core's, and so is fleet's socket group.
    const tunnelUser = isPlainObject(raw.sshTunnel) ? raw.sshTunnel.username : undefined;
    if (onGcp && typeof tunnelUser === "string" && /^[a-z_][a-z0-9_-]{0,31}$/.test(tunnelUser) && tunnelUser !== GCE_TUNNEL_USER) {
        problems.add("sshTunnel.username", `must be ${GCE_TUNNEL_USER} on platform gcp: sshAuthorizedKeys are installed for ${GCE_TUNNEL_USER}, and fleet's API socket is open to its group; got ${describeValue(tunnelUser)}`);
    }
    if (fleetEndpoint) {
        const problem = fleetEndpointProblem(fleetEndpoint, tunnel !== undefined);
        if (problem) problems.add("fleetEndpoint", problem);
    }

    // Updates.
    const mirror = imageMirror(r, isProd);
    const rebootStrategy = r.string("rebootStrategy");
    if (rebootStrategy !== undefined && !["etcd-lock", "reboot", "off"].includes(rebootStrategy)) {
        problems.add("rebootStrategy", `must be etcd-lock, reboot or off, got ${describeValue(rebootStrategy)}`);
    }
    const windowStart = r.string("rebootWindowStart") || undefined;
    const windowLength = r.string("rebootWindowLength") || undefined;
    if (windowStart && !WINDOW_START.test(windowStart)) problems.add("rebootWindowStart", `"${windowStart}" must look like "Sun 04:00" (day Mon-Sun, optional for daily, then HH:MM in 24 hours)`);
    if (windowLength) {
        const m = DURATION.exec(windowLength);
        if (!m || m.slice(1).every((x) => !x || Number(x) === 0)) problems.add("rebootWindowLength", `"${windowLength}" must be a positive duration like 2h, 90m or 1h30m`);
    }
    if (Boolean(windowStart) !== Boolean(windowLength)) problems.add(windowStart ? "rebootWindowLength" : "rebootWindowStart", "rebootWindowStart and rebootWindowLength are set together");
    if (rebootStrategy === "off" && (windowStart || windowLength)) problems.add("rebootWindowStart", "a reboot window has no effect with rebootStrategy off");

    // Services and fleet units.
    const serviceItems = r.objectList("services");
    const services = serviceItems ? validateServices(serviceItems, problems) : [];
    const servicesPrefix = r.string("servicesPrefix");
    const prefixProblem = servicesPrefix === undefined ? undefined : servicesPrefixProblem(servicesPrefix);
    if (prefixProblem) {
        problems.add("servicesPrefix", prefixProblem);
    }
    const unitItems = r.objectList("fleetUnits");
    const fleetUnits = unitItems ? validateFleetUnits(unitItems, problems) : [];
    const fleetServiceItems = r.objectList("fleetServices");
    const fleetServices = fleetServiceItems ? validateFleetServices(fleetServiceItems, { services, fleetUnits }, problems) : [];
    checkPortTable({ lbHttpPorts, lbTcpPorts, healthCheckPort, services: serviceItems, fleetServices: fleetServiceItems }, problems);
    const problemsBeforeRelease = problems.count;
    const release = fleetRelease(r);
    const pushesToFleet = fleetUnits.length > 0 || fleetServices.length > 0;
    if (onGcp && osFlavor === "flatcar" && pushesToFleet && release === undefined && problems.count === problemsBeforeRelease) {
        problems.add(
            "fleetRelease",
            "is required when fleetUnits or fleetServices are pushed to Flatcar machines: Flatcar ships no fleet, so the machines install a pinned release and verify its sha256 first. Set {sha256: <sha256 of the tarball>} (version/url default to fleet v1.0.0)",
        );
    }

    // How the providers reach etcd.
    const etcdEndpoints = r.list<string>("etcdEndpoints", "string");
    etcdEndpoints?.forEach((url, i) => {
        // http is the key's own exception: the members' client port speaks plain HTTP until it has TLS.
        const problem = urlProblem(url, { schemes: ["https", "http"], path: false });
        if (problem) problems.add(`etcdEndpoints[${i}]`, `${problem.replace("give them in their own secret key", "use etcdUsername and etcdPassword")} (an etcd client URL like https://10.10.0.2:2379)`);
    });
    const etcdUsername = r.string("etcdUsername") || undefined;
    if (etcdUsername && !ETCD_USERNAME.test(etcdUsername)) problems.add("etcdUsername", `${JSON.stringify(etcdUsername)} must be 1-64 of A-Z a-z 0-9 _ . -`);
    const etcdPasswordValue = r.secretString("etcdPassword");
    const etcdPassword = etcdPasswordValue || undefined;
    if (etcdPassword && !etcdUsername) problems.add("etcdUsername", "is required when etcdPassword is set");
    if (etcdUsername && (etcdPasswordValue === "" || (etcdPasswordValue === undefined && !r.has("etcdPassword")))) {
        problems.add("etcdPassword", "is required when etcdUsername is set (use `pulumi config set --secret etcdPassword`)");
    }
    const mirrorToV2 = r.boolean("mirrorToV2");
    const clusterWaitSeconds = r.integer("clusterWaitSeconds");
    if (clusterWaitSeconds !== undefined && (clusterWaitSeconds < 0 || clusterWaitSeconds > 3600)) {
        problems.add("clusterWaitSeconds", `${clusterWaitSeconds} is outside 0-3600 (seconds the providers wait for a booting cluster)`);
    }
    // On GCE the members' client URLs are private addresses: the providers, running wherever
    // Pulumi runs, reach them only through a tunnel into the VPC or endpoints the stack names.
    const tunnelGiven = tunnel !== undefined || (isPlainObject(raw.sshTunnel) && Object.keys(raw.sshTunnel).length > 0);
    const serviceCount = serviceItems?.length ?? 0;
    const unitCount = unitItems?.length ?? 0;
    const fleetServiceCount = fleetServiceItems?.length ?? 0;
    if (onGcp && !tunnelGiven) {
        if (serviceCount > 0 && !(etcdEndpoints && etcdEndpoints.length > 0)) {
            problems.add(
                "sshTunnel",
                `the stack declares ${serviceCount} service(s) but gives the providers no way into the VPC: the members' client URLs are private. Set coreos-cluster:sshTunnel (e.g. to the local end of \`gcloud compute start-iap-tunnel <member> 22 --local-host-port=localhost:2222\`, docs/delivery.md) or coreos-cluster:etcdEndpoints reachable from where Pulumi runs`,
            );
        }
        if (unitCount > 0 || fleetServiceCount > 0) {
            const what = [unitCount > 0 ? `${unitCount} fleet unit(s)` : "", fleetServiceCount > 0 ? `${fleetServiceCount} fleet service(s)` : ""].filter(Boolean).join(" and ");
            problems.add(
                "sshTunnel",
                `the stack declares ${what} but gives the provider no way to fleet's API on the members: set coreos-cluster:sshTunnel (fleet has no authentication and is reached only through SSH; docs/delivery.md)`,
            );
        }
    }
    // The local platform is a miniature of the same VPC: its members answer only inside it too.
    if (platform === "local" && !tunnelGiven && serviceCount > 0 && !(etcdEndpoints && etcdEndpoints.length > 0)) {
        problems.add(
            "sshTunnel",
            `the stack declares ${serviceCount} service(s) but gives the providers no way into the local VPC, whose members answer only inside it (as on GCE). Set coreos-cluster:sshTunnel to a member's sshd: {host: <a member's address>, username: root, privateKeyEnv: COREOS_LOCAL_SSH_KEY} (scripts/local.sh generates that key; docs/local-platform.md)`,
        );
    }

    const tls = readTlsSettings(r, problems);

    // Local platform.
    const localWorkers = r.integer("localWorkers");
    if (localWorkers !== undefined && (localWorkers < 0 || localWorkers > 64)) problems.add("localWorkers", `${localWorkers} is outside 0-64`);
    if (localFirstAddress !== undefined) {
        const first = parseIpv4(localFirstAddress);
        if (first === undefined) problems.add("localFirstAddress", `"${localFirstAddress}" is not an IPv4 address`);
        else if (isPrivateIpv4(first)) {
            // The local VPC: a private /24 of its own; its first hosts are kept (model/local-vpc-layout.ts).
            const host = first % 256;
            const total = (etcdCount ?? 0) + (localWorkers ?? 0);
            if (host < LOCAL_FIRST_MACHINE_HOST || host + total - 1 > 254) {
                problems.add(
                    "localFirstAddress",
                    `${localFirstAddress}: the ${total} local machines must fit .${LOCAL_FIRST_MACHINE_HOST}-.254 of its /24 (.${LOCAL_DEPLOYER_HOST} is the deployer, .${LOCAL_LOAD_BALANCER_HOST} the load balancer, .${LOCAL_PROMETHEUS_HOST} the local Prometheus)`,
                );
            }
            // On the local platform the tunnel ends at a member's sshd (docs/local-platform.md).
            const tunnelHost = isPlainObject(raw.sshTunnel) && typeof raw.sshTunnel.host === "string" ? raw.sshTunnel.host : undefined;
            if (platform === "local" && tunnelHost !== undefined && etcdCount !== undefined) {
                const members = Array.from({ length: etcdCount }, (_, i) => formatIpv4(first + i));
                if (!members.includes(tunnelHost)) problems.add("sshTunnel.host", `${tunnelHost} is no member's address (${members.join(", ")}): on the local platform the tunnel goes to a member's sshd`);
            }
        } else if (cidrContains(LOOPBACK, first)) {
            problems.add("localFirstAddress", `${localFirstAddress} is a loopback address; the local platform is a VPC of network namespaces on a private /24 of its own (e.g. 10.213.10.10), where the firewall and the load balancer apply as on GCE`);
        } else problems.add("localFirstAddress", `${localFirstAddress} is not a private (RFC 1918) address; the local VPC's machines live on a private /24 of its own (e.g. 10.213.10.10)`);
    }
    const localDataDir = r.string("localDataDir");
    if (localDataDir !== undefined && (!SAFE_PATH.test(localDataDir) || localDataDir.split("/").includes(".."))) {
        problems.add("localDataDir", `${JSON.stringify(localDataDir)} must be a folder path of A-Z a-z 0-9 . _ - and "/", without ".." segments`);
    }

    if (problems.count > 0) return { problems: problems.list };
    const config: ClusterConfig = {
        name: name!,
        environment,
        platform: platform as Platform,
        isDev,
        gcp: { project: project!, region: region!, zones: zones!, subnetCidr: subnetCidr!, existingNetwork, existingSubnetwork },
        etcd: { count: etcdCount!, machineType: etcdMachineType!, diskSizeGb: etcdDiskSizeGb!, version: etcdVersion!, discoveryUrl, protect: protect! },
        workers: { min: workerMin!, max: workerMax!, machineType: workerMachineType!, diskSizeGb: workerDiskSizeGb! },
        os: { flavor: osFlavor as OsFlavor, image: osImage! },
        ssh: { authorizedKeys: authorizedKeys!.map((k) => k.trim()), sourceRanges: sshSourceRanges!, allowWorld: sshAllowWorld! },
        externalIps: externalIps!,
        loadBalancer: { httpPorts: lbHttpPorts!, tcpPorts: lbTcpPorts! },
        healthCheck: { port: healthCheckPort!, path: healthCheckPath! },
        monitoring: { ranges: monitoring! },
        fleet: { metadata: metadata!, endpoint: fleetEndpoint, release },
        images: { mirror: mirror ?? "" },
        updates: { rebootStrategy: rebootStrategy as RebootStrategy, windowStart, windowLength },
        services,
        servicesPrefix: servicesPrefix!,
        fleetUnits,
        fleetServices,
        access: {
            etcdEndpoints: etcdEndpoints && etcdEndpoints.length > 0 ? etcdEndpoints : undefined,
            etcdUsername,
            // An encrypted stack-file value cannot be read offline; only the Pulumi program sees it decrypted.
            etcdPassword: typeof etcdPassword === "string" ? etcdPassword : undefined,
            sshTunnel: tunnel === "encrypted" ? undefined : tunnel,
            mirrorToV2: mirrorToV2!,
            clusterWaitSeconds: clusterWaitSeconds!,
        },
        tls,
        local: { firstAddress: localFirstAddress!, workers: localWorkers!, dataDir: localDataDir! },
    };
    // Hosts against the cluster itself: its members' planned addresses and the ports it keeps.
    checkServiceHosts(
        config.services,
        {
            memberAddresses: planCluster(config).members.map((m) => m.privateIp),
            reservedPorts: fixedPortClaims(healthCheckPort).map((c) => ({ port: c.first, what: c.role })),
            reservedAddresses: subnetReservedAddresses(config),
        },
        problems,
    );
    if (problems.count > 0) return { problems: problems.list };
    return { config, problems: [] };
}

/**
 * Addresses of the cluster's own network that no backend has. GCE keeps four of every subnet (the
 * network, its gateway, the second-to-last and the broadcast address); the local VPC's /24 has its
 * network, the deployer (.1), the load balancer (.2) and its broadcast.
 */
function subnetReservedAddresses(config: ClusterConfig): Array<{ address: string; what: string }> {
    if (config.platform === "gcp") {
        const parsed = parseCidr(config.gcp.subnetCidr);
        if ("problem" in parsed) return [];
        const { network, size } = parsed.cidr;
        const usable = gceUsableRange(parsed.cidr);
        return [
            { address: formatIpv4(network), what: "the subnet's network address" },
            { address: formatIpv4(network + 1), what: "the subnet's gateway (GCE reserves it)" },
            { address: formatIpv4(usable.last + 1), what: "the subnet's second-to-last address (GCE reserves it)" },
            { address: formatIpv4(network + size - 1), what: "the subnet's broadcast address" },
        ];
    }
    const first = parseIpv4(config.local.firstAddress);
    if (first === undefined) return [];
    const network = first - (first % 256);
    return [
        { address: formatIpv4(network), what: "the local VPC's network address" },
        { address: formatIpv4(network + LOCAL_DEPLOYER_HOST), what: "the local VPC's deployer (this machine's end of the bridge)" },
        { address: formatIpv4(network + LOCAL_LOAD_BALANCER_HOST), what: "the local VPC's load balancer" },
        { address: formatIpv4(network + LOCAL_PROMETHEUS_HOST), what: "the local VPC's Prometheus" },
        { address: formatIpv4(network + 255), what: "the local VPC's broadcast address" },
    ];
}

/** validateConfig, throwing a ConfigValidationError that lists every problem. */
export function loadConfig(raw: Record<string, unknown>, stack: string, context: ValidationContext = {}): ClusterConfig {
    const { config, problems } = validateConfig(raw, stack, context);
    if (!config) throw new ConfigValidationError(problems);
    return config;
}

