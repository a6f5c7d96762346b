// The sixth defect for real: a worker's router proxies a service to its hosts on OTHER workers, so
// the firewall must admit worker -> worker on the hosts' ports. Real namespaces, bridge and nftables
// built from the matrix; a real listener on worker-1 as the backend, curl from worker-0 as the router
// would dial it. With `<cluster>-service-backends` it connects; without it the default-deny drops it.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { firewallMatrix } from "../../../model/firewall";
import { rootGuardRuleset, rootGuardTable, vpcRulesets } from "../../../components/local/vpc/firewall-rules";
import { applyRulesets, ensureVpc, readRecord, removeVpc } from "../../../components/local/vpc/netns";
import { httpGetInNamespace, listensInNamespace, spawnInNamespace } from "../../../components/local/vpc/spawn";
import { requireRoot, scratchDir, sweepTestVpcs, vpcFixture, vpcTestConfig, VPC_TEST_FIRST_ADDRESS } from "./vpc-support";

const BACKEND_PORT = 8080;

describe("local VPC: workers' routers reach the services' hosts on other workers (real netns, nft)", function () {
    this.timeout(60000);
    const config = vpcTestConfig("vpcback", {
        local: { firstAddress: VPC_TEST_FIRST_ADDRESS, workers: 2, dataDir: ".x" },
        services: [{ name: "web", scheme: "http", hosts: [`10.213.20.12:${BACKEND_PORT}`] }],
    } as never);
    const { plan, vpc } = vpcFixture(config);
    const matrix = firewallMatrix(config, plan);
    const nsOf = (name: string) => vpc.machines.find((m) => m.name === name)!.namespace;
    const [router, backend] = plan.workers.map((w) => ({ name: w.name, privateIp: w.privateIp as string }));
    const url = `http://${backend.privateIp}:${BACKEND_PORT}/`;
    let dataDir: string;

    before(async function () {
        requireRoot();
        await sweepTestVpcs();
        dataDir = scratchDir();
    });

    after(async function () {
        const record = readRecord(vpc.bridge);
        if (record) await removeVpc(record);
        if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("the plan puts the service's host on the second worker and the matrix opens its port worker to worker", () => {
        expect(backend.privateIp).to.equal("10.213.20.12");
        const rule = matrix.find((r) => r.name === "vpcback-service-backends")!;
        expect(rule).to.deep.include({ sourceTags: ["vpcback-worker"], targetTags: ["vpcback-worker"], allow: [{ protocol: "tcp", ports: [String(BACKEND_PORT)] }] });
    });

    it("with the matrix, worker-0 reaches the backend on worker-1; without <cluster>-service-backends it cannot", async function () {
        ensureVpc(vpc, vpcRulesets(vpc, matrix, config), { table: rootGuardTable(vpc), ruleset: rootGuardRuleset(vpc) }, dataDir);
        const script = `require("http").createServer((q, s) => s.end("backend")).listen(${BACKEND_PORT}, "${backend.privateIp}")`;
        // Killed with the VPC (removeVpc kills what runs in its namespaces).
        await spawnInNamespace({ namespace: nsOf(backend.name), command: process.execPath, args: ["-e", script], logFile: path.join(dataDir, "backend.log") });
        const deadline = Date.now() + 10000;
        while (!(await listensInNamespace(nsOf(backend.name), backend.privateIp, BACKEND_PORT))) {
            if (Date.now() > deadline) throw new Error(`the backend did not listen; see ${path.join(dataDir, "backend.log")}`);
            await new Promise((r) => setTimeout(r, 100));
        }
        expect(await httpGetInNamespace(nsOf(router.name), url, 3000)).to.deep.equal({ status: 200, body: "backend" });

        const without = matrix.filter((r) => r.name !== "vpcback-service-backends");
        expect(without).to.have.length(matrix.length - 1);
        applyRulesets(vpcRulesets(vpc, without, config));
        expect(await httpGetInNamespace(nsOf(router.name), url, 1500), "dropped by the worker's default-deny").to.equal(undefined);
        // The backend itself still answers on its own machine: the rule, nothing else, made the difference.
        expect((await httpGetInNamespace(nsOf(backend.name), url, 3000))?.status).to.equal(200);

        applyRulesets(vpcRulesets(vpc, matrix, config));
        expect((await httpGetInNamespace(nsOf(router.name), url, 3000))?.status).to.equal(200);
    });
});
