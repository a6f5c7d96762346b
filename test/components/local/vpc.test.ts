// The local VPC for real: network namespaces, a bridge, veths and nftables rules built from the
// firewall matrix, with Debian's etcd booted from the rendered user-data inside them. Shows that the
// matrix is what decides: the deployer (root namespace) cannot reach etcd (defect 1: only the
// tunnel gets in), and without `<cluster>-etcd-peer-proxies` the worker's proxy has no etcd (defect 2).
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { firewallMatrix } from "../../../model/firewall";
import { bootPlan, BootPlan } from "../../../components/local/boot";
import { prepareRoot, proxyAnswers, startEtcd, stopEtcd, waitStarted } from "../../../components/local/processes";
import { localVpcPlan } from "../../../components/local/vpc/addressing";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { applyRulesets, ensureVpc, hostOverlaps, namespaces, readRecord, removeVpc, REGISTRY_DIR } from "../../../components/local/vpc/netns";
import { execInNamespace, httpGetInNamespace } from "../../../components/local/vpc/spawn";
import { requireRoot, scratchDir, sweepTestVpcs, vpcFixture, vpcTestConfig } from "./vpc-support";
import { LocalTls, localTls } from "../../support/local-tls";

/** A TCP connect from the root namespace (the deployer): true on connect, false on refusal or silence. */
function connects(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port });
        const done = (ok: boolean) => {
            socket.destroy();
            resolve(ok);
        };
        socket.setTimeout(timeoutMs, () => done(false));
        socket.once("connect", () => done(true));
        socket.once("error", () => done(false));
    });
}

function links(): string[] {
    return fs.readdirSync("/sys/class/net");
}

function nftTables(): string {
    return childProcess.execFileSync("/usr/sbin/nft", ["list", "tables"], { encoding: "utf8" });
}

describe("local VPC: namespaces, bridge and the firewall matrix in nftables (real netns, nft, etcd)", function () {
    this.timeout(120000);
    const config = vpcTestConfig();
    const { plan, machines, vpc } = vpcFixture(config);
    const matrix = firewallMatrix(config, plan);
    let dataDir: string;
    const pids: Array<{ pid: number; dataDir: string }> = [];
    const boots: Record<string, BootPlan> = {};
    let tls: LocalTls;

    const rulesetsOf = (rules = matrix) => vpcRulesets(vpc, rules, config);
    const guard = { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) };
    const nsOf = (name: string) => vpc.machines.find((m) => m.name === name)!.namespace;

    async function boot(name: string): Promise<number> {
        const rendered = machines.find((m) => m.name === name)!;
        const address = plan.members.find((m) => m.name === name)?.privateIp ?? plan.workers.find((w) => w.name === name)!.privateIp!;
        const b = bootPlan(rendered.userData, { name, address, root: path.join(dataDir, name), flavor: config.os.flavor, tlsStore: tls.tlsStoreOf(rendered) });
        boots[name] = b;
        prepareRoot(b);
        const pid = await startEtcd(b, nsOf(name));
        pids.push({ pid, dataDir: b.dataDir });
        return pid;
    }

    before(async function () {
        requireRoot();
        await sweepTestVpcs();
        dataDir = scratchDir();
        tls = localTls(config, plan, dataDir);
    });

    after(async function () {
        for (const p of pids) await stopEtcd(p.pid, p.dataDir, 2000).catch(() => undefined);
        const record = readRecord(vpc.bridge);
        if (record) await removeVpc(record);
        fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("refuses a subnet the host already uses (eth0's 192.0.2.0/24 here) and a loopback address, creating nothing", function () {
        const eth0 = JSON.parse(childProcess.execFileSync("/usr/sbin/ip", ["-j", "-4", "addr", "show"], { encoding: "utf8" })) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
        const used = eth0.flatMap((l) => l.addr_info.filter((a) => !a.local.startsWith("127.")).map((a) => ({ ...a, ifname: l.ifname })))[0];
        if (used) {
            const octets = used.local.split(".");
            const hostSubnet = `${octets.slice(0, 3).join(".")}.0/24`;
            expect(hostOverlaps(hostSubnet, vpc.bridge).join("; ")).to.contain(used.ifname);
            const clash = { ...vpc, subnet: hostSubnet };
            const before = links();
            expect(() => ensureVpc(clash, rulesetsOf(), guard, dataDir)).to.throw(/overlaps this host's .*Nothing was created/);
            expect(links()).to.deep.equal(before);
            expect(readRecord(vpc.bridge)).to.equal(undefined);
        }
        expect(() => localVpcPlan(vpcTestConfig("vpcloop", { local: { firstAddress: "127.0.20.10", workers: 1, dataDir: ".x" } }), plan)).to.throw(/localFirstAddress: 127.0.20.10 is not a private/);
        expect(hostOverlaps(vpc.subnet, vpc.bridge), `${vpc.subnet} is free on this host`).to.deep.equal([]);
    });

    it("creates the bridge, one namespace per machine with only the VPC route, and a default-deny firewall in each", async function () {
        ensureVpc(vpc, rulesetsOf(), guard, dataDir);
        expect(links()).to.include(vpc.bridge);
        for (const m of vpc.machines) {
            expect(namespaces()).to.include(m.namespace);
            const routes = (await execInNamespace(m.namespace, "/usr/sbin/ip", ["-4", "route"])).stdout.trim().split("\n");
            expect(routes, `${m.namespace} routes`).to.deep.equal([`${vpc.subnet} dev eth0 proto kernel scope link src ${m.address} `.trim()]);
            const rules = (await execInNamespace(m.namespace, "/usr/sbin/nft", ["list", "ruleset"])).stdout;
            expect(rules).to.match(/policy drop/);
            for (const rule of matrix.filter((r) => r.targetTags.some((t) => m.tags.includes(t)))) expect(rules, `${m.name}: ${rule.name}`).to.contain(rule.name);
            for (const rule of matrix.filter((r) => !r.targetTags.some((t) => m.tags.includes(t)))) expect(rules, `${m.name}: not ${rule.name}`).not.to.contain(`"${rule.name}"`);
        }
        expect(nftTables()).to.contain(guard.table);
        // Nothing leaves the VPC: no route to the host's other networks from inside.
        const out = await execInNamespace(vpc.machines[0].namespace, "curl", ["-s", "-m", "2", "http://192.0.2.1/"]);
        expect(out.code, "curl to an address outside the VPC").to.not.equal(0);
        expect(out.stderr + out.stdout).to.not.match(/200/);
    });

    it("boots the member and the worker's gateway in their namespaces; the gateway carries a client's TLS to the member's 2379", async function () {
        const member = plan.members[0].name;
        const worker = plan.workers[0].name;
        const memberPid = await boot(member);
        await waitStarted(boots[member], memberPid, 30000, nsOf(member));
        const proxyPid = await boot(worker);
        await waitStarted(boots[worker], proxyPid, 30000, nsOf(worker));
        expect(await proxyAnswers(boots[worker].clientUrl, 3000, nsOf(worker), boots[worker].probeTls)).to.equal(true);
        // Without a certificate the gateway gives nothing: the member behind it demands one.
        expect(await proxyAnswers(boots[worker].clientUrl, 3000, nsOf(worker))).to.equal(false);
        // The worker is an etcd client of the member (`<cluster>-etcd-client`), with its own identity.
        const direct = await httpGetInNamespace(nsOf(worker), `${plan.members[0].clientUrl}/health`, 3000, boots[worker].probeTls);
        expect(direct?.status).to.equal(200);
    });

    it("defect 1: the deployer in the root namespace cannot reach etcd's 2379 or 2380 (no rule admits it)", async function () {
        expect(await connects(plan.members[0].privateIp, 2379)).to.equal(false);
        expect(await connects(plan.members[0].privateIp, 2380)).to.equal(false);
        // The bridge itself works: the root namespace reaches the member's address (ICMP is not admitted, ARP is).
        const neigh = childProcess.execFileSync("/usr/sbin/ip", ["neigh", "show", plan.members[0].privateIp, "dev", vpc.bridge], { encoding: "utf8" });
        expect(neigh).to.match(/lladdr/);
    });

    it("defect 2: without <cluster>-etcd-client in the matrix the worker's gateway has no etcd", async function () {
        const worker = plan.workers[0].name;
        const withoutProxyRule = matrix.filter((r) => r.name !== `${config.name}-etcd-client`);
        expect(withoutProxyRule.length).to.equal(matrix.length - 1);
        applyRulesets(rulesetsOf(withoutProxyRule));
        const old = pids.find((p) => p.dataDir === boots[worker].dataDir)!;
        await stopEtcd(old.pid, old.dataDir, 2000);
        const proxyPid = await boot(worker);
        let failure: Error | undefined;
        try {
            await waitStarted(boots[worker], proxyPid, 8000, nsOf(worker));
        } catch (err) {
            failure = err as Error;
        }
        expect(failure?.message, "the proxy must not come up").to.match(/did not answer v2 reads|exited while starting/);
        // Putting the rule back brings it up again: the rule, nothing else, made the difference.
        applyRulesets(rulesetsOf());
        await stopEtcd(proxyPid, boots[worker].dataDir, 2000);
        const again = await boot(worker);
        await waitStarted(boots[worker], again, 30000, nsOf(worker));
    });

    it("removing the VPC kills what runs in it and leaves no namespace, bridge, table or record", async function () {
        const record = readRecord(vpc.bridge)!;
        expect(record.namespaces).to.include(vpc.machines[0].namespace);
        const removed = await removeVpc(record);
        expect(removed.join("\n")).to.match(/process \d+ in /);
        for (const ns of record.namespaces) expect(namespaces()).not.to.include(ns);
        expect(links()).not.to.include(vpc.bridge);
        for (const m of vpc.machines) expect(links()).not.to.include(m.hostVeth);
        expect(nftTables()).not.to.contain(guard.table);
        expect(fs.existsSync(path.join(REGISTRY_DIR, `${vpc.bridge}.json`))).to.equal(false);
        for (const p of pids) expect(fs.existsSync(`/proc/${p.pid}`) && !fs.readFileSync(`/proc/${p.pid}/stat`, "utf8").includes(") Z"), `pid ${p.pid} gone`).to.equal(false);
    });
});
