// The deployer's public key, derived from the private key the SSH tunnel uses: the line the
// bastion's sshd authorizes (components/local/local-sshd.ts). The key itself was read once already,
// by validation (model/ssh-key.ts).
import { readPrivateKey } from "../../model/ssh-key";


/** The OpenSSH public key line of a private key (ssh2 parses it); the deployer's key on the bastion. */
export function publicKeyOf(privateKey: string): string {
    const key = readPrivateKey(privateKey);
    if ("problem" in key) throw new Error(`coreos-cluster:sshTunnel.privateKey: ${key.problem}`);
    return `${key.type} ${key.getPublicSSH().toString("base64")} coreos-cluster-deployer`;
}
