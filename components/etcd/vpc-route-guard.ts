// Before the deployer sends anything to a local VPC's address, make sure it goes where the VPC is:
// out through that VPC's bridge, which the project created and recorded. A stack whose VPC is gone
// (a reboot clears /run, an interrupted destroy) would otherwise dial its private addresses through
// the host's default route, out of this machine. Any doubt (no route answer, another device, no
// record, another subnet) stops the send. Used by the SSH tunnel (ssh-tunnel.ts) and LocalSshd;
// processes inside the namespaces need no guard (their only route is the VPC's).
// Bundled with the providers: Node modules are required inside the function.

/** Where components/local/vpc/netns.ts records each VPC it creates (one `<bridge>.json` each). */
export const VPC_RECORDS_DIR = "/run/coreos-cluster/vpc";
/** Bridges the project creates are named `cclb-<hash>` (components/local/vpc/addressing.ts). */
export const VPC_BRIDGE_PREFIX = "cclb-";

/** The reason `host` must not be dialed from here as an address of the local VPC `subnet`, or undefined when it may. */
export function vpcRouteProblem(host: string, subnet: string, recordsDir = VPC_RECORDS_DIR): string | undefined {
    const childProcess: typeof import("child_process") = require("child_process");
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `${host} is not an IPv4 address of the local VPC ${subnet}`;
    let route: { dev?: string; gateway?: string; type?: string } | undefined;
    try {
        const ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].find((p) => fs.existsSync(p)) ?? "ip";
        route = (JSON.parse(childProcess.execFileSync(ip, ["-j", "-4", "route", "get", host], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 5000 })) as Array<typeof route>)[0];
    } catch (e) {
        return `the host has no route to ${host} it could tell (${(e as Error).message.split("\n")[0]})`;
    }
    const dev = route?.dev;
    const via = `${dev ? `dev ${dev}` : "no device"}${route?.gateway ? ` via ${route.gateway}` : ""}`;
    if (!dev || !dev.startsWith(VPC_BRIDGE_PREFIX) || route?.gateway) return `${host} is routed ${via}, not through the bridge of the local VPC ${subnet}: is the VPC up (npm run local)?`;
    let record: { subnet?: string } | undefined;
    try {
        record = JSON.parse(fs.readFileSync(path.join(recordsDir, `${dev}.json`), "utf8"));
    } catch {
        return `${host} is routed through ${dev}, which is no VPC this project recorded in ${recordsDir}`;
    }
    if (record?.subnet !== subnet) return `${host} is routed through ${dev}, the bridge of the VPC ${record?.subnet}, not of ${subnet}`;
    return undefined;
}
