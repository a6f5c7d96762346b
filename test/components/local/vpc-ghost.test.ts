// Issue 23: a namespace deleted while a process still held it lives on without a name, with its eth0
// and the root end of its veth pair. Before the fix the next `npm run local` failed for good with
// `ip -n <ns> addr replace ... dev eth0: Cannot find device "eth0"` (the root end existed, so no pair
// was made), and destroy left the root ends and the bridge. Reproduced here on real namespaces: the
// next ensureVpc makes the pair again, and removeVpc removes stale root ends and the bridge.
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { ensureVpc, namespaces, readRecord, removeVpc } from "../../../components/local/vpc/netns";
import { execInNamespace } from "../../../components/local/vpc/spawn";
import { firewallMatrix } from "../../../model/firewall";
import { requireRoot, scratchDir, sweepTestVpcs, vpcFixture, vpcTestConfig } from "./vpc-support";

const linkExists = (name: string) => fs.existsSync(`/sys/class/net/${name}`);

describe("local VPC: a namespace deleted while held (the autoheal-then-destroy leftovers of issue 23)", function () {
    this.timeout(60000);
    const config = vpcTestConfig("vpcghost", { local: { firstAddress: "10.213.21.10", workers: 1, dataDir: ".x" } } as never);
    const { plan, vpc } = vpcFixture(config);
    const rulesets = () => vpcRulesets(vpc, firewallMatrix(config, plan), config);
    const guard = { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) };
    let dataDir: string;
    let holder: ChildProcess | undefined;

    before(async () => {
        requireRoot();
        await sweepTestVpcs();
        dataDir = scratchDir();
    });
    after(async () => {
        holder?.kill("SIGKILL");
        const record = readRecord(vpc.bridge);
        if (record) await removeVpc(record);
        fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("the next ensureVpc makes a fresh pair where a stale root end was left, and the machine's address works", async () => {
        ensureVpc(vpc, rulesets(), guard, dataDir);
        const worker = vpc.machines.find((m) => m.role === "worker")!;
        // A process holds the namespace; the name goes: the netns, its eth0 and the root end stay.
        holder = spawn("ip", ["netns", "exec", worker.namespace, "sleep", "300"], { stdio: "ignore" });
        await new Promise((r) => setTimeout(r, 300));
        const del = spawn("ip", ["netns", "del", worker.namespace]);
        await new Promise((r) => del.once("exit", r));
        expect(namespaces()).to.not.include(worker.namespace);
        expect(linkExists(worker.hostVeth), "the stale root end is left").to.equal(true);

        ensureVpc(vpc, rulesets(), guard, dataDir);
        const addr = await execInNamespace(worker.namespace, "ip", ["-4", "-o", "addr", "show", "dev", "eth0"]);
        expect(addr.stdout).to.include(`${worker.address}/`);
        // The new eth0 is the peer of the root end on the bridge (not of the stale one in the ghost).
        const eth0Index = (await execInNamespace(worker.namespace, "cat", ["/sys/class/net/eth0/ifindex"])).stdout.trim();
        expect(fs.readFileSync(`/sys/class/net/${worker.hostVeth}/iflink`, "utf8").trim(), "the root end's peer is this namespace's eth0").to.equal(eth0Index);
        expect(fs.realpathSync(`/sys/class/net/${worker.hostVeth}/master`).endsWith(`/${vpc.bridge}`), "on the VPC's bridge").to.equal(true);
    });

    it("removeVpc removes a stale root end, the namespaces, the bridge and the record", async () => {
        const worker = vpc.machines.find((m) => m.role === "worker")!;
        // Another ghost, this time at destroy.
        holder?.kill("SIGKILL");
        holder = spawn("ip", ["netns", "exec", worker.namespace, "sleep", "300"], { stdio: "ignore" });
        await new Promise((r) => setTimeout(r, 300));
        const del = spawn("ip", ["netns", "del", worker.namespace]);
        await new Promise((r) => del.once("exit", r));
        const removed = await removeVpc(readRecord(vpc.bridge)!);
        expect(removed).to.include(`veth ${worker.hostVeth}`);
        for (const m of vpc.machines) expect(linkExists(m.hostVeth), m.hostVeth).to.equal(false);
        expect(linkExists(vpc.bridge)).to.equal(false);
        expect(namespaces().filter((n) => n.startsWith("ccl-vpcghost-"))).to.deep.equal([]);
        expect(readRecord(vpc.bridge)).to.equal(undefined);
    });
});
