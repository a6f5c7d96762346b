// LocalSshd: Debian's OpenSSH daemon inside a member's namespace, the deployer's only way into the
// local VPC (as IAP to a member's port 22 is on GCE). It listens on the member's VPC address,
// the firewall admits it from sshSourceRanges (the deployer stands for them), and it accepts the
// public keys it is given: the deployer's (derived from sshTunnel.privateKey) and sshAuthorizedKeys.
// Tunnels only: no shell, no TTY. Runtime modules are required inside functions.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { LOCAL_SSHD_PROVIDER_VERSION } from "../provider-versions";

export { LOCAL_SSHD_PROVIDER_VERSION } from "../provider-versions";
export type { LocalSshdInputs, LocalSshdState } from "./local-sshd-provider";

/** The provider as the engine runs it: the bundle of local-sshd-provider.ts and its modules. */
export const localSshdProvider = bundledProvider(require.resolve("./local-sshd-provider"));
export interface LocalSshdArgs {
    name: string;
    namespace: string;
    address: string;
    port?: number;
    root: string;
    authorizedKeys: pulumi.Input<string[]>;
}

export class LocalSshd extends BundledResource {
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;
    declare public readonly hostKeySha256: pulumi.Output<string>;

    constructor(name: string, args: LocalSshdArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            localSshdProvider,
            name,
            { ...args, port: args.port ?? 22, providerVersion: LOCAL_SSHD_PROVIDER_VERSION, pid: undefined, running: undefined, hostKeySha256: undefined },
            opts,
        );
    }
}
