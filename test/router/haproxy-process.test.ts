// The router's HAProxy supervisor against a real HAProxy master (Debian's haproxy): a master
// re-executes itself on every reload (SIGUSR2), and /proc shows it with an empty cmdline while it
// does. Taken for a dead master, that moment made the supervisor start a second one beside it (the
// router-hitless-reload benchmark caught two masters serving at once).
import { expect } from "chai";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { haproxyState, haproxyStateOf, HaproxyMaster } from "../../router/haproxy-process";
import { judgeProcess } from "../../model/process-view";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answers = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
        const socket = net.connect({ host, port }, () => {
            socket.destroy();
            resolve(true);
        });
        socket.on("error", () => resolve(false));
    });

describe("router: the HAProxy master across reloads (real HAProxy, 127.0.13.77)", function () {
    this.timeout(60000);
    const config = "/run/router/haproxy.cfg";

    it("judges a master by its command: ours, re-executing (empty cmdline), another program, gone", () => {
        expect(haproxyState(judgeProcess(`/usr/sbin/haproxy\0-W\0-S\0/run/m.sock,mode,600\0-f\0${config}\0-p\0/run/p\0`, "S"), config)).to.equal("ours");
        expect(haproxyState(judgeProcess("", "S"), config)).to.equal("exec-ing");
        expect(haproxyState(judgeProcess(`/usr/sbin/haproxy\0-W\0-f\0/elsewhere.cfg\0`, "S"), config)).to.equal("other");
        expect(haproxyState(judgeProcess(`/usr/bin/python3\0-W\0${config}\0`, "S"), config)).to.equal("other");
        expect(haproxyState(judgeProcess("", "Z"), config)).to.equal("gone");
        expect(haproxyState(judgeProcess(undefined, undefined), config)).to.equal("gone");
    });

    it("is alive at every moment of 40 reloads, the re-exec included, and keeps its pid", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haproxy-master-"));
        const paths = { binary: "/usr/sbin/haproxy", configFile: path.join(dir, "haproxy.cfg"), pidFile: path.join(dir, "haproxy.pid"), masterSocket: path.join(dir, "master.sock") };
        fs.writeFileSync(
            paths.configFile,
            [
                "global",
                `    stats socket ${path.join(dir, "haproxy.sock")} mode 600 level admin expose-fd listeners`,
                "defaults",
                "    mode http",
                "    timeout connect 1s",
                "    timeout client 1s",
                "    timeout server 1s",
                "frontend probe",
                "    bind 127.0.13.77:18977",
                "    http-request return status 200",
                "",
            ].join("\n"),
        );
        const lines: string[] = [];
        const master = new HaproxyMaster(paths, (line) => lines.push(line));
        try {
            master.start();
            const pid = master.pid!;
            // Reload only once it serves, as the watcher does (it confirms a config first): a master
            // signalled before it installed its handlers dies of SIGUSR2's default action.
            for (const end = Date.now() + 10000; !(haproxyStateOf(pid, paths.configFile) === "ours" && (await answers("127.0.13.77", 18977))); await sleep(20)) {
                if (Date.now() > end) throw new Error(`haproxy did not start: ${lines.join(" | ")}`);
            }
            const seen = new Map<string, number>();
            for (let reload = 0; reload < 40; reload++) {
                master.reload();
                // Look as often as this process can for a while after each reload: the re-exec window is short.
                for (const end = Date.now() + 100; Date.now() < end; ) {
                    const state = haproxyStateOf(pid, paths.configFile);
                    seen.set(state, (seen.get(state) ?? 0) + 1);
                    expect(master.alive(), `reload ${reload + 1}: the master is ${state} (${lines.join(" | ")})`).to.equal(true);
                }
                await sleep(20);
            }
            expect([...seen.keys()].filter((s) => s !== "ours" && s !== "exec-ing"), "only ours or re-executing").to.deep.equal([]);
            expect(master.pid).to.equal(pid);
            expect(lines.filter((l) => /exited/.test(l)), "the master never exited").to.deep.equal([]);
        } finally {
            master.stop();
            for (const end = Date.now() + 5000; master.alive() && Date.now() < end; ) await sleep(20);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
