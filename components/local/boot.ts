// What a CoreOS host would apply from its cloud-config user-data, derived from the TEXT
// (never from the internal model), so the local platform boots exactly what GCE would get.
// Pure: plain data in, plain data out. Runtime modules are required inside the functions:
// provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import type { OsFlavor } from "../../model/types";
import { bootError, BootProblem } from "./boot-error";
import { serviceEnvironment } from "./systemd-env";
import { LOCAL_ROUTER_UNIT, RouterBootPlan, routerBootPlan } from "./router-boot";
import { ROUTER_ENV } from "../../model/router-contract";
import { PlannedFile, planWriteFiles, underRoot } from "./write-files";
import { TLS_DIR, TLS_FETCH_UNIT } from "../../model/pki-delivery";
import { bundlePath } from "./tls-store";
import { ETCD_GATEWAY_ENV, ETCD_GATEWAY_UNIT } from "../../model/etcd-gateway-contract";

export interface BootMachine {
    name: string;
    /** The machine's loopback address: its `$private_ipv4` and its "host" address. */
    address: string;
    /** Absolute folder standing in for the machine's `/`. */
    root: string;
    /** `$public_ipv4`; defaults to `address` (one network locally). */
    publicAddress?: string;
    /** Which OS would boot this config; detected from the text when absent. */
    flavor?: OsFlavor;
    /**
     * The local secret store (components/local/tls-store.ts) and the one secret this machine may read
     * from it (on GCE: the secret its service account is the accessor of). Used when the user-data
     * starts the fetch unit.
     */
    tlsStore?: { dir: string; secretId: string };
}

export interface BootPlan {
    machine: string;
    address: string;
    root: string;
    flavor: OsFlavor;
    /** `proxy` for a worker's local endpoint (etcd gateway, or a v2 proxy with ETCD_PROXY on/readonly), else `member`. */
    mode: "member" | "proxy";
    /** The worker's `etcd gateway` (etcd-gateway.service): run as `etcd gateway start` with these flags instead of etcd's environment. */
    gateway?: { endpoints: string; listenAddr: string; retryDelay: string };
    /** The files this machine's own readiness probes present (mutual TLS): a member's server certificate, a worker's router identity. */
    probeTls?: { ca: string; cert: string; key: string };
    /** The exact environment etcd is started with (ETCD_* only). */
    env: Record<string, string>;
    dataDir: string;
    /** Where the machine's etcd (or proxy) answers clients, on the machine's own address. */
    clientUrl: string;
    files: PlannedFile[];
    /** The worker's router (coreos-router.service), when the config starts one. */
    router?: RouterBootPlan;
    /** The fetch step (coreos-tls-fetch.service), simulated: this bundle is unpacked under `<root><dir>` before etcd starts, as tlsFilesOf says. */
    tlsFetch?: { bundle: string; dir: string; etcdUserIds: string[] };
    /** Parts of the config with no local counterpart, each with the reason. */
    ignored: string[];
    /** Where the local machine deliberately differs from a CoreOS host. */
    simulated: string[];
}

const ETCD2_KEYS = [
    "advertise_client_urls", "cert_file", "cors", "data_dir", "discovery", "discovery_fallback", "discovery_srv",
    "discovery_proxy", "initial_advertise_peer_urls", "initial_cluster", "initial_cluster_state",
    "initial_cluster_token", "key_file", "listen_client_urls", "listen_peer_urls", "log_package_levels", "name",
    "peer_cert_file", "peer_key_file", "peer_trusted_ca_file", "trusted_ca_file", "wal_dir", "proxy",
    "client_cert_auth", "debug", "enable_pprof", "force_new_cluster", "peer_client_cert_auth",
    "strict_reconfig_check", "election_timeout", "heartbeat_interval", "max_snapshots", "max_wals",
    "proxy_dial_timeout", "proxy_failure_wait", "proxy_read_timeout", "proxy_refresh_interval",
    "proxy_write_timeout", "snapshot_count",
];
/** Variables Flatcar's etcd-member.service wrapper reads itself; etcd never sees them. */
const WRAPPER_VARIABLES: Record<string, string> = {
    ETCD_IMAGE_TAG: "the container image version; the local platform runs Debian's etcd",
    ETCD_IMAGE_URL: "the container image; the local platform runs Debian's etcd",
    ETCD_IMAGE: "the container image; the local platform runs Debian's etcd",
    ETCD_SSL_DIR: "a container volume",
    ETCD_USER: "the container user",
    ETCD_OPTS: "extra ExecStart arguments",
};
const PATH_VARIABLES = [
    "ETCD_DATA_DIR", "ETCD_WAL_DIR", "ETCD_CERT_FILE", "ETCD_KEY_FILE", "ETCD_TRUSTED_CA_FILE",
    "ETCD_PEER_CERT_FILE", "ETCD_PEER_KEY_FILE", "ETCD_PEER_TRUSTED_CA_FILE",
];
const LOCAL_HOSTS = ["127.0.0.1", "localhost", "0.0.0.0", "[::]", "[::1]", ""];
const TOP_LEVEL_IGNORED: Record<string, string> = {
    ssh_authorized_keys: "no SSH into local machines",
    users: "no user accounts are created locally",
    hostname: "local machines share this host's hostname",
    manage_etc_hosts: "this host's /etc/hosts is left alone",
};
const COREOS_IGNORED: Record<string, string> = {
    fleet: "no fleetd on the local platform",
    locksmith: "no locksmithd (no reboots) on the local platform",
    update: "no update engine on the local platform",
    flannel: "no flannel on the local platform",
    oem: "no OEM on the local platform",
    etcd: "the obsolete etcd (v0.4) section",
};

/** Substitutes `$private_ipv4` & co. over the whole text before parsing, as coreos-cloudinit does (`\$` escapes). */
export function substituteAddresses(text: string, values: Record<string, string>): string {
    let out = text;
    for (const [name, value] of Object.entries(values)) {
        const key = name.replace(/^\$/, "");
        out = out.replace(new RegExp(`(?<!\\\\)\\$${key}`, "g"), () => value);
        out = out.replace(new RegExp(`\\\\\\$${key}`, "g"), () => `$${key}`);
    }
    return out;
}

function asMapping(value: unknown): Record<string, unknown> | undefined {
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A scalar as coreos-cloudinit writes it into `Environment=`: false, 0 and "" cannot be set and are skipped. */
function envValue(value: unknown): string | undefined | null {
    if (value === undefined || value === null || value === false || value === 0 || value === "") return undefined;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
    return null;
}

function etcd2Environment(section: Record<string, unknown>, problems: BootProblem[], ignored: string[]): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(section)) {
        const where = `coreos.etcd2.${key}`;
        if (key.includes("-")) {
            ignored.push(`${where} (dashed key: Flatcar's coreos-cloudinit ignores it; write ${key.replace(/-/g, "_")})`);
        } else if (!ETCD2_KEYS.includes(key)) {
            ignored.push(`${where} (not an etcd2 key)`);
        } else {
            const text = envValue(value);
            if (text === null) problems.push({ key: where, message: "must be a scalar (string, number or boolean)" });
            else if (text !== undefined) env[`ETCD_${key.toUpperCase()}`] = text;
        }
    }
    return env;
}

function findUnit(units: unknown[], name: string): { unit: Record<string, unknown>; index: number } | undefined {
    const index = units.findIndex((u) => asMapping(u)?.name === name);
    return index < 0 ? undefined : { unit: asMapping(units[index])!, index };
}

function startsAtBoot(unit: Record<string, unknown>): boolean {
    if (unit.mask === true) return false;
    return ["start", "restart", "reload-or-restart"].includes(String(unit.command ?? "")) || unit.enable === true;
}

function etcdMemberEnvironment(
    found: { unit: Record<string, unknown>; index: number },
    hostname: string,
    problems: BootProblem[],
    ignored: string[],
): Record<string, string> {
    const env: Record<string, string> = {};
    const where = `coreos.units[${found.index}]`;
    const texts: Array<{ key: string; text: string }> = [];
    if (typeof found.unit.content === "string") texts.push({ key: `${where}.content`, text: found.unit.content });
    const dropIns = found.unit.drop_ins ?? [];
    if (found.unit["drop-ins"] !== undefined) ignored.push(`${where}.drop-ins (dashed key: coreos-cloudinit ignores it; write drop_ins)`);
    if (!Array.isArray(dropIns)) problems.push({ key: `${where}.drop_ins`, message: "must be a list" });
    else dropIns.forEach((d, i) => {
        const content = asMapping(d)?.content;
        if (typeof content === "string") texts.push({ key: `${where}.drop_ins[${i}].content`, text: content });
    });
    for (const { key, text } of texts) {
        try {
            const parsed = serviceEnvironment(text, hostname);
            for (const { name, value } of parsed.assignments) {
                if (!name.startsWith("ETCD_")) ignored.push(`${key}: ${name} (not an etcd variable)`);
                else if (WRAPPER_VARIABLES[name]) ignored.push(`${key}: ${name}=${value} (${WRAPPER_VARIABLES[name]})`);
                else if (value === "") delete env[name];
                else env[name] = value;
            }
            for (const line of parsed.otherServiceLines) ignored.push(`${key}: ${line} (only Environment= is applied locally)`);
        } catch (err) {
            problems.push({ key, message: (err as Error).message });
        }
    }
    return env;
}

function rewriteListenUrls(name: string, value: string, address: string, problems: BootProblem[]): string {
    const urls: string[] = [];
    for (const raw of value.split(",").map((u) => u.trim()).filter((u) => u !== "")) {
        let url: URL;
        try {
            url = new URL(raw);
        } catch {
            problems.push({ key: name, message: `'${raw}' is not a URL` });
            continue;
        }
        if (LOCAL_HOSTS.includes(url.hostname)) url.hostname = address;
        const text = `${url.protocol}//${url.host}`;
        if (!urls.includes(text)) urls.push(text);
    }
    return urls.join(",");
}

/**
 * The simulated fetch of TLS_FETCH_UNIT from the unit's own TLS_* environment (cloud-config/tls-fetch.ts
 * TLS_FETCH_CONTRACT): the secret it names must be the one this machine may read, as IAM decides on GCE.
 */
function tlsFetchPlan(unit: Record<string, unknown>, key: string, machine: BootMachine, hostname: string, problems: BootProblem[]): BootPlan["tlsFetch"] {
    let env: Record<string, string> = {};
    try {
        env = Object.fromEntries(serviceEnvironment(typeof unit.content === "string" ? unit.content : "", hostname).assignments.map((a) => [a.name, a.value]));
    } catch (err) {
        problems.push({ key: `${key}.content`, message: (err as Error).message });
        return undefined;
    }
    const secretId = env.TLS_SECRET_ID;
    if (!secretId) {
        problems.push({ key: `${key}.content`, message: `${TLS_FETCH_UNIT} sets no TLS_SECRET_ID` });
        return undefined;
    }
    if (!machine.tlsStore) {
        problems.push({ key, message: `starts ${TLS_FETCH_UNIT}, but the local secret store holds no TLS bundle for this machine (on GCE: no secret its service account may read)` });
        return undefined;
    }
    if (secretId !== machine.tlsStore.secretId) {
        problems.push({ key: `${key}.content`, message: `fetches secret ${secretId}, but this machine may read only ${machine.tlsStore.secretId} (on GCE: 403 from Secret Manager)` });
        return undefined;
    }
    const ids = (env.TLS_ETCD_USER_IDS ?? "").split(",").filter((id) => id !== "");
    return { bundle: bundlePath(machine.tlsStore.dir, secretId), dir: env.TLS_DIR || TLS_DIR, etcdUserIds: ids };
}

/** Derives what a CoreOS host would run from one machine's cloud-config text. Throws BootError naming machine and keys. */
export function bootPlan(userData: string, machine: BootMachine): BootPlan {
    const YAML: typeof import("yaml") = require("yaml");
    const fail = (key: string, message: string) => bootError(machine.name, [{ key, message }]);
    if (!userData.startsWith("#cloud-config")) throw fail("user-data", "does not start with #cloud-config");
    const text = substituteAddresses(userData, {
        private_ipv4: machine.address,
        public_ipv4: machine.publicAddress ?? machine.address,
        private_ipv6: "",
        public_ipv6: "",
    });
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0) {
        const first = doc.errors[0];
        const line = first.linePos?.[0]?.line;
        throw fail("user-data", `is not valid YAML${line ? ` (line ${line})` : ""}: ${first.message.split("\n")[0]}`);
    }
    const config = asMapping(doc.toJS());
    if (!config) throw fail("user-data", "must be a YAML mapping after #cloud-config");

    const problems: BootProblem[] = [];
    const ignored: string[] = [];
    const simulated: string[] = [];
    for (const key of Object.keys(config)) {
        if (key === "coreos" || key === "write_files") continue;
        if (key.includes("-")) ignored.push(`${key} (dashed key: coreos-cloudinit ignores it)`);
        else ignored.push(`${key} (${TOP_LEVEL_IGNORED[key] ?? "not a cloud-config key"})`);
    }
    const coreos = asMapping(config.coreos) ?? {};
    for (const key of Object.keys(coreos)) {
        if (COREOS_IGNORED[key]) ignored.push(`coreos.${key} (${COREOS_IGNORED[key]})`);
        else if (!["etcd2", "units"].includes(key)) ignored.push(`coreos.${key} (not applied locally)`);
    }
    const units = Array.isArray(coreos.units) ? coreos.units : [];
    const hostname = typeof config.hostname === "string" ? config.hostname : machine.name;

    // Container Linux starts etcd2.service from coreos.etcd2; Flatcar ships only etcd-member.service.
    const etcd2 = asMapping(coreos.etcd2);
    const member = findUnit(units, "etcd-member.service");
    const gatewayUnit = findUnit(units, ETCD_GATEWAY_UNIT);
    if (gatewayUnit && startsAtBoot(gatewayUnit.unit) && !etcd2 && !member) {
        return gatewayBootPlan(config, units, gatewayUnit, machine, hostname, problems, ignored, simulated);
    }
    if (!machine.flavor && !etcd2 && !member) {
        throw fail("coreos", "has neither an etcd2 section nor an etcd-member.service unit: no etcd would start");
    }
    const flavor: OsFlavor = machine.flavor ?? (member ? "flatcar" : "container-linux");
    const unitName = flavor === "container-linux" ? "etcd2.service" : "etcd-member.service";
    let env: Record<string, string>;
    if (flavor === "container-linux") {
        if (!etcd2) throw fail("coreos.etcd2", "is missing: a Container Linux host would start no etcd");
        env = etcd2Environment(etcd2, problems, ignored);
        if (member) ignored.push(`coreos.units[${member.index}] (etcd-member.service: etcd2.service is the one booted here)`);
    } else {
        if (!member) {
            throw fail("coreos.units", "has no etcd-member.service (with an ETCD_* drop-in): a Flatcar host would start no etcd" +
                (etcd2 ? "; coreos.etcd2 configures etcd2.service, which Flatcar does not ship" : ""));
        }
        if (etcd2) ignored.push("coreos.etcd2 (Flatcar ships no etcd2.service)");
        env = etcdMemberEnvironment(member, hostname, problems, ignored);
    }
    const started = findUnit(units, unitName);
    if (!started || !startsAtBoot(started.unit)) {
        problems.push({ key: "coreos.units", message: `does not start ${unitName} (command: start): the host would not run etcd` });
    }
    let router: RouterBootPlan | undefined;
    let tlsFetch: BootPlan["tlsFetch"];
    units.forEach((u, i) => {
        const name = asMapping(u)?.name;
        if (name === TLS_FETCH_UNIT && startsAtBoot(asMapping(u)!)) {
            const fetched = tlsFetchPlan(asMapping(u)!, `coreos.units[${i}]`, machine, hostname, problems);
            if (fetched) {
                tlsFetch = fetched;
                simulated.push(`${TLS_FETCH_UNIT}: secret ${machine.tlsStore!.secretId} is read from the local secret store (${fetched.bundle}, root only) instead of Secret Manager with the machine's token, and unpacked under ${underRoot(machine.root, fetched.dir)} (owners not applied: etcd runs as root here)`);
            }
        } else if (name === LOCAL_ROUTER_UNIT && startsAtBoot(asMapping(u)!)) {
            router = routerBootPlan(asMapping(u)!, `coreos.units[${i}]`, machine.root, hostname, problems, ignored);
            if (router) simulated.push(`${LOCAL_ROUTER_UNIT}: the router.js of write_files runs with this machine's node and Debian's haproxy (GCE: the pinned images); a shell loop restarts it in place of systemd's Restart=always`);
        } else if (name !== unitName && name !== "etcd-member.service") ignored.push(`coreos.units[${i}] (${String(name)}: only etcd and the router run locally)`);
    });
    if (Object.keys(env).length === 0 && problems.length === 0) {
        problems.push({ key: flavor === "container-linux" ? "coreos.etcd2" : `coreos.units[${member!.index}].drop_ins`, message: "sets no ETCD_* variable" });
    }

    // The one simulation difference: each machine's "host" is its own loopback IP.
    const defaults: Record<string, string> = { ETCD_LISTEN_CLIENT_URLS: "http://localhost:2379", ETCD_LISTEN_PEER_URLS: "http://localhost:2380" };
    const mode = env.ETCD_PROXY === "on" || env.ETCD_PROXY === "readonly" ? "proxy" : "member";
    for (const key of ["ETCD_LISTEN_CLIENT_URLS", "ETCD_LISTEN_PEER_URLS"]) {
        if (key === "ETCD_LISTEN_PEER_URLS" && mode === "proxy" && !env[key]) continue;
        env[key] = rewriteListenUrls(key, env[key] ?? defaults[key], machine.address, problems);
    }
    simulated.push(`127.0.0.1, localhost and 0.0.0.0 in listen URLs bind ${machine.address}, this machine's own address`);
    env.ETCD_DATA_DIR = env.ETCD_DATA_DIR ?? (flavor === "container-linux" ? "/var/lib/etcd2" : "/var/lib/etcd");
    for (const key of PATH_VARIABLES) if (env[key]) env[key] = underRoot(machine.root, env[key]);
    simulated.push(`paths (data dir, certificates) live under ${machine.root}`);
    if (env.ETCD_ENABLE_V2 === undefined) {
        env.ETCD_ENABLE_V2 = "true";
        simulated.push("ETCD_ENABLE_V2=true: etcd2 and etcd < 3.4 serve the v2 API by default, Debian's etcd 3.4 does not");
    }

    const written = planWriteFiles(config.write_files, machine.root);
    problems.push(...written.problems);
    ignored.push(...written.ignored);
    if (problems.length > 0) throw bootError(machine.name, problems);

    const clientUrls = env.ETCD_LISTEN_CLIENT_URLS.split(",");
    const clientUrl = clientUrls.find((u) => u.endsWith(":2379")) ?? clientUrls[0];
    // A member probes itself with its own server certificate (it carries the client usage too).
    const probeTls = env.ETCD_CLIENT_CERT_AUTH === "true" && env.ETCD_TRUSTED_CA_FILE && env.ETCD_CERT_FILE && env.ETCD_KEY_FILE
        ? { ca: env.ETCD_TRUSTED_CA_FILE, cert: env.ETCD_CERT_FILE, key: env.ETCD_KEY_FILE }
        : undefined;
    return { machine: machine.name, address: machine.address, root: machine.root, flavor, mode, env, dataDir: env.ETCD_DATA_DIR, clientUrl, files: written.files, ...(router ? { router } : {}), ...(tlsFetch ? { tlsFetch } : {}), ...(probeTls ? { probeTls } : {}), ignored, simulated };
}

/**
 * A worker whose local endpoint is etcd-gateway.service (model/etcd-gateway-contract.ts): Debian's
 * `etcd gateway start` runs with the unit's own ETCD_GATEWAY_* values, listening on the machine's
 * own loopback (each local machine has one in its namespace). It holds no certificate: each client's
 * TLS goes through it to a member. ETCD_DATA_DIR is set only to recognise the process by its pid.
 */
function gatewayBootPlan(
    config: Record<string, unknown>,
    units: unknown[],
    gatewayUnit: { unit: Record<string, unknown>; index: number },
    machine: BootMachine,
    hostname: string,
    problems: BootProblem[],
    ignored: string[],
    simulated: string[],
): BootPlan {
    const key = `coreos.units[${gatewayUnit.index}]`;
    let unitEnv: Record<string, string> = {};
    try {
        unitEnv = Object.fromEntries(serviceEnvironment(typeof gatewayUnit.unit.content === "string" ? gatewayUnit.unit.content : "", hostname).assignments.map((a) => [a.name, a.value]));
    } catch (err) {
        problems.push({ key: `${key}.content`, message: (err as Error).message });
    }
    const E = ETCD_GATEWAY_ENV;
    for (const name of [E.endpoints, E.listenAddr]) if (!unitEnv[name]) problems.push({ key: `${key}.content`, message: `${ETCD_GATEWAY_UNIT} sets no ${name}` });
    const gateway = { endpoints: unitEnv[E.endpoints] ?? "", listenAddr: unitEnv[E.listenAddr] ?? "", retryDelay: unitEnv[E.retryDelay] || "5s" };
    for (const hp of gateway.endpoints.split(",").filter((e) => e !== "")) {
        if (!/^[0-9.]+:\d{1,5}$/.test(hp.trim())) problems.push({ key: `${key}.content`, message: `${E.endpoints}: "${hp}" is not address:port` });
    }
    if (gateway.listenAddr && !/^[0-9.]+:\d{1,5}$/.test(gateway.listenAddr)) problems.push({ key: `${key}.content`, message: `${E.listenAddr}: "${gateway.listenAddr}" is not address:port` });
    simulated.push(`${ETCD_GATEWAY_UNIT}: Debian's etcd gateway runs in place of the pinned image, on ${gateway.listenAddr}, this machine's own loopback in its namespace`);
    let router: RouterBootPlan | undefined;
    let tlsFetch: BootPlan["tlsFetch"];
    units.forEach((u, i) => {
        const unit = asMapping(u);
        const name = unit?.name;
        if (name === TLS_FETCH_UNIT && startsAtBoot(unit!)) {
            tlsFetch = tlsFetchPlan(unit!, `coreos.units[${i}]`, machine, hostname, problems);
            if (tlsFetch) simulated.push(`${TLS_FETCH_UNIT}: secret ${machine.tlsStore!.secretId} is read from the local secret store (${tlsFetch.bundle}, root only) instead of Secret Manager with the machine's token, and unpacked under ${underRoot(machine.root, tlsFetch.dir)} (owners not applied)`);
        } else if (name === LOCAL_ROUTER_UNIT && startsAtBoot(unit!)) {
            router = routerBootPlan(unit!, `coreos.units[${i}]`, machine.root, hostname, problems, ignored);
            if (router) simulated.push(`${LOCAL_ROUTER_UNIT}: the router.js of write_files runs with this machine's node and Debian's haproxy (GCE: the pinned images); a shell loop restarts it in place of systemd's Restart=always`);
        } else if (name !== ETCD_GATEWAY_UNIT) ignored.push(`coreos.units[${i}] (${String(name)}: only etcd, the gateway and the router run locally)`);
    });
    const written = planWriteFiles(config.write_files, machine.root);
    problems.push(...written.problems);
    ignored.push(...written.ignored);
    if (problems.length > 0) throw bootError(machine.name, problems);
    const dataDir = underRoot(machine.root, "/var/lib/etcd-gateway");
    const R = ROUTER_ENV;
    const probeTls = router && router.env[R.etcdCa] && router.env[R.etcdCert] && router.env[R.etcdKey]
        ? { ca: router.env[R.etcdCa], cert: router.env[R.etcdCert], key: router.env[R.etcdKey] }
        : undefined;
    return {
        machine: machine.name,
        address: machine.address,
        root: machine.root,
        flavor: machine.flavor ?? "flatcar",
        mode: "proxy",
        gateway,
        env: { ETCD_DATA_DIR: dataDir },
        dataDir,
        clientUrl: `https://${gateway.listenAddr}`,
        files: written.files,
        ...(router ? { router } : {}),
        ...(tlsFetch ? { tlsFetch } : {}),
        ...(probeTls ? { probeTls } : {}),
        ignored,
        simulated,
    };
}
