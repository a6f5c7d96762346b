// A preview needs no SSH key (docs/delivery.md, "Who holds what"). CI's pull-request previews and
// drift checks run with a read-only identity and without the tunnel's private key; only the deploy
// jobs hold it. A GCE stack whose sshTunnel takes its key from an environment variable
// (`privateKeyEnv`) would otherwise be refused before any resource exists ("environment variable
// ... is not set"), so during a preview, and only then, a throwaway key stands in for the missing
// one while the stack is validated; the program then replaces it with an unknown value, so the key
// is unknown to the preview (the tunnelled resources show their connection as a possible change)
// and the stand-in never reaches a resource. `pulumi up` still refuses a missing key.
// Pure: the caller says whether this is a preview and provides the unknown value.

import { ClusterConfig } from "./types";
import { isPlainObject } from "./config-reader";
import { newOpenSshPrivateKey } from "./ssh-key";

export interface PreviewKeyEnvironment {
    /** The environment to validate the stack with. */
    env: Record<string, string | undefined>;
    /** The throwaway key standing in for the missing one, when one does (its variable's name too). */
    standIn?: { variable: string; key: string };
}

/**
 * The environment for validating `raw` (the stack's config, short keys): `env` itself unless this is a
 * preview of a GCE stack whose `sshTunnel.privateKeyEnv` names a variable `env` does not hold.
 */
export function previewKeyEnvironment(raw: Record<string, unknown>, env: Record<string, string | undefined>, isPreview: boolean): PreviewKeyEnvironment {
    if (!isPreview) return { env };
    // The local platform's deployer key is made by scripts/local.sh on the same machine: always there.
    const platform = raw.platform ?? "gcp";
    if (platform !== "gcp") return { env };
    const tunnel = raw.sshTunnel;
    if (!isPlainObject(tunnel) || tunnel.privateKey !== undefined || typeof tunnel.privateKeyEnv !== "string") return { env };
    const variable = tunnel.privateKeyEnv;
    const held = env[variable];
    if (held !== undefined && held.trim() !== "") return { env };
    // OpenSSH's format, as ssh-keygen writes it: validation reads every tunnel key with ssh2 (model/ssh-key.ts).
    const key = newOpenSshPrivateKey();
    return { env: { ...env, [variable]: key }, standIn: { variable, key } };
}

/**
 * `config` with the tunnel's stand-in key replaced by `unknownKey` (the program passes
 * `pulumi.unknown`): every connection built from the tunnel is then unknown to the preview.
 * Throws if the validated tunnel does not carry the stand-in (it must never reach a resource).
 */
export function withUnknownTunnelKey(config: ClusterConfig, standIn: { key: string }, unknownKey: unknown): ClusterConfig {
    const tunnel = config.access.sshTunnel;
    if (tunnel === undefined || tunnel.privateKey?.trim() !== standIn.key.trim()) {
        throw new Error("preview without the SSH tunnel's key: the validated tunnel does not carry the stand-in key");
    }
    return { ...config, access: { ...config.access, sshTunnel: { ...tunnel, privateKey: unknownKey as string } } };
}
