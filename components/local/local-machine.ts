// LocalMachine: one "machine" of the local platform. It boots its rendered cloud-config
// user-data (components/local/boot.ts) as a detached etcd process (processes.ts) that
// outlives `pulumi up`, plus, on a worker, the router its user-data carries and the demo
// backends of the services hosted on its address (machine-process.ts); refresh notices a dead process, the next up restarts it (same data
// dir), destroy stops it by pid and removes its root folder (machine-lifecycle.ts).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import type { MachineRole, OsFlavor } from "../../model/types";
import type { DemoBackend } from "./demo-backends";
import { LOCAL_MACHINE_PROVIDER_VERSION } from "../provider-versions";

export { LOCAL_MACHINE_PROVIDER_VERSION } from "../provider-versions";
export type { LocalMachineInputs, LocalMachineState } from "./local-machine-provider";

/** The provider as the engine runs it: the bundle of local-machine-provider.ts and its modules. */
export const localMachineProvider = bundledProvider(require.resolve("./local-machine-provider"));
export interface LocalMachineArgs {
    name: pulumi.Input<string>;
    role: pulumi.Input<MachineRole>;
    address: pulumi.Input<string>;
    userData: pulumi.Input<string>;
    root: pulumi.Input<string>;
    flavor?: pulumi.Input<OsFlavor>;
    namespace?: pulumi.Input<string>;
    startTimeoutSeconds?: pulumi.Input<number>;
    demoBackends?: pulumi.Input<DemoBackend[]>;
    /** The local secret store and the one secret this machine may read: fetched at every boot when its user-data starts the fetch unit. */
    tlsStore?: pulumi.Input<{ dir: string; secretId: string }>;
}

export class LocalMachine extends BundledResource {
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;
    declare public readonly clientUrl: pulumi.Output<string>;
    declare public readonly dataDir: pulumi.Output<string>;
    declare public readonly logFile: pulumi.Output<string>;
    declare public readonly mode: pulumi.Output<"member" | "proxy">;
    declare public readonly ignored: pulumi.Output<string[]>;
    declare public readonly routes: pulumi.Output<boolean>;
    declare public readonly routerPid: pulumi.Output<number | undefined>;
    declare public readonly probeTls: pulumi.Output<{ ca: string; cert: string; key: string } | undefined>;

    constructor(name: string, args: LocalMachineArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            localMachineProvider,
            name,
            {
                ...args,
                providerVersion: LOCAL_MACHINE_PROVIDER_VERSION,
                pid: undefined,
                running: undefined,
                clientUrl: undefined,
                dataDir: undefined,
                logFile: undefined,
                mode: undefined,
                ignored: undefined,
                routes: undefined,
                routerPid: undefined,
                backendsPid: undefined,
                probeTls: undefined,
            },
            opts,
        );
    }
}
