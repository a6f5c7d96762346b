// The deployer's public key, derived from the private key the SSH tunnel uses: the line the
// bastion's sshd authorizes (components/local/local-sshd.ts).

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

/** The OpenSSH public key line of a private key (ssh2 parses it); the deployer's key on the bastion. */
export function publicKeyOf(privateKey: string): string {
    const parsed = sshKeyParser()(privateKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key instanceof Error) throw new Error(`coreos-cluster:sshTunnel.privateKey: cannot be parsed as a private key (${key.message.split(privateKey).join("[redacted]")})`);
    return `${key.type} ${key.getPublicSSH().toString("base64")} coreos-cluster-deployer`;
}
