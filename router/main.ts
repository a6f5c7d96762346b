// Entry point of the bundled watcher (router.js in the worker's user-data): settings from the
// ROUTER_* environment the router unit sets (model/router-contract.ts), then run until SIGTERM,
// the unit's stop signal (docker stop --stop-signal SIGTERM; node takes SIGUSR1 for its inspector).
import { ROUTER_DEFAULTS, ROUTER_ENV, ROUTER_STOP_SIGNAL } from "../model/router-contract";
import { Router, RouterSettings } from "./watcher";

function required(env: NodeJS.ProcessEnv, name: string): string {
    const value = env[name];
    if (!value) throw new Error(`router: ${name} is not set (the router unit sets it)`);
    return value;
}

function ports(text: string, name: string): number[] {
    const list = text.split(",").map((p) => Number(p.trim()));
    if (list.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new Error(`router: ${name}="${text}" must be ports like 80,443`);
    return list;
}

function milliseconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
    const text = env[name];
    if (!text) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`router: ${name}="${text}" must be a whole number of milliseconds`);
    return value;
}

/** The router's etcd identity files: all three or none; required when an endpoint is https. */
function etcdTls(env: NodeJS.ProcessEnv): Pick<RouterSettings, "etcdTls"> {
    const E = ROUTER_ENV;
    const [caFile, certFile, keyFile] = [env[E.etcdCa], env[E.etcdCert], env[E.etcdKey]];
    const https = [...(env[E.etcdEndpoints] ?? "").split(","), env[E.etcdProxy] ?? ""].some((u) => u.trim().startsWith("https:"));
    if (!caFile && !certFile && !keyFile) {
        if (https) throw new Error(`router: ${E.etcdCa}, ${E.etcdCert} and ${E.etcdKey} are required with https etcd endpoints (client-certificate authentication)`);
        return {};
    }
    if (!caFile || !certFile || !keyFile) throw new Error(`router: ${E.etcdCa}, ${E.etcdCert} and ${E.etcdKey} go together`);
    return { etcdTls: { caFile, certFile, keyFile, ...(env[E.etcdUser] ? { user: env[E.etcdUser] } : {}) } };
}

/** The watcher's settings from the ROUTER_* environment (model/router-contract.ts names every variable). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RouterSettings {
    const E = ROUTER_ENV;
    const bind = required(env, E.bind);
    const dnsText = env[E.dnsPort];
    // "0" turns DNS off; unset is the default port.
    const dnsPort = dnsText === "0" ? 0 : dnsText ? ports(dnsText, E.dnsPort)[0] : ROUTER_DEFAULTS.dnsPort;
    return {
        prefix: required(env, E.prefix),
        etcdEndpoints: required(env, E.etcdEndpoints).split(","),
        etcdProxy: required(env, E.etcdProxy),
        bindAddress: bind,
        httpPorts: ports(required(env, E.httpPorts), E.httpPorts),
        healthBind: env[E.healthBind] || bind,
        healthPort: ports(required(env, E.healthPort), E.healthPort)[0],
        healthPath: required(env, E.healthPath),
        ...(env[E.metricsPort] ? { metricsPort: ports(env[E.metricsPort]!, E.metricsPort)[0] } : {}),
        dnsAddress: env[E.dnsAddress] || bind,
        dnsPort,
        configDir: required(env, E.configDir),
        runDir: required(env, E.runDir),
        haproxyBinary: env[E.haproxy] || ROUTER_DEFAULTS.haproxy,
        settleMs: milliseconds(env, E.settleMs, ROUTER_DEFAULTS.settleMs),
        maxSettleMs: milliseconds(env, E.maxSettleMs, ROUTER_DEFAULTS.maxSettleMs),
        ...etcdTls(env),
    };
}

export function main(): void {
    const router = new Router(settingsFromEnv(process.env));
    const stop = () => {
        router.stop();
        process.exit(0);
    };
    process.on(ROUTER_STOP_SIGNAL, stop);
    process.on("SIGINT", stop);
    router.start().catch((err) => {
        console.error(`router: ${(err as Error).message}`);
        process.exit(1);
    });
}

if (require.main === module) main();
