// What the two service-registration resources share: the connection input type, the engine's
// preview placeholder and secret-safe errors. Bundled with the providers (bundled-provider.ts):
// no runtime import of an npm module.
import type * as pulumi from "@pulumi/pulumi";
import { EtcdConnectionArgs, redactConnectionSecrets } from "../etcd/etcd-client";

/** EtcdConnectionArgs whose fields may themselves be Outputs (secret config, stack references). */
export type EtcdConnectionInput = pulumi.Input<{
    endpoints: pulumi.Input<pulumi.Input<string>[]>;
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    tls?: pulumi.Input<{ ca?: pulumi.Input<string>; cert?: pulumi.Input<string>; key?: pulumi.Input<string> }>;
    /** The key, or (the program's way) `privateKeyEnv`: the variable holding it where Pulumi runs, so no key is in state. */
    sshTunnel?: pulumi.Input<{ host: pulumi.Input<string>; port: pulumi.Input<number>; username: pulumi.Input<string>; privateKey?: pulumi.Input<string>; privateKeyEnv?: pulumi.Input<string>; localVpc?: pulumi.Input<string> }>;
    timeoutMs?: pulumi.Input<number>;
    retries?: pulumi.Input<number>;
}>;

/** A preview placeholder for a value not known yet (the engine's sentinel). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(value: unknown): boolean {
    return value === UNKNOWN;
}

/** The error of a failed operation, prefixed by the resource's label once, with every credential redacted. */
export function failWith(label: string, err: unknown, conn: Partial<EtcdConnectionArgs> | undefined): Error {
    const message = err instanceof Error ? err.message : String(err);
    return new Error(redactConnectionSecrets(message.startsWith(label) ? message : `${label}: ${message}`, conn));
}

export function sameJson(a: unknown, b: unknown): boolean {
    return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
