// Checks of single config keys with structure of their own (ports, machine types, fleet
// metadata, the SSH tunnel, URLs), used by validate.ts. Each records problems naming the key.

import { FleetRelease, SshTunnelSpec } from "./types";
import { ConfigReader, ENCRYPTED_WHOLE, checkFields, describeValue, isEncryptedValue } from "./config-reader";
import { LOOPBACK, cidrContains, parseIpv4 } from "./ipv4";
import { portNumberProblem } from "./ports";
import { SAFE_PATH, registryPrefixProblem, shownValue, urlProblem } from "./text-rules";
import { DOCKER_HUB } from "./images";
import { readPrivateKey } from "./ssh-key";

const SSH_TUNNEL_FIELDS = ["host", "port", "username", "privateKey", "privateKeyEnv"];
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;
const PROGRAM_METADATA = ["role", "zone", "region", "cluster"];
const METADATA_PART = /^[A-Za-z0-9_.:/-]+$/;
const PRIVATE_KEY = /^-----BEGIN (?:OPENSSH|RSA|EC|DSA|ENCRYPTED)? ?PRIVATE KEY-----[\s\S]+-----END (?:OPENSSH|RSA|EC|DSA|ENCRYPTED)? ?PRIVATE KEY-----\s*$/;
const MACHINE_TYPE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/;
/** A GCE resource as a name, a partial path or a full self link: what the API accepts, nothing a template could misread. */
const GCE_RESOURCE = /^(?:https:\/\/www\.googleapis\.com\/compute\/(?:v1|beta)\/)?(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?\/)*[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A login name as sshd and useradd take it. */
const SSH_USERNAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export function machineType(r: ConfigReader, key: string): string | undefined {
    const value = r.string(key);
    if (value !== undefined && !MACHINE_TYPE.test(value)) r.problems.add(key, `"${value}" is not a GCE machine type name (e.g. e2-small, n2-standard-4)`);
    return value;
}

export function diskSize(r: ConfigReader, key: string): number | undefined {
    const value = r.integer(key);
    if (value !== undefined && (value < 10 || value > 65536)) r.problems.add(key, `${value} GB is outside 10-65536`);
    return value;
}

/** A list of ports; what they collide with is the port table's business (validate-ports.ts). */
export function portList(r: ConfigReader, key: string): number[] | undefined {
    const ports = r.list<number>(key, "integer");
    ports?.forEach((port, i) => {
        const p = portNumberProblem(port);
        if (p) r.problems.add(`${key}[${i}]`, p);
    });
    return ports;
}

/** osImage, existingNetwork, existingSubnetwork: a GCE name, path or self link. */
export function gceResourceName(r: ConfigReader, key: string): string | undefined {
    const value = r.string(key);
    if (value && !GCE_RESOURCE.test(value)) {
        r.problems.add(key, `${JSON.stringify(value)} must be a GCE resource name, path (projects/<p>/global/...) or https://www.googleapis.com/compute/v1/ self link`);
    }
    return value;
}

/** fleet metadata: fleet joins it as k=v,k=v, so neither part may carry "," "=" or spaces. */
export function fleetMetadata(r: ConfigReader): Record<string, string> | undefined {
    const value = r.object("fleetMetadata");
    if (!value) return value;
    const out: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
        const path = `fleetMetadata.${key}`;
        if (PROGRAM_METADATA.includes(key)) r.problems.add(path, `"${key}" is set by the program (role, zone, region, cluster); choose another key`);
        else if (!METADATA_PART.test(key)) r.problems.add(path, `metadata key "${key}" may use only A-Z a-z 0-9 _ . : / - (fleet joins metadata as k=v,k=v)`);
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") r.problems.add(path, `must be a string, got ${describeValue(v)}`);
        else if (!METADATA_PART.test(String(v))) r.problems.add(path, `value "${String(v)}" may use only A-Z a-z 0-9 _ . : / - (no "," "=" or spaces)`);
        else out[key] = String(v);
    }
    return out;
}

/**
 * The SSH tunnel object; "encrypted" when its key is an encrypted stack-file value, or the name of an
 * environment variable (`privateKeyEnv`) read offline (`env` undefined): unreadable there either way.
 * With `env`, a `privateKeyEnv` key comes from that variable (CI: a secret in the job's environment),
 * so no key is ever written to a stack file.
 */
export function sshTunnel(r: ConfigReader, env?: Record<string, string | undefined>): SshTunnelSpec | "encrypted" | undefined {
    const value = r.object("sshTunnel");
    if (value === undefined || Object.keys(value).length === 0) return undefined;
    if (value[ENCRYPTED_WHOLE]) return "encrypted";
    const p = r.problems;
    checkFields(p, "sshTunnel", value, SSH_TUNNEL_FIELDS);
    const before = p.count;
    if (typeof value.host !== "string" || !/^[A-Za-z0-9.-]+$/.test(value.host)) p.add("sshTunnel.host", `must be a host name or IPv4 address, got ${describeValue(value.host)}`);
    const port = value.port ?? 22;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) p.add("sshTunnel.port", `must be a port 1-65535, got ${describeValue(port)}`);
    if (typeof value.username !== "string" || !SSH_USERNAME.test(value.username)) p.add("sshTunnel.username", `must be a login name (a-z 0-9 _ -, starting with a letter or _), got ${describeValue(value.username)}`);
    if (value.privateKeyEnv !== undefined) {
        const name = value.privateKeyEnv;
        if (value.privateKey !== undefined) p.add("sshTunnel.privateKeyEnv", "give one of privateKey (a secret config value) and privateKeyEnv (an environment variable holding the key), not both");
        else if (typeof name !== "string" || !ENV_NAME.test(name)) p.add("sshTunnel.privateKeyEnv", `must name an environment variable (A-Z 0-9 _), got ${describeValue(name)}`);
        if (p.count > before) return undefined;
        if (env === undefined) return "encrypted";
        const key = env[name as string];
        if (key === undefined || key.trim() === "") {
            p.add("sshTunnel.privateKeyEnv", `environment variable ${name} is not set; it must hold the tunnel's private key (in CI: a secret passed in the job's env)`);
        } else if (!PRIVATE_KEY.test(key.trim())) {
            p.add("sshTunnel.privateKeyEnv", `environment variable ${name} does not hold a PEM or OpenSSH private key (-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----)`);
        } else {
            const read = readPrivateKey(`${key.trim()}\n`);
            if ("problem" in read) p.add("sshTunnel.privateKeyEnv", `environment variable ${name}: the key ${read.problem}`);
        }
        if (p.count > before) return undefined;
        // One form whatever carried it (`$(cat key)` drops the final newline, a file read keeps it),
        // so the same key never shows as a changed connection.
        return { host: value.host as string, port: port as number, username: value.username as string, privateKey: `${(key as string).trim()}\n`, privateKeyEnv: name as string };
    }
    if (isEncryptedValue(value.privateKey)) return p.count === before ? "encrypted" : undefined;
    if (typeof value.privateKey !== "string") p.add("sshTunnel.privateKey", `must be a private key (PEM or OpenSSH text), got ${describeValue(value.privateKey, true)}`);
    else if (!PRIVATE_KEY.test(value.privateKey.trim())) p.add("sshTunnel.privateKey", "is not a PEM or OpenSSH private key (-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----)");
    else {
        // What the tunnel will dial with must be readable now, before anything is created.
        const read = readPrivateKey(value.privateKey);
        if ("problem" in read) p.add("sshTunnel.privateKey", read.problem);
    }
    if (p.count > before) return undefined;
    return { host: value.host as string, port: port as number, username: value.username as string, privateKey: value.privateKey as string };
}

/** The tunnel as resources get it: with a key from the environment, only the variable's name (never the key). */
export function tunnelForResources<T extends SshTunnelSpec>(spec: T): T {
    if (spec.privateKeyEnv === undefined) return spec;
    const { privateKey: _key, ...rest } = spec;
    return rest as T;
}

export const DEFAULT_FLEET_RELEASE = {
    version: "v1.0.0",
    url: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz",
};

/** The pinned fleet release for Flatcar; undefined when none is configured. */
export function fleetRelease(r: ConfigReader): FleetRelease | undefined {
    const value = r.object("fleetRelease");
    if (value === undefined || Object.keys(value).length === 0) return undefined;
    const p = r.problems;
    checkFields(p, "fleetRelease", value, ["sha256", "version", "url"]);
    const before = p.count;
    const { sha256, version = DEFAULT_FLEET_RELEASE.version, url = DEFAULT_FLEET_RELEASE.url } = value as Record<string, unknown>;
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
        p.add("fleetRelease.sha256", `must be the 64 lowercase hex digits of the release tarball's sha256 (e.g. \`curl -fsSL <url> | sha256sum\`), got ${describeValue(sha256)}`);
    }
    if (typeof version !== "string" || !/^v\d+\.\d+\.\d+$/.test(version)) p.add("fleetRelease.version", `must look like v1.0.0, got ${describeValue(version)}`);
    const urlRule = typeof url === "string" ? urlProblem(url, { schemes: ["https"] }) : `must be a string, got ${describeValue(url)}`;
    if (urlRule) p.add("fleetRelease.url", urlRule);
    else if (!(url as string).endsWith(".tar.gz")) p.add("fleetRelease.url", `${JSON.stringify(url)} must name a .tar.gz release`);
    if (p.count > before) return undefined;
    return { sha256: sha256 as string, version: version as string, url: url as string };
}

export function fleetEndpointProblem(endpoint: string, tunnelled: boolean): string | undefined {
    if (endpoint.startsWith("unix://")) {
        return SAFE_PATH.test(endpoint.slice("unix://".length)) && endpoint.startsWith("unix:///") ? undefined : `${shownValue(endpoint)} must be unix:///path/to/fleet.sock (a path of A-Z a-z 0-9 . _ - /)`;
    }
    // fleet's API speaks plain HTTP (the key's own exception), and only on loopback through the tunnel.
    const urlRule = urlProblem(endpoint, { schemes: ["http", "https"], path: false });
    if (urlRule) return `${urlRule}; fleetEndpoint is unix:///path/to/fleet.sock or http://host:port`;
    const host = new URL(endpoint).hostname;
    const loopback = host === "localhost" || (parseIpv4(host) !== undefined && cidrContains(LOOPBACK, parseIpv4(host)!));
    if (!loopback && !tunnelled) {
        return `${shownValue(endpoint)}: the fleet API has no authentication and no TLS; reach it on a loopback address through sshTunnel, never across the network`;
    }
    return undefined;
}

export function escapeRegExp(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * imageMirror: a registry prefix (text-rules.ts registryPrefixProblem), or empty for the stack's own
 * mirror on GCE. `docker.io` itself is refused in production: every worker pulls through the NAT's
 * one address, and Docker Hub limits anonymous pulls per address (issue 23, item 4).
 */
export function imageMirror(r: ConfigReader, isProd: boolean): string | undefined {
    const value = r.string("imageMirror");
    if (value === undefined || value === "") return value;
    const problem = registryPrefixProblem(value);
    if (problem) r.problems.add("imageMirror", problem);
    else if (isProd && (value === DOCKER_HUB || value.startsWith(`${DOCKER_HUB}/`) || value === "registry-1.docker.io")) {
        r.problems.add("imageMirror", "must not be Docker Hub in prod: every worker pulls anonymously through the NAT's shared address, and Docker Hub's per-address limit stops a rollout or a few autoheals; leave it empty for the stack's own Artifact Registry mirror, or name an existing mirror");
    }
    return value;
}
