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
import type { LocalPrometheusInputs } from "./local-prometheus-provider";
import type { ClusterConfig, ClusterPlan } from "../../model/types";
import type { LocalView } from "../../model/local-view";
import type { VpcPlan } from "./vpc/addressing";
import { monitoringRanges, scrapeTargets } from "../../model/monitoring";
import { LOCAL_PROMETHEUS_PORT } from "../../model/local-vpc-layout";

export { LOCAL_PROMETHEUS_PROVIDER_VERSION } from "../provider-versions";
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

/**
 * The local Prometheus, when a monitoring range admits it (it stands for every range of
 * monitoringRanges in the firewall, components/local/vpc/firewall-rules.ts): in its own namespace at
 * .3 of the VPC, scraping model/monitoring.ts's endpoints. Undefined with no range: nothing to scrape.
 */
export function localPrometheusView(config: ClusterConfig, plan: ClusterPlan, vpc: VpcPlan, dataDir: string): LocalView["prometheus"] {
    if (monitoringRanges(config).length === 0) return undefined;
    const targets = scrapeTargets(config, plan);
    return {
        name: `${config.name}-prometheus`,
        address: vpc.prometheusAddress,
        port: LOCAL_PROMETHEUS_PORT,
        url: `http://${vpc.prometheusAddress}:${LOCAL_PROMETHEUS_PORT}`,
        namespace: vpc.prometheusNamespace,
        root: `${dataDir}/${config.name}-prometheus`,
        scrapes: targets.map((t) => ({ job: t.job, port: t.port, machines: t.targets.map((x) => x.machine) })),
    };
}
