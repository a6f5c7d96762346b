// Entry point of the bundled watcher (router.js in the worker's user-data): settings from the
// ROUTER_* environment the router unit sets, then run until SIGTERM.
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

export function settingsFromEnv(env: NodeJS.ProcessEnv): RouterSettings {
    const bind = required(env, "ROUTER_BIND");
    return {
        prefix: required(env, "ROUTER_PREFIX"),
        etcdEndpoints: required(env, "ROUTER_ETCD_ENDPOINTS").split(","),
        etcdProxy: required(env, "ROUTER_ETCD_PROXY"),
        bindAddress: bind,
        httpPorts: ports(required(env, "ROUTER_HTTP_PORTS"), "ROUTER_HTTP_PORTS"),
        healthBind: env.ROUTER_HEALTH_BIND || bind,
        healthPort: ports(required(env, "ROUTER_HEALTH_PORT"), "ROUTER_HEALTH_PORT")[0],
        healthPath: required(env, "ROUTER_HEALTH_PATH"),
        dnsAddress: env.ROUTER_DNS_ADDRESS || bind,
        dnsPort: env.ROUTER_DNS_PORT === "0" ? 0 : Number(env.ROUTER_DNS_PORT || 53),
        configDir: required(env, "ROUTER_CONFIG_DIR"),
        runDir: required(env, "ROUTER_RUN_DIR"),
        haproxyBinary: env.ROUTER_HAPROXY || "haproxy",
        settleMs: Number(env.ROUTER_SETTLE_MS || 100),
        maxSettleMs: Number(env.ROUTER_MAX_SETTLE_MS || 1000),
    };
}

export function main(): void {
    const router = new Router(settingsFromEnv(process.env));
    const stop = () => {
        router.stop();
        process.exit(0);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    router.start().catch((err) => {
        console.error(`router: ${(err as Error).message}`);
        process.exit(1);
    });
}

if (require.main === module) main();
