// What the engine tells a policy pack about the stack, turned into plain data. The engine
// starts the pack with PULUMI_STACK (and PULUMI_NODEJS_STACK) and PULUMI_CONFIG (the
// stack's config as JSON, full keys). Only the keys the rules read are kept, so secret
// config values (etcdPassword, sshTunnel) never reach the rules. A language host that
// passes neither still gives every resource a URN, which names the stack.
import { CONFIG_NAMESPACE, StackContext } from "./rules/resource-data";

export const CONFIG_KEYS_READ: readonly string[] = [
    "clusterName",
    "environment",
    "etcdCount",
    "isDev",
    "allowSingleMember",
    "rebootStrategy",
    "rebootWindowStart",
    "rebootWindowLength",
];

export function stackContextFromEnv(env: Record<string, string | undefined>): StackContext {
    const stack = env.PULUMI_STACK || env.PULUMI_NODEJS_STACK || undefined;
    const config: Record<string, string> = {};
    let raw: unknown;
    try {
        raw = env.PULUMI_CONFIG ? JSON.parse(env.PULUMI_CONFIG) : undefined;
    } catch {
        raw = undefined; // unreadable config: the rules fall back to what the resources say
    }
    if (typeof raw === "object" && raw !== null) {
        for (const key of CONFIG_KEYS_READ) {
            const full = `${CONFIG_NAMESPACE}:${key}`;
            const value = (raw as Record<string, unknown>)[full];
            if (value === undefined || value === null) continue;
            config[full] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { stack, config };
}

/** `urn:pulumi:<stack>::<project>::<type>::<name>` -> `<stack>`. */
export function stackFromUrn(urn: string): string | undefined {
    const m = /^urn:pulumi:([^:]+)::/.exec(urn);
    return m ? m[1] : undefined;
}

/** The context for one resource: the engine's stack name, else the one in the resource's URN. */
export function contextForUrn(ctx: StackContext, urn: string | undefined): StackContext {
    if (ctx.stack || !urn) return ctx;
    const stack = stackFromUrn(urn);
    return stack ? { ...ctx, stack } : ctx;
}
