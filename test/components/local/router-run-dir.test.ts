// The router's run dir for every checkout path (issue 23): a machine's root is
// `<checkout>/.local-machines/<machine>`, the run dir `<root>/run/coreos-router`, and HAProxy binds a
// unix socket path of at most 97 bytes. For checkouts of many lengths, the run dir the local boot
// picks must let a real HAProxy bind its stats socket there (the run dir is created for the test).
import { expect } from "chai";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MAX_SOCKET_PATH_BYTES, routerRunDir, shortRunDir } from "../../../components/local/router-boot";
import { underRoot } from "../../../components/local/write-files";
import { ROUTER_PATHS } from "../../../model/router-contract";

/** Starts HAProxy with a stats socket at `socket`; resolves to what it said once the socket exists, or it exited. */
function bindsStatsSocket(socket: string, port: number): Promise<{ bound: boolean; output: string }> {
    const config = path.join(os.tmpdir(), `run-dir-test-${process.pid}-${port}.cfg`);
    fs.writeFileSync(config, ["global", `  stats socket ${socket} mode 600 level admin`, "defaults", "  mode http", "  timeout client 1s", "  timeout server 1s", "  timeout connect 1s", "frontend f", `  bind 127.0.53.1:${port}`, ""].join("\n"));
    return new Promise((resolve) => {
        const child = spawn("haproxy", ["-f", config, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        let bound = false;
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        const deadline = Date.now() + 5000;
        // Bound once the socket exists: then stop HAProxy; an HAProxy that refuses the config exits by itself.
        const poll = setInterval(() => {
            if (fs.existsSync(socket)) bound = true;
            if (bound || Date.now() > deadline) {
                clearInterval(poll);
                child.kill("SIGTERM");
            }
        }, 50);
        child.once("exit", () => {
            clearInterval(poll);
            fs.rmSync(config, { force: true });
            resolve({ bound, output });
        });
    });
}

describe("components/local/router-boot: the router's run dir fits HAProxy's socket limit for any checkout path", function () {
    this.timeout(60000);
    // 36-45 bytes was the failing range of issue 23 (a limit of 107 was assumed, HAProxy's is 97).
    const lengths = [12, 24, 36, 40, 45, 60, 90, 130];

    for (const length of lengths) {
        it(`a checkout path of ${length} bytes`, async () => {
            const base = fs.mkdtempSync(path.join(os.tmpdir(), "rd"));
            const checkout = (base + "/" + "c".repeat(Math.max(1, length - base.length - 1))).slice(0, Math.max(length, base.length + 2));
            const root = path.join(checkout, ".local-machines", "local-worker-0");
            const runDir = routerRunDir(root, underRoot(root, ROUTER_PATHS.runDir));
            const socket = `${runDir}/haproxy.sock`;
            expect(Buffer.byteLength(socket)).to.be.at.most(MAX_SOCKET_PATH_BYTES);
            if (runDir === shortRunDir(root)) expect(Buffer.byteLength(`${underRoot(root, ROUTER_PATHS.runDir)}/haproxy.sock`)).to.be.greaterThan(MAX_SOCKET_PATH_BYTES);
            fs.mkdirSync(runDir, { recursive: true });
            try {
                const r = await bindsStatsSocket(socket, 18000 + length);
                expect(r.bound, r.output).to.equal(true);
            } finally {
                fs.rmSync(runDir, { recursive: true, force: true });
                fs.rmSync(base, { recursive: true, force: true });
            }
        });
    }

    it("the limit is HAProxy's: a socket path one byte over it is refused by a real HAProxy", async () => {
        const dir = path.join(os.tmpdir(), "x".repeat(MAX_SOCKET_PATH_BYTES - os.tmpdir().length - 1 - "/haproxy.sock".length));
        fs.mkdirSync(dir, { recursive: true });
        try {
            const fits = await bindsStatsSocket(`${dir}/haproxy.sock`, 18200);
            expect(fits.bound, fits.output).to.equal(true);
            const over = `${dir}y/haproxy.sock`;
            fs.mkdirSync(path.dirname(over), { recursive: true });
            const refused = await bindsStatsSocket(over, 18201);
            expect(refused.bound).to.equal(false);
            expect(refused.output).to.match(/too long/);
            fs.rmSync(path.dirname(over), { recursive: true, force: true });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
