// The local VPC at runtime: the bridge, one namespace per machine with its veth and address, the
// nftables rules, and their removal. Every name carries the `ccl` prefix, and every VPC is
// recorded in a registry file (REGISTRY_DIR) naming what it created, so a sweep removes only what
// this project made. Runtime modules are required inside functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import { interfaceName, type VpcPlan } from "./addressing";
// Imported, not required in the function: a bundle carries what is imported; a relative require()
// cannot be resolved where the engine loads a provider.
import { cidrsOverlap, formatIpv4, parseCidr, parseIpv4 } from "../../../model/ipv4";

/** tmpfs, like /run/netns: the records vanish together with the namespaces at reboot. */
export const REGISTRY_DIR = "/run/coreos-cluster/vpc";

export interface VpcRecord {
    bridge: string;
    subnet: string;
    /** Every namespace created for this VPC (machines, the probe namespace and the Prometheus namespace). */
    namespaces: string[];
    rootGuardTable: string;
    /** The stack's data dir; a sweep may remove a VPC whose data dir is gone. */
    dataDir: string;
    createdAt: string;
    /** The test run that made it (COREOS_CLUSTER_TEST_RUN_PID, set by scripts/test.sh): a sweep leaves it while that run lives. */
    testRunPid?: number;
}

/** The pid of the test run this process belongs to, if any (scripts/test.sh exports it). */
export function testRunPid(): number | undefined {
    const pid = Number(process.env.COREOS_CLUSTER_TEST_RUN_PID);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function tool(name: "ip" | "nft"): string {
    const fs: typeof import("fs") = require("fs");
    for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) if (fs.existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
    throw new Error(`${name} not found: run scripts/install-system-deps.sh (Debian's ${name === "ip" ? "iproute2" : "nftables"})`);
}

/** Runs a command, throwing its stderr; `input` goes to its stdin. */
export function run(command: string, args: string[], input?: string): string {
    const childProcess: typeof import("child_process") = require("child_process");
    const r = childProcess.spawnSync(command, args, { encoding: "utf8", input, timeout: 30000 });
    if (r.error) throw new Error(`${command} ${args.join(" ")}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
}

function ip(args: string[]): string {
    return run(tool("ip"), args);
}

export function namespaces(): string[] {
    const fs: typeof import("fs") = require("fs");
    try {
        return fs.readdirSync("/run/netns");
    } catch {
        return [];
    }
}

function linkExists(name: string): boolean {
    const fs: typeof import("fs") = require("fs");
    return fs.existsSync(`/sys/class/net/${name}`);
}

/** Networks (addresses and routes, every table) of the root namespace overlapping the subnet, except our own bridge's. */
export function hostOverlaps(subnet: string, ownBridge: string): string[] {
    const wanted = parseCidr(subnet);
    if ("problem" in wanted) throw new Error(`VPC subnet ${subnet}: ${wanted.problem}`);
    const toCidr = (text: string): ReturnType<typeof parseCidr> | undefined => {
        if (text === "default") return parseCidr("0.0.0.0/0");
        const [address, prefix = "32"] = text.split("/");
        const value = parseIpv4(address);
        if (value === undefined) return undefined;
        const size = 2 ** (32 - Number(prefix));
        return parseCidr(`${formatIpv4(value - (value % size))}/${prefix}`);
    };
    const found: string[] = [];
    const addresses = JSON.parse(ip(["-j", "-4", "addr", "show"])) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
    for (const link of addresses) {
        if (link.ifname === ownBridge) continue;
        for (const a of link.addr_info ?? []) {
            const c = toCidr(`${a.local}/${a.prefixlen}`);
            if (c && !("problem" in c) && cidrsOverlap(c.cidr, wanted.cidr)) found.push(`address ${a.local}/${a.prefixlen} on ${link.ifname}`);
        }
    }
    const routes = JSON.parse(ip(["-j", "-4", "route", "show", "table", "all"])) as Array<{ dst: string; dev?: string; table?: string; type?: string }>;
    for (const r of routes) {
        if (r.dev === ownBridge) continue;
        // The default route (and the local table's broadcast entries) are how the host reaches elsewhere, not a claim on this subnet.
        if (r.dst === "default") continue;
        const c = toCidr(r.dst);
        if (c && !("problem" in c) && cidrsOverlap(c.cidr, wanted.cidr)) found.push(`route ${r.dst}${r.dev ? ` dev ${r.dev}` : ""}${r.table ? ` table ${r.table}` : ""}`);
    }
    return found;
}

function recordFile(bridge: string): string {
    return `${REGISTRY_DIR}/${bridge}.json`;
}

export function readRecord(bridge: string): VpcRecord | undefined {
    const fs: typeof import("fs") = require("fs");
    try {
        return JSON.parse(fs.readFileSync(recordFile(bridge), "utf8"));
    } catch {
        return undefined;
    }
}

export function records(): VpcRecord[] {
    const fs: typeof import("fs") = require("fs");
    let files: string[] = [];
    try {
        files = fs.readdirSync(REGISTRY_DIR).filter((f) => f.endsWith(".json"));
    } catch {
        return [];
    }
    return files.map((f) => readRecord(f.replace(/\.json$/, ""))).filter((r): r is VpcRecord => r !== undefined);
}

function writeRecord(record: VpcRecord): void {
    const fs: typeof import("fs") = require("fs");
    fs.mkdirSync(REGISTRY_DIR, { recursive: true });
    fs.writeFileSync(recordFile(record.bridge), JSON.stringify(record, null, 2) + "\n");
}

function allNamespaces(vpc: VpcPlan): Array<{ namespace: string; hostVeth: string; address: string }> {
    return [
        ...vpc.machines,
        { namespace: vpc.probeNamespace, hostVeth: vpc.probeHostVeth, address: vpc.probeAddress },
        // Recorded like the others: a sweep or a destroy kills the local Prometheus with its namespace.
        ...(vpc.prometheusNamespace ? [{ namespace: vpc.prometheusNamespace, hostVeth: vpc.prometheusHostVeth, address: vpc.prometheusAddress }] : []),
    ];
}

/** Creates (or completes) the VPC; refuses a subnet the host already uses, or names taken by something else. */
export function ensureVpc(vpc: VpcPlan, rulesets: Record<string, string>, rootGuard: { table: string; ruleset: string }, dataDir: string): void {
    const record = readRecord(vpc.bridge);
    if (record && record.dataDir !== dataDir) {
        throw new Error(`local VPC bridge ${vpc.bridge} belongs to the stack with data in ${record.dataDir}, not ${dataDir}; destroy that stack first (or sweep it: components/local/cleanup.ts)`);
    }
    const existing = namespaces();
    for (const n of allNamespaces(vpc)) {
        if (existing.includes(n.namespace) && !record?.namespaces.includes(n.namespace)) {
            throw new Error(`network namespace ${n.namespace} already exists and was not created by this stack's VPC (no record in ${REGISTRY_DIR}); nothing was changed`);
        }
    }
    if (linkExists(vpc.bridge) && !record) throw new Error(`interface ${vpc.bridge} already exists and is not this stack's VPC bridge; nothing was changed`);
    const overlaps = hostOverlaps(vpc.subnet, vpc.bridge);
    if (overlaps.length > 0) {
        throw new Error(`coreos-cluster:localFirstAddress: the local VPC subnet ${vpc.subnet} overlaps this host's ${overlaps.join(", ")}; choose another private /24. Nothing was created`);
    }
    // Recorded before anything exists, so a run killed halfway is still swept.
    writeRecord({
        bridge: vpc.bridge,
        subnet: vpc.subnet,
        namespaces: allNamespaces(vpc).map((n) => n.namespace),
        rootGuardTable: rootGuard.table,
        dataDir,
        createdAt: record?.createdAt ?? new Date().toISOString(),
        ...(testRunPid() ? { testRunPid: testRunPid() } : {}),
    });
    if (!linkExists(vpc.bridge)) ip(["link", "add", vpc.bridge, "type", "bridge"]);
    ip(["addr", "replace", `${vpc.deployerAddress}/${vpc.prefixLength}`, "dev", vpc.bridge]);
    ip(["link", "set", vpc.bridge, "up"]);
    run(tool("nft"), ["-f", "-"], rootGuard.ruleset);
    for (const n of allNamespaces(vpc)) {
        if (!namespaces().includes(n.namespace)) ip(["netns", "add", n.namespace]);
        const inNs = (args: string[]) => ip(["-n", n.namespace, ...args]);
        // The firewall goes up before the interface does: no moment without default-deny.
        run(tool("ip"), ["netns", "exec", n.namespace, tool("nft"), "-f", "-"], rulesets[n.namespace] ?? "");
        inNs(["link", "set", "lo", "up"]);
        const hasEth0 = inNs(["-o", "link", "show"]).includes(": eth0");
        // A root end without its eth0 here is a stale pair: its peer lives in a namespace deleted while
        // a process still held it (a ghost with no name). It is removed and the pair made again.
        if (linkExists(n.hostVeth) && !hasEth0) ip(["link", "del", n.hostVeth]);
        if (!linkExists(n.hostVeth)) {
            if (hasEth0) inNs(["link", "del", "eth0"]);
            ip(["link", "add", n.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", n.namespace]);
        }
        ip(["link", "set", n.hostVeth, "master", vpc.bridge, "up"]);
        inNs(["addr", "replace", `${n.address}/${vpc.prefixLength}`, "dev", "eth0"]);
        inNs(["link", "set", "eth0", "up"]);
        // Only IPv4 exists in the VPC (GCE's VPCs here are IPv4 only).
        run(tool("ip"), ["netns", "exec", n.namespace, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
    }
}

/** Applies new rulesets to existing namespaces (atomically per namespace). */
export function applyRulesets(rulesets: Record<string, string>): void {
    for (const [namespace, ruleset] of Object.entries(rulesets)) run(tool("ip"), ["netns", "exec", namespace, tool("nft"), "-f", "-"], ruleset);
}

/** Which of the VPC's parts are missing (for refresh): empty when it is whole. */
export function missingParts(vpc: VpcPlan): string[] {
    const missing: string[] = [];
    if (!linkExists(vpc.bridge)) missing.push(`bridge ${vpc.bridge}`);
    const existing = namespaces();
    for (const n of allNamespaces(vpc)) if (!existing.includes(n.namespace)) missing.push(`namespace ${n.namespace}`);
    return missing;
}

/** Pids of the processes in a namespace (`ip netns pids`). */
export function namespacePids(namespace: string): number[] {
    try {
        return ip(["netns", "pids", namespace]).split(/\s+/).filter(Boolean).map(Number);
    } catch {
        return [];
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes a recorded VPC: kills whatever still runs in its namespaces (only ours: they carry the
 * prefix and are in the record), deletes namespaces, veths, bridge and root guard table, then the record.
 */
export async function removeVpc(record: VpcRecord): Promise<string[]> {
    const removed: string[] = [];
    const existing = namespaces();
    for (const namespace of record.namespaces) {
        if (!existing.includes(namespace) || !namespace.startsWith("ccl-")) continue;
        // Killed until none is left: a supervisor (or the autohealer) may have started one meanwhile.
        const deadline = Date.now() + 5000;
        for (let pids = namespacePids(namespace); pids.length > 0 && Date.now() < deadline; pids = namespacePids(namespace)) {
            for (const pid of pids) {
                try {
                    process.kill(pid, "SIGKILL");
                    if (!removed.includes(`process ${pid} in ${namespace}`)) removed.push(`process ${pid} in ${namespace}`);
                } catch {
                    // already gone
                }
            }
            await sleep(50);
        }
        // Deleting the namespace also deletes its eth0 and with it the veth's root end.
        ip(["netns", "del", namespace]);
        removed.push(`namespace ${namespace}`);
    }
    // A namespace deleted while something still held it lives on without a name, and with it its eth0
    // and the root end of the pair: the root ends go explicitly (deleting one deletes its peer too).
    for (const namespace of record.namespaces) {
        const hostVeth = interfaceName("v", namespace);
        if (!namespace.startsWith("ccl-") || !linkExists(hostVeth)) continue;
        try {
            ip(["link", "del", hostVeth]);
            removed.push(`veth ${hostVeth}`);
        } catch (err) {
            // The kernel may still be tearing down the namespace just deleted, and its pair with it.
            if (linkExists(hostVeth)) throw err;
        }
    }
    if (linkExists(record.bridge)) {
        ip(["link", "del", record.bridge]);
        removed.push(`bridge ${record.bridge}`);
    }
    try {
        run(tool("nft"), ["delete", "table", "inet", record.rootGuardTable]);
        removed.push(`nftables table inet ${record.rootGuardTable}`);
    } catch {
        // not there
    }
    require("fs").rmSync(recordFile(record.bridge), { force: true });
    return removed;
}
