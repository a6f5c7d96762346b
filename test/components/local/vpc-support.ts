// Shared by the VPC tests: a small local config on the VPC tests' own subnet, its plan, rendered
// machines and VPC layout, and a sweep of what a killed earlier run left (by record, never by guess).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderMachines } from "../../../cloud-config";
import { planCluster } from "../../../model/plan";
import { ClusterConfig } from "../../../model/types";
import { localConfig } from "../../cloud-config/fixtures";
import { localVpcPlan, VpcPlan } from "../../../components/local/vpc/addressing";
import { records, removeVpc, testRunPid } from "../../../components/local/vpc/netns";
import { testRunLives } from "../../../components/local/cleanup";

/** The VPC tests' subnet: the stack uses 10.213.10.0/24, the engine tests .11, the benchmark .12. */
export const VPC_TEST_FIRST_ADDRESS = "10.213.20.10";
/** Scratch folders of the VPC tests start with this; a record whose data dir has it belongs to a test run. */
export const VPC_TEST_SCRATCH = "coreos-vpc-test-";

export function vpcTestConfig(name = "vpctest", overrides: Partial<ClusterConfig> = {}): ClusterConfig {
    return localConfig({ name, etcd: { count: 1 } as never, local: { firstAddress: VPC_TEST_FIRST_ADDRESS, workers: 1, dataDir: ".x" }, ...overrides } as never);
}

export function vpcFixture(config: ClusterConfig) {
    const plan = planCluster(config);
    const machines = renderMachines(config, plan);
    const vpc: VpcPlan = localVpcPlan(config, plan);
    return { plan, machines, vpc };
}

export function scratchDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), VPC_TEST_SCRATCH));
}

/** Removes VPCs recorded by earlier (killed) runs of these tests: those whose data dir is a test scratch folder. */
export async function sweepTestVpcs(): Promise<string[]> {
    const removed: string[] = [];
    for (const record of records()) {
        // Another `npm test` running at the same time (another checkout) still uses its own.
        if (record.testRunPid !== undefined && record.testRunPid !== testRunPid() && testRunLives(record.testRunPid)) continue;
        if (path.basename(record.dataDir).startsWith(VPC_TEST_SCRATCH)) removed.push(...(await removeVpc(record)));
    }
    return removed;
}

export function requireRoot(): void {
    if (process.getuid && process.getuid() !== 0) throw new Error("the local VPC tests create network namespaces and nftables rules: run them as root");
}
