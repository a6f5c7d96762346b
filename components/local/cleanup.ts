// Stops and removes local machines when the Pulumi state that knows them is gone (a deleted
// backend folder, an interrupted destroy). Only folders carrying the local-machine marker are
// touched, and only processes whose pid file names an etcd started for that folder's data dir.
//   npx ts-node --transpile-only components/local/cleanup.ts [dataDir]   (default .local-machines)
// And local VPCs nobody will destroy (components/local/vpc/netns.ts records each one it creates):
//   npx ts-node --transpile-only components/local/cleanup.ts --vpcs
// removes every recorded VPC whose stack data dir is gone, or which a test run made in a scratch
// folder (scripts/test.sh runs it first, so a killed `npm test` leaves nothing to the next one).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { machinePaths, removeRoot, stopEtcd } from "./processes";
import { records, removeVpc, VpcRecord } from "./vpc/netns";

/** Scratch folders of the tests and benchmarks that build VPCs (under the temp dir). */
export const TEST_SCRATCH_PREFIXES = ["coreos-vpc-test-", "coreos-engine-test-", "coreos-reliability-", "bench-local-stack-"];

/** Running: a zombie (killed, not yet reaped) is a run that ended. */
export function testRunLives(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

/** Why a recorded VPC is an orphan (and the dead test run's scratch folder), or undefined when its stack may still own it. */
export function orphanReason(record: VpcRecord, tmpDir = os.tmpdir()): { why: string; scratch?: string } | undefined {
    if (!fs.existsSync(record.dataDir)) return { why: `its data dir ${record.dataDir} is gone` };
    const tmp = path.resolve(tmpDir);
    const relative = path.relative(tmp, path.resolve(record.dataDir));
    const top = relative.split(path.sep)[0];
    if (!relative.startsWith("..") && !path.isAbsolute(relative) && TEST_SCRATCH_PREFIXES.some((p) => top.startsWith(p))) {
        // Another `npm test` running at the same time (another checkout) still uses its VPCs.
        if (record.testRunPid !== undefined && testRunLives(record.testRunPid)) return undefined;
        return { why: `a test run made it in ${path.join(tmp, top)}`, scratch: path.join(tmp, top) };
    }
    return undefined;
}

/** Removes orphaned VPCs (and the scratch folders of dead test runs that held them). */
export async function sweepOrphanVpcs(): Promise<string[]> {
    const removed: string[] = [];
    for (const record of records()) {
        const orphan = orphanReason(record);
        if (!orphan) continue;
        removed.push(`VPC ${record.bridge} (${record.subnet}): ${orphan.why}`, ...(await removeVpc(record)));
        if (orphan.scratch) {
            fs.rmSync(orphan.scratch, { recursive: true, force: true });
            removed.push(`folder ${orphan.scratch}`);
        }
    }
    return removed;
}

export interface CleanupReport {
    stopped: Array<{ machine: string; pid: number }>;
    removed: string[];
}

/** The etcd data dir a machine root's etcd.env names, if any. */
function dataDirOf(root: string): string | undefined {
    try {
        const line = fs.readFileSync(machinePaths(root).envFile, "utf8").split("\n").find((l) => l.startsWith("ETCD_DATA_DIR="));
        return line ? JSON.parse(line.slice("ETCD_DATA_DIR=".length)) : undefined;
    } catch {
        return undefined;
    }
}

export async function cleanupLocalMachines(dataDir: string): Promise<CleanupReport> {
    const report: CleanupReport = { stopped: [], removed: [] };
    if (!fs.existsSync(dataDir)) return report;
    for (const entry of fs.readdirSync(dataDir)) {
        const root = path.resolve(dataDir, entry);
        const paths = machinePaths(root);
        if (!fs.existsSync(paths.marker)) continue;
        const etcdDataDir = dataDirOf(root);
        const pid = fs.existsSync(paths.pidFile) ? parseInt(fs.readFileSync(paths.pidFile, "utf8"), 10) : undefined;
        if (etcdDataDir && pid && (await stopEtcd(pid, etcdDataDir))) report.stopped.push({ machine: entry, pid });
        removeRoot(root);
        report.removed.push(root);
    }
    return report;
}

if (require.main === module && process.argv[2] === "--vpcs") {
    sweepOrphanVpcs().then(
        (removed) => {
            for (const line of removed) console.log(`swept ${line}`);
        },
        (err) => {
            console.error(`VPC sweep failed: ${(err as Error).message}`);
            process.exit(1);
        },
    );
} else if (require.main === module) {
    const dir = process.argv[2] ?? ".local-machines";
    cleanupLocalMachines(dir).then(
        (r) => {
            for (const s of r.stopped) console.log(`stopped etcd of ${s.machine} (pid ${s.pid})`);
            for (const root of r.removed) console.log(`removed ${root}`);
            if (r.removed.length === 0) console.log(`no local machines under ${path.resolve(dir)}`);
        },
        (err) => {
            console.error(`cleanup failed: ${(err as Error).message}`);
            process.exit(1);
        },
    );
}
