// The local VPC's fixed hosts, in one place: the local platform's /24 (the one holding
// localFirstAddress) keeps its first hosts for what stands outside or beside the cluster's machines,
// as GCE keeps addresses of every subnet. The validator (model/validate.ts), the address plan
// (components/local/vpc/addressing.ts) and the monitoring defaults (model/monitoring.ts) read it.
// No imports beyond ipv4: the local platform's provider bundles carry it.
import { formatIpv4, parseIpv4 } from "./ipv4";

/** The root namespace's end of the bridge: the deployer, standing for "outside the VPC". */
export const LOCAL_DEPLOYER_HOST = 1;
/** The load balancer's and health checker's namespace: it stands for Google's probers. */
export const LOCAL_LOAD_BALANCER_HOST = 2;
/** The local Prometheus's namespace: it stands for the monitoring range (coreos-cluster:monitoringRanges). */
export const LOCAL_PROMETHEUS_HOST = 3;
/** Where the local Prometheus serves its UI and API, on its own address; admitted from the deployer only. */
export const LOCAL_PROMETHEUS_PORT = 9090;
/** Members and workers take addresses from here up to .254. */
export const LOCAL_FIRST_MACHINE_HOST = 4;

/** The address of `host` in the /24 holding `firstAddress`, or undefined when it is no IPv4 address. */
export function localVpcAddress(firstAddress: string, host: number): string | undefined {
    const first = parseIpv4(firstAddress);
    if (first === undefined) return undefined;
    return formatIpv4(first - (first % 256) + host);
}
