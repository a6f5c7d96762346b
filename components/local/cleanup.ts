// Stops and removes local machines when the Pulumi state that knows them is gone (a deleted
// backend folder, an interrupted destroy). Only folders carrying the local-machine marker are
// touched, and only processes whose pid file names an etcd started for that folder's data dir.
//   npx ts-node --transpile-only components/local/cleanup.ts [dataDir]   (default .local-machines)
import * as fs from "fs";
import * as path from "path";
import { machinePaths, removeRoot, stopEtcd } from "./processes";

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

if (require.main === module) {
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
