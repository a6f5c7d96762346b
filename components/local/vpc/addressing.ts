// The local VPC's layout as plain data: one network namespace per machine, one veth per
// namespace into one bridge the project creates, addresses from one private /24 that exists
// only on that bridge. Pure: the same config and plan always give the same names and addresses.
// Runtime modules are required inside functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import type { ClusterConfig, ClusterPlan, MachineRole } from "../../../model/types";
import { roleTag } from "../../../model/plan";
import { formatIpv4, isPrivateIpv4, parseIpv4 } from "../../../model/ipv4";
import { LOCAL_DEPLOYER_HOST, LOCAL_FIRST_MACHINE_HOST, LOCAL_LOAD_BALANCER_HOST, LOCAL_PROMETHEUS_HOST } from "../../../model/local-vpc-layout";

/** Every namespace, bridge, veth and nftables table the project creates starts with this. */
export const VPC_PREFIX = "ccl";
/** Linux's IFNAMSIZ is 16 bytes with the terminating NUL. */
export const MAX_INTERFACE_NAME = 15;
/** The root namespace's address on the bridge (host .1): the deployer, standing for "outside the VPC". */
export const DEPLOYER_HOST = LOCAL_DEPLOYER_HOST;
/** The load balancer's and health checker's namespace (host .2): it stands for Google's probers. */
export const PROBE_HOST = LOCAL_LOAD_BALANCER_HOST;
/** The local Prometheus's namespace (host .3): it stands for the monitoring range. */
export const PROMETHEUS_HOST = LOCAL_PROMETHEUS_HOST;
export const FIREWALL_TABLE = "ccl_firewall";

export interface VpcMachine {
    name: string;
    role: MachineRole;
    namespace: string;
    /** The root namespace's end of the machine's veth (its other end is `eth0` inside the namespace). */
    hostVeth: string;
    address: string;
    /** The network tags a GCE instance of this role carries (roleTag). */
    tags: string[];
}

export interface VpcPlan {
    cluster: string;
    /** `a.b.c.0/24`. */
    subnet: string;
    prefixLength: number;
    bridge: string;
    deployerAddress: string;
    /** Namespace of the load balancer / health checker, and its address. */
    probeNamespace: string;
    probeHostVeth: string;
    probeAddress: string;
    /** Namespace of the local Prometheus (model/monitoring.ts), and its address. */
    prometheusNamespace: string;
    prometheusHostVeth: string;
    prometheusAddress: string;
    machines: VpcMachine[];
}

/** A short stable hex digest, for interface names that must fit 15 characters. */
export function shortHash(text: string, length = 7): string {
    const crypto: typeof import("crypto") = require("crypto");
    return crypto.createHash("sha256").update(`coreos-cluster/${text}`).digest("hex").slice(0, length);
}

export function namespaceName(machine: string): string {
    return `${VPC_PREFIX}-${machine}`;
}

export function interfaceName(kind: "b" | "v", seed: string): string {
    const name = `${VPC_PREFIX}${kind}-${shortHash(seed)}`;
    if (name.length > MAX_INTERFACE_NAME) throw new Error(`interface name ${name} is longer than ${MAX_INTERFACE_NAME} characters`);
    return name;
}

/**
 * The VPC of a local cluster. Its subnet is the /24 holding `localFirstAddress`; .1 is the
 * deployer (root namespace), .2 the probe/load-balancer namespace, .3 the Prometheus namespace,
 * machines from the plan (model/local-vpc-layout.ts).
 * Throws naming `localFirstAddress` when the addresses cannot make a private VPC.
 */
export function localVpcPlan(config: ClusterConfig, plan: ClusterPlan): VpcPlan {
    const first = parseIpv4(config.local.firstAddress);
    const fail = (why: string) => new Error(`coreos-cluster:localFirstAddress: ${config.local.firstAddress} ${why}`);
    if (first === undefined) throw fail("is not an IPv4 address");
    if (!isPrivateIpv4(first)) {
        throw fail("is not a private (RFC 1918) address: the local VPC's machines live on a bridge of their own, on a private /24 (e.g. 10.213.10.10)");
    }
    const network = first - (first % 256);
    const machines: Array<{ name: string; role: MachineRole; ip?: string }> = [
        ...plan.members.map((m) => ({ name: m.name, role: "etcd" as MachineRole, ip: m.privateIp })),
        ...plan.workers.map((w) => ({ name: w.name, role: "worker" as MachineRole, ip: w.privateIp })),
    ];
    const vpcMachines = machines.map((m) => {
        const ip = m.ip === undefined ? undefined : parseIpv4(m.ip);
        if (ip === undefined) throw new Error(`local machine ${m.name} has no planned address`);
        const host = ip - network;
        if (host < LOCAL_FIRST_MACHINE_HOST || host >= 255) {
            throw fail(`puts ${m.name} at ${m.ip}, outside .${LOCAL_FIRST_MACHINE_HOST}-.254 of ${formatIpv4(network)}/24 (.${DEPLOYER_HOST} is the deployer, .${PROBE_HOST} the load balancer, .${PROMETHEUS_HOST} the local Prometheus)`);
        }
        const namespace = namespaceName(m.name);
        return { name: m.name, role: m.role, namespace, hostVeth: interfaceName("v", namespace), address: m.ip!, tags: [roleTag(config.name, m.role)] };
    });
    const probeNamespace = namespaceName(`${config.name}-lb`);
    const prometheusNamespace = namespaceName(`${config.name}-prometheus`);
    return {
        cluster: config.name,
        subnet: `${formatIpv4(network)}/24`,
        prefixLength: 24,
        bridge: interfaceName("b", `${config.name}/${formatIpv4(network)}`),
        deployerAddress: formatIpv4(network + DEPLOYER_HOST),
        probeNamespace,
        probeHostVeth: interfaceName("v", probeNamespace),
        probeAddress: formatIpv4(network + PROBE_HOST),
        prometheusNamespace,
        prometheusHostVeth: interfaceName("v", prometheusNamespace),
        prometheusAddress: formatIpv4(network + PROMETHEUS_HOST),
        machines: vpcMachines,
    };
}
