// The SSH private key the stack dials its tunnel with, read by ssh2's own parser: the library the
// tunnel itself uses (components/etcd/ssh-tunnel.ts), so a key it accepts here is one the tunnel can
// use. Validation refuses a key it cannot read before anything is created (model/validate-fields.ts);
// the local platform derives the bastion's authorized key from it (components/local/deployer-key.ts).

type ParseKey = typeof import("ssh2").utils.parseKey;

/**
 * ssh2's key parser, the very function its `utils.parseKey` is (ssh2/lib/index.js re-exports it),
 * loaded alone: the package's index also loads its client, server, agent and SFTP, ~25 ms of every
 * run for one key. A release that moves the file gets the index again.
 */
export function sshKeyParser(): ParseKey {
    try {
        return (require("ssh2/lib/protocol/keyParser.js") as { parseKey: ParseKey }).parseKey;
    } catch {
        return (require("ssh2") as typeof import("ssh2")).utils.parseKey;
    }
}

type ParsedKey = Exclude<ReturnType<ParseKey>, Error | unknown[]>;

/** The key ssh2 reads from `privateKey` (no passphrase: the tunnel has none), or what it says is wrong, with the key's text never in it. */
export function readPrivateKey(privateKey: string): ParsedKey | { problem: string } {
    const parsed = sshKeyParser()(privateKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error || key === undefined) {
        const why = key instanceof Error ? key.message.split(privateKey).join("[redacted]") : "no key in it";
        return { problem: `cannot be parsed as an unencrypted private key (${why})` };
    }
    return key as ParsedKey;
}

/**
 * A new unencrypted ed25519 private key in OpenSSH's format, as ssh-keygen writes it: one ssh2 (so
 * validation, the tunnel and the bastion's authorized key) reads. For stand-ins and throwaway keys only.
 */
export function newOpenSshPrivateKey(): string {
    return (require("ssh2") as typeof import("ssh2")).utils.generateKeyPairSync("ed25519").private;
}
