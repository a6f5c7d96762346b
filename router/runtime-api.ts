// HAProxy's runtime API, the router's side: a batch of `set server` commands (router/slots.ts)
// written to the admin socket. The socket is `<runDir>/haproxy.sock` (mode 600, bound by the root
// master: only the router reaches it; docs/router.md, "Privileges").
// Nothing reaches the socket unchecked: every line must match RUNTIME_COMMAND (a backend the config
// renders, a slot, a canonical IPv4 address and port, or one of three fixed words), or the whole
// batch is refused before the socket is opened. etcd's data cannot add a command, an argument or a
// line break of its own.
import * as net from "net";
import { RUNTIME_COMMAND } from "./slots";

/** HAProxy reads one CLI line of at most a buffer (16 KiB by default): a batch is sent in lines well under it. */
const MAX_LINE = 8000;

/** What HAProxy answers a command that worked; anything else is an error. */
const ANSWER_OK = /^(?:|IP changed from .*|no need to change the addr.*|port changed from .*|no need to change the port.*)$/;

export interface BatchResult {
    ok: boolean;
    /** HAProxy's answers that were not a success (or why nothing was sent). */
    errors: string[];
}

/** The lines the commands go out in: joined with "; " (HAProxy runs them in order), each under MAX_LINE. */
export function batchLines(commands: readonly string[]): string[] {
    const lines: string[] = [];
    let line = "";
    for (const c of commands) {
        if (line !== "" && line.length + 2 + c.length > MAX_LINE) {
            lines.push(line);
            line = "";
        }
        line = line === "" ? c : `${line}; ${c}`;
    }
    if (line !== "") lines.push(line);
    return lines;
}

/** Answer lines that are not a success ("No such server.", "Require 'backend/server'.", ...). */
export function answerErrors(answer: string): string[] {
    return answer
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => !ANSWER_OK.test(l));
}

function sendLine(socketPath: string, line: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(socketPath);
        let data = "";
        socket.setEncoding("utf8");
        socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`)));
        socket.on("data", (c: string) => (data += c));
        // Without "prompt", HAProxy runs the line and closes the connection: the answer is complete.
        socket.on("end", () => resolve(data));
        socket.on("error", reject);
        socket.write(`${line}\n`);
    });
}

/**
 * Sends `commands` in order, over as few connections as the line limit allows, one after the other.
 * Refuses the whole batch (sending nothing) when any command is not one the router may send.
 */
export async function sendRuntimeCommands(socketPath: string, commands: readonly string[], timeoutMs = 2000): Promise<BatchResult> {
    const refused = commands.filter((c) => !RUNTIME_COMMAND.test(c));
    if (refused.length > 0) return { ok: false, errors: [`refused to send ${refused.length} command(s) outside the runtime grammar: ${JSON.stringify(refused[0]).slice(0, 120)}`] };
    const errors: string[] = [];
    try {
        for (const line of batchLines(commands)) errors.push(...answerErrors(await sendLine(socketPath, line, timeoutMs)));
    } catch (err) {
        errors.push((err as Error).message);
    }
    return { ok: errors.length === 0, errors };
}
