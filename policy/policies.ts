// The policies of the coreos-cluster pack: names, enforcement levels and descriptions,
// each wired to a pure rule in ./rules. index.ts serves them; tests call them directly.
import {
    Policies,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { etcdMemberCountFindings } from "./rules/etcd-member-count";
import { etcdProtectionViolations } from "./rules/etcd-protection";
import { externalIpViolations } from "./rules/external-ip";
import { defaultServiceAccountViolations } from "./rules/default-service-account";
import { firewallExposureViolations, firewallDatabaseExposureFindings } from "./rules/firewall-exposure";
import { rebootWindowFindings } from "./rules/reboot-window";
import { Finding, PlainResource, StackContext } from "./rules/resource-data";
import { userDataSizeViolations } from "./rules/user-data-size";
import { vmLabelViolations } from "./rules/vm-labels";
import { workerGroupCapacityViolations } from "./rules/worker-group-capacity";
import { contextForUrn } from "./stack-context";

type ResourceRule = (resource: PlainResource, ctx: StackContext) => string[];
type StackRule = (resources: PlainResource[], ctx: StackContext) => Finding[];

function plain(r: ResourceValidationArgs | PolicyResource): PlainResource {
    return { type: r.type, name: r.name, urn: r.urn, props: r.props, protect: r.opts?.protect };
}

function resourcePolicy(
    name: string,
    enforcementLevel: "mandatory" | "advisory",
    description: string,
    rule: ResourceRule,
    context: () => StackContext,
): ResourceValidationPolicy {
    return {
        name,
        description,
        enforcementLevel,
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            for (const message of rule(plain(args), contextForUrn(context(), args.urn))) reportViolation(message);
        },
    };
}

function stackPolicy(
    name: string,
    enforcementLevel: "mandatory" | "advisory",
    description: string,
    rule: StackRule,
    context: () => StackContext,
): StackValidationPolicy {
    return {
        name,
        description,
        enforcementLevel,
        validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const ctx = contextForUrn(context(), args.resources[0]?.urn);
            for (const finding of rule(args.resources.map(plain), ctx)) reportViolation(finding.message, finding.urn);
        },
    };
}

/** `context` is read at each validation: the engine's stack and config, or a test's. */
export function buildPolicies(context: () => StackContext): Policies {
    return [
        stackPolicy(
            "etcd-member-count-odd",
            "mandatory",
            "Every cluster has 3, 5 or 7 etcd members (1 only on a dev stack with allowSingleMember).",
            etcdMemberCountFindings,
            context,
        ),
        resourcePolicy(
            "firewall-no-world-etcd-or-ssh",
            "mandatory",
            "No firewall rule opens SSH (22) or etcd (2379, 2380) to 0.0.0.0/0.",
            (r) => firewallExposureViolations(r),
            context,
        ),
        resourcePolicy(
            "firewall-world-database-port",
            "advisory",
            "Flags a firewall rule that opens a well-known database port (5432, 3306, 6379, 27017, ...) to 0.0.0.0/0.",
            (r) => firewallDatabaseExposureFindings(r),
            context,
        ),
        resourcePolicy(
            "user-data-within-gce-limit",
            "mandatory",
            "Instance and template user-data fits GCE's 256 KiB metadata value limit (and all metadata 512 KiB).",
            (r) => userDataSizeViolations(r),
            context,
        ),
        resourcePolicy(
            "prod-etcd-members-protected",
            "mandatory",
            "Production etcd members have protect: true and GCE deletionProtection.",
            etcdProtectionViolations,
            context,
        ),
        resourcePolicy(
            "vm-cluster-labels",
            "mandatory",
            "Every VM and instance template carries the cluster, environment and role labels.",
            (r) => vmLabelViolations(r),
            context,
        ),
        resourcePolicy(
            "worker-group-keeps-capacity",
            "mandatory",
            "Worker groups update with maxUnavailable 0 and a surge above 0.",
            (r) => workerGroupCapacityViolations(r),
            context,
        ),
        resourcePolicy(
            "prod-vm-no-external-ip",
            "advisory",
            "Production VMs have no external IP.",
            externalIpViolations,
            context,
        ),
        resourcePolicy(
            "no-default-compute-service-account",
            "advisory",
            "VMs do not run as the project's default compute service account.",
            (r) => defaultServiceAccountViolations(r),
            context,
        ),
        stackPolicy(
            "reboot-window-set",
            "advisory",
            "Machines that reboot for OS updates do so inside a locksmith reboot window.",
            rebootWindowFindings,
            context,
        ),
    ];
}
