// The admin-socket writer (router/runtime-api.ts) against a recording unix socket standing in for
// HAProxy: a batch with any line outside the runtime grammar is refused before the socket is even
// opened; a good batch goes out in order, "; "-joined, in lines under HAProxy's buffer; HAProxy's
// error answers fail the batch (the watcher then reloads from the file).
import { expect } from "chai";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { answerErrors, batchLines, sendRuntimeCommands } from "../../router/runtime-api";

/** A unix socket that records every line and answers each with `answer(line)`, then closes (HAProxy's non-interactive CLI). */
async function recordingSocket(answer: (line: string) => string): Promise<{ file: string; lines: string[]; connections: () => number; close(): void }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "router-runtime-"));
    const file = path.join(dir, "haproxy.sock");
    const lines: string[] = [];
    let connections = 0;
    const server = net.createServer((socket) => {
        connections++;
        let data = "";
        socket.on("data", (c) => {
            data += c;
            const nl = data.indexOf("\n");
            if (nl >= 0) {
                const line = data.slice(0, nl);
                lines.push(line);
                socket.end(answer(line));
            }
        });
    });
    await new Promise<void>((r) => server.listen(file, r));
    return { file, lines, connections: () => connections, close: () => (server.close(), fs.rmSync(dir, { recursive: true, force: true })) };
}

describe("runtime API writer (router/runtime-api.ts)", () => {
    it("sends a good batch in order, one line, and reads HAProxy's success answers as success", async () => {
        const sock = await recordingSocket(() => "IP changed from '0.0.0.0' to '10.0.0.6', port changed from '1' to '80' by 'stats socket command'\n\n\n\n\n");
        try {
            const commands = ["set server http_web/s2 addr 10.0.0.6 port 80", "set server http_web/s2 state ready", "set server http_web/s2 health up", "set server http_web/s1 state maint"];
            const result = await sendRuntimeCommands(sock.file, commands);
            expect(result).to.deep.equal({ ok: true, errors: [] });
            expect(sock.lines).to.deep.equal([commands.join("; ")]);
        } finally {
            sock.close();
        }
    });

    it("refuses a whole batch holding anything outside the grammar: nothing reaches the socket", async () => {
        const sock = await recordingSocket(() => "\n");
        try {
            const hostile = [
                "set server http_web/s1 addr 10.0.0.6 port 80; shutdown sessions server http_web/s1",
                "set server http_web/s1 addr 10.0.0.6 port 80\nset server http_web/s2 state ready",
                "set server http_web/s1 addr 169.254.169.254 port 80 junk",
                "set server http_web/s1 addr 010.0.0.6 port 80",
                "set server http_Web/s1 state ready",
                "set server http_web/s1 state drain",
                "disable server http_web/s1",
                "set server http_web/s1 addr 10.0.0.6 port 0",
            ];
            for (const bad of hostile) {
                const result = await sendRuntimeCommands(sock.file, ["set server http_web/s2 state ready", bad]);
                expect(result.ok, bad).to.equal(false);
                expect(result.errors[0]).to.match(/^refused to send 1 command\(s\) outside the runtime grammar/);
            }
            expect(sock.connections(), "the socket was never opened").to.equal(0);
            expect(sock.lines).to.deep.equal([]);
        } finally {
            sock.close();
        }
    });

    it("an error answer fails the batch (the watcher reloads instead); a missing socket too", async () => {
        const sock = await recordingSocket(() => "\nNo such server.\n\n");
        try {
            const result = await sendRuntimeCommands(sock.file, ["set server http_web/s9 state ready", "set server http_web/s9 health up"]);
            expect(result).to.deep.equal({ ok: false, errors: ["No such server."] });
        } finally {
            sock.close();
        }
        const missing = await sendRuntimeCommands(path.join(os.tmpdir(), "router-runtime-none", "haproxy.sock"), ["set server http_web/s1 state ready"]);
        expect(missing.ok).to.equal(false);
        expect(missing.errors[0]).to.match(/ENOENT/);
    });

    it("a big batch is split into lines under HAProxy's CLI buffer, in order", () => {
        const commands = Array.from({ length: 600 }, (_, i) => `set server http_svc-${i}/s1 addr 10.0.${i % 250}.1 port 8080`);
        const lines = batchLines(commands);
        expect(lines.length).to.be.greaterThan(1);
        for (const line of lines) expect(line.length).to.be.at.most(8000);
        expect(lines.join("; ").split("; ")).to.deep.equal(commands);
        expect(answerErrors("IP changed from 'a' to 'b' by 'stats socket command'\nno need to change the addr, port changed from '1' to '2'\n\n")).to.deep.equal([]);
    });
});
