// `npm run picture -- --stack <name> [--base <folder>] [--out <file>]`: the cluster of a stack as a
// picture (Mermaid, which GitHub shows as a picture) with its firewall rules and routes, from the
// stack file alone (no cloud access, no secrets). With --base, a folder holding the base branch's
// Pulumi.<stack>.yaml, it also says what the change does to the firewall and the routes: what a
// pull request's comment carries (.github/workflows/pull-request.yml).
import * as fs from "fs";
import * as path from "path";
import { renderMachines } from "../cloud-config";
import { clusterPicture, ClusterPicture, pictureMarkdown } from "../flow-check/cluster-picture";
import { deriveFlows } from "../flow-check/flows";
import { firewallMatrix } from "../model/firewall";
import { planCluster } from "../model/plan";
import { readStackFile } from "../model/stack-config";
import { loadConfig } from "../model/validate";

const USAGE = "usage: npm run picture -- --stack <name> [--base <folder with the base Pulumi.<stack>.yaml>] [--out <file.md>]";

export function parsePictureArgs(argv: string[]): { stack: string; base?: string; out?: string } {
    const values: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const m = /^--(stack|base|out)(?:=(.*))?$/.exec(argv[i]);
        if (!m) throw new Error(`unknown argument "${argv[i]}"\n${USAGE}`);
        const value = m[2] ?? argv[++i];
        if (value === undefined || value === "") throw new Error(`--${m[1]} needs a value\n${USAGE}`);
        values[m[1]] = value;
    }
    if (!values.stack) throw new Error(`--stack is required\n${USAGE}`);
    return { stack: values.stack, base: values.base, out: values.out };
}

/** The picture of the stack file in `dir` (validated as `pulumi preview` would, offline). */
export function pictureOf(stack: string, dir: string): ClusterPicture {
    const config = loadConfig(readStackFile(stack, dir), stack);
    const plan = planCluster(config);
    const flows = deriveFlows(config, plan, renderMachines(config, plan));
    return clusterPicture(config, plan, firewallMatrix(config, plan), flows);
}

export function runPictureCli(argv: string[], out: { log(l: string): void; error(l: string): void } = console): number {
    let args: ReturnType<typeof parsePictureArgs>;
    try {
        args = parsePictureArgs(argv);
    } catch (err) {
        out.error((err as Error).message);
        return 2;
    }
    try {
        const head = pictureOf(args.stack, path.resolve(__dirname, ".."));
        // A base branch without the stack (a new stack) or with a config this code refuses is said, not fatal.
        let base: ClusterPicture | undefined;
        let baseNote = "";
        if (args.base) {
            try {
                base = pictureOf(args.stack, path.resolve(args.base));
            } catch (err) {
                baseNote = `\n_The base branch's Pulumi.${args.stack}.yaml could not be drawn for a comparison: ${(err as Error).message.split("\n")[0]}_\n`;
            }
        }
        const markdown = pictureMarkdown(args.stack, head, base) + baseNote;
        if (args.out) fs.writeFileSync(args.out, markdown);
        else out.log(markdown);
        return 0;
    } catch (err) {
        out.error((err as Error).message);
        return 1;
    }
}

if (require.main === module) process.exitCode = runPictureCli(process.argv.slice(2));
