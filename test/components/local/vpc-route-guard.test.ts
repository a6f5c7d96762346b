// The deployer dials a local VPC's address only through that VPC's bridge: with the VPC gone, the
// host's default route would carry the packets off this machine. Real: `ip route get` on this host,
// a VPC built on 10.213.23.0/24, the SSH tunnel's refusal before it connects.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as net from "net";
import * as path from "path";
import { firewallMatrix } from "../../../model/firewall";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { ensureVpc, readRecord, REGISTRY_DIR, removeVpc } from "../../../components/local/vpc/netns";
import { VPC_BRIDGE_PREFIX, VPC_RECORDS_DIR, vpcRouteProblem } from "../../../components/etcd/vpc-route-guard";
import { openTunnel } from "../../../components/etcd/ssh-tunnel";
import { requireRoot, scratchDir, sweepTestVpcs, vpcFixture, vpcTestConfig } from "./vpc-support";

const SUBNET = "10.213.23.0/24";
const ABSENT = "10.213.29.0/24";

describe("local VPC route guard: the deployer's packets go through the VPC's bridge or nowhere (real ip route, netns)", function () {
    this.timeout(60000);
    const config = vpcTestConfig("routeguard", { local: { firstAddress: "10.213.23.10", workers: 1, dataDir: ".x" } } as never);
    const { plan, vpc } = vpcFixture(config);
    let dataDir: string | undefined;

    before(async function () {
        requireRoot();
        await sweepTestVpcs();
        dataDir = scratchDir();
        ensureVpc(vpc, vpcRulesets(vpc, firewallMatrix(config, plan), config), { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) }, dataDir);
    });

    after(async function () {
        const record = readRecord(vpc.bridge);
        if (record) await removeVpc(record);
        await sweepTestVpcs();
        if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("reads the records and bridges the VPC code writes", () => {
        expect(VPC_RECORDS_DIR).to.equal(REGISTRY_DIR);
        expect(vpc.bridge.startsWith(VPC_BRIDGE_PREFIX), vpc.bridge).to.equal(true);
    });

    it("lets a machine address of a live VPC through", () => {
        expect(vpc.subnet).to.equal(SUBNET);
        for (const m of vpc.machines) expect(vpcRouteProblem(m.address, SUBNET), m.address).to.equal(undefined);
    });

    it("stops an address whose VPC does not exist here: the host would route it elsewhere", () => {
        expect(vpcRouteProblem("10.213.29.10", ABSENT)).to.match(/^(10\.213\.29\.10 is routed dev \S+( via \S+)?, not through the bridge of the local VPC 10\.213\.29\.0\/24: is the VPC up|the host has no route to 10\.213\.29\.10)/);
    });

    it("stops on any doubt: another VPC's subnet, a bridge nobody recorded, a host name", () => {
        const address = vpc.machines[0].address;
        expect(vpcRouteProblem(address, "10.213.24.0/24")).to.match(new RegExp(`routed through ${vpc.bridge}, the bridge of the VPC ${SUBNET.replace(/\./g, "\\.")}, not of 10\\.213\\.24\\.0/24`));
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-vpc-test-records-"));
        try {
            expect(vpcRouteProblem(address, SUBNET, empty)).to.contain(`which is no VPC this project recorded in ${empty}`);
        } finally {
            fs.rmSync(empty, { recursive: true, force: true });
        }
        expect(vpcRouteProblem("member.local", SUBNET)).to.match(/is not an IPv4 address of the local VPC/);
    });

    it("the SSH tunnel refuses to dial a sshTunnel.host outside its VPC's bridge, before any connection", async () => {
        // A listener on loopback stands where the host would be: were the guard broken, ssh2 would dial it (and only it).
        const accepted: net.Socket[] = [];
        const listener = net.createServer((s) => accepted.push(s));
        await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
        const port = (listener.address() as net.AddressInfo).port;
        try {
            const spec = { host: "127.0.0.1", port, username: "root", privateKey: "not used", localVpc: ABSENT };
            const err = await openTunnel(spec, { host: "10.213.29.10", port: 2379 }, { readyTimeoutMs: 2000 }).then(() => undefined, (e: Error) => e);
            expect(err?.message).to.match(new RegExp(`^SSH tunnel root@127\\.0\\.0\\.1:${port} -> 10\\.213\\.29\\.10:2379: refusing to dial sshTunnel\\.host: 127\\.0\\.0\\.1 is routed dev lo, not through the bridge`));
            await new Promise((r) => setTimeout(r, 200));
            expect(accepted, "connections the tunnel made").to.have.length(0);
        } finally {
            for (const s of accepted) s.destroy();
            await new Promise((r) => listener.close(r));
        }
    });
});
