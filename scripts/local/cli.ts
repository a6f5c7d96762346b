// The operator commands of the local stack, run by scripts/local.sh with the engine's environment
// (scripts/engine-env.sh) set:
//   summary                   what `npm run local` prints after `pulumi up` (summary.ts)
//   status                    one table: members, workers, the load balancer, the services (status-*.ts)
//   logs [machine] [-f]       every machine's logs in time order, prefixed; -f follows (log-*.ts)
// Reads the stack's outputs with the pulumi CLI; the secret ones (status only) stay in memory.
import * as childProcess from "child_process";
import type { LocalView } from "../../model/local-view";
import { localSummary } from "./summary";
import { gatherStatus, StatusInputs } from "./status-probe";
import { statusTable } from "./status-table";
import { followLogs, logFilesOf, readSources } from "./log-files";
import { mergeLogs } from "./log-merge";

const STACK = process.env.COREOS_LOCAL_STACK ?? "local";

function stackOutputs(showSecrets: boolean): Record<string, any> {
    const args = ["stack", "output", "--json", "--stack", STACK, ...(showSecrets ? ["--show-secrets"] : [])];
    const text = childProcess.execFileSync("pulumi", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(text);
}

function viewOf(outputs: Record<string, any>): LocalView {
    const view = outputs.localCluster as LocalView | null | undefined;
    if (!view) throw new Error("the stack has no localCluster output: run `npm run local` (up) first");
    return view;
}

async function main(argv: string[]): Promise<number> {
    const [command, ...rest] = argv;
    switch (command) {
        case "summary":
            process.stdout.write(localSummary(stackOutputs(false) as any, process.cwd()));
            return 0;
        case "status": {
            const outputs = stackOutputs(true);
            const inputs: StatusInputs = { ...(outputs as any), localCluster: viewOf(outputs) };
            if (!inputs.consumerCredentials?.cert) throw new Error("the stack has no consumerCredentials output: run `npm run local` (up) first");
            process.stdout.write(statusTable(await gatherStatus(inputs)));
            return 0;
        }
        case "logs": {
            const follow = rest.includes("-f") || rest.includes("--follow");
            const machine = rest.find((a) => !a.startsWith("-"));
            const view = viewOf(stackOutputs(false));
            const files = logFilesOf(view, machine);
            const lines = mergeLogs(readSources(files));
            if (lines.length) process.stdout.write(lines.join("\n") + "\n");
            if (!follow) return 0;
            let stop = false;
            process.on("SIGINT", () => (stop = true));
            process.on("SIGTERM", () => (stop = true));
            // New files (a recreated worker's) are picked up on every poll.
            await followLogs(() => logFilesOf(view, machine), (text) => process.stdout.write(text), () => stop);
            return 0;
        }
        default:
            process.stderr.write("usage: cli.ts summary | status | logs [machine] [-f]\n");
            return 2;
    }
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
        process.stderr.write(`local: ERROR: ${(err as Error).message}\n`);
        process.exit(1);
    },
);
