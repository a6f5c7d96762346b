// `npm run render -- --stack <name> [--out <dir>]`: writes every machine's user-data
// for one stack to files, with no cloud access. Exits non-zero, listing every
// problem, when the stack config is invalid or a rendered config would be refused.

import * as fs from "fs";
import * as path from "path";
import { renderMachines, userDataHash, validateCloudConfig, formatIssue, RenderedMachine } from "../cloud-config";
import { ConfigValidationError } from "../model/types";

interface RenderArgs {
    stack: string;
    out: string;
    dir: string;
}

const USAGE = "usage: npm run render -- --stack <name> [--out <dir>] [--dir <folder with Pulumi.<stack>.yaml>]";

export function parseRenderArgs(argv: string[]): RenderArgs {
    const values: Record<string, string> = {};
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const match = /^--(stack|out|dir)(?:=(.*))?$/.exec(arg);
        if (!match) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
        const value = match[2] ?? argv[++i];
        if (value === undefined || value === "") throw new Error(`--${match[1]} needs a value\n${USAGE}`);
        values[match[1]] = value;
    }
    if (!values.stack) throw new Error(`--stack is required\n${USAGE}`);
    if (!/^[A-Za-z0-9_.-]+$/.test(values.stack)) throw new Error(`invalid stack name "${values.stack}"`);
    // Stack files live in the project root, whatever directory npm was started from.
    const dir = path.resolve(values.dir ?? path.resolve(__dirname, ".."));
    const out = values.out ? path.resolve(values.out) : path.join(dir, "render-out", values.stack);
    return { stack: values.stack, dir, out };
}

/** Reads, validates, plans and renders one stack; pure except for reading the stack file. */
export function renderStack(stack: string, dir: string): RenderedMachine[] {
    // Required lazily so `--help`-style argument errors do not need the model modules.
    const { readStackFile } = require("../model/stack-config") as typeof import("../model/stack-config");
    const { loadConfig } = require("../model/validate") as typeof import("../model/validate");
    const { planCluster } = require("../model/plan") as typeof import("../model/plan");
    const config = loadConfig(readStackFile(stack, dir), stack);
    return renderMachines(config, planCluster(config));
}

export function writeMachines(machines: RenderedMachine[], out: string): string[] {
    fs.mkdirSync(out, { recursive: true });
    const lines: string[] = [];
    for (const machine of machines) {
        fs.writeFileSync(path.join(out, machine.fileName), machine.userData, { mode: 0o644 });
        const { warnings, infos } = validateCloudConfig(machine.userData);
        const bytes = Buffer.byteLength(machine.userData, "utf8");
        lines.push(`${machine.fileName}  ${machine.role}  ${bytes} bytes  sha256 ${userDataHash(machine.userData)}`);
        for (const issue of [...warnings, ...infos]) lines.push(`    ${formatIssue(issue)}`);
    }
    return lines;
}

export interface Console {
    log(line: string): void;
    error(line: string): void;
}

/** The whole command; returns the exit code (2: bad arguments, 1: invalid config or render refused). */
export function runRenderCli(argv: string[], out: Console = console): number {
    let args: RenderArgs;
    try {
        args = parseRenderArgs(argv);
    } catch (err) {
        out.error((err as Error).message);
        return 2;
    }
    try {
        const machines = renderStack(args.stack, args.dir);
        const summary = writeMachines(machines, args.out);
        const relative = path.relative(process.cwd(), args.out);
        const shown = relative === "" ? "." : relative.startsWith("..") ? args.out : relative;
        out.log(`rendered ${machines.length} machine(s) of stack ${args.stack} into ${shown}`);
        for (const line of summary) out.log(`  ${line}`);
        return 0;
    } catch (err) {
        const invalidConfig = err instanceof ConfigValidationError || (err as Error).name === "ConfigValidationError";
        out.error(invalidConfig ? `stack ${args.stack}: ${(err as Error).message}` : `render failed for stack ${args.stack}: ${(err as Error).message}`);
        return 1;
    }
}

if (require.main === module) process.exit(runRenderCli(process.argv.slice(2)));
