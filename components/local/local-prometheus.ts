// LocalPrometheus: a real Prometheus (Debian's package) standing for the operator's monitoring on the
// local stack. One detached process in its own namespace of the local VPC (host .3, the monitoring
// range's stand-in), scraping every member's etcd metrics listener and every worker's HAProxy
// exporter through the VPC's firewall, with the scrape config of model/prometheus-config.ts. Its UI
// and API answer on its own address, admitted from this machine only. Destroy stops it and removes
// its folder; a killed run's leftovers go with its namespace (components/local/vpc/netns.ts).
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../services/bundled-provider";
import { BundledResource } from "../services/bundled-resource";
import { LOCAL_PROMETHEUS_PROVIDER_VERSION } from "../provider-versions";
import { LocalPrometheusInputs } from "./local-prometheus-provider";

export { LOCAL_PROMETHEUS_PROVIDER_VERSION } from "../provider-versions";
export { PROMETHEUS_BINARY, localPrometheusView } from "./local-prometheus-provider";
export type { LocalPrometheusInputs, LocalPrometheusState } from "./local-prometheus-provider";

/** The provider as the engine runs it: the bundle of local-prometheus-provider.ts and its modules. */
export const localPrometheusProvider = bundledProvider(require.resolve("./local-prometheus-provider"));
export type LocalPrometheusArgs = Omit<LocalPrometheusInputs, "providerVersion">;

export class LocalPrometheus extends BundledResource {
    declare public readonly url: pulumi.Output<string>;
    declare public readonly pid: pulumi.Output<number | undefined>;
    declare public readonly running: pulumi.Output<boolean>;

    constructor(name: string, args: LocalPrometheusArgs, opts?: pulumi.CustomResourceOptions) {
        super(localPrometheusProvider, name, { ...args, providerVersion: LOCAL_PROMETHEUS_PROVIDER_VERSION, pid: undefined, running: undefined, url: undefined }, opts);
    }
}
