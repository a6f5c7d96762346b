// Production VMs stay private: egress goes through Cloud NAT, ingress through the load
// balancer, SSH through IAP. An external IP makes every listening port one firewall
// mistake away from the internet (coreos-cluster:externalIps must be false in prod).
import { PlainResource, StackContext, asArray, describe, environmentOf, isProductionContext, isRecord, isVm } from "./resource-data";

export function externalIpViolations(resource: PlainResource, ctx: StackContext): string[] {
    if (!isVm(resource)) return [];
    const environment = environmentOf(resource, ctx);
    if (!isProductionContext(resource, ctx)) return [];
    const exposed = asArray(resource.props.networkInterfaces).filter(
        (nic) => isRecord(nic) && (asArray(nic.accessConfigs).length > 0 || asArray(nic.ipv6AccessConfigs).length > 0),
    );
    if (exposed.length === 0) return [];
    return [
        `${describe(resource)} in environment "${environment}" gets an external IP (networkInterfaces with ` +
            `accessConfigs); production VMs should be private (coreos-cluster:externalIps false, egress through Cloud NAT).`,
    ];
}
