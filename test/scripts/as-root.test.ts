// The suite and `npm run local` need root (namespaces, nftables): as a non-root user with passwordless
// sudo (GitHub's `runner`) they run themselves again through sudo with the environment kept; without
// sudo they stop at once with one clear line (issue 23, item 2). Played with a stand-in `id` and `sudo`.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../support/mocks";

function run(script: string, args: string[], opts: { sudo: "passwordless" | "asks" | "none" }) {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "as-root-"));
    const log = path.join(bin, "sudo.log");
    fs.writeFileSync(path.join(bin, "id"), "#!/bin/sh\n[ \"$1\" = -u ] && echo 1001 && exit 0\nexec /usr/bin/id \"$@\"\n", { mode: 0o755 });
    if (opts.sudo !== "none") {
        const ok = opts.sudo === "passwordless" ? 0 : 1;
        fs.writeFileSync(path.join(bin, "sudo"), `#!/bin/sh\nif [ "$1" = -n ]; then exit ${ok}; fi\necho "$@" >> "${log}"\n`, { mode: 0o755 });
    }
    // Only the stand-ins and the few tools the scripts use before their root check: a real sudo is never reachable.
    for (const tool of ["bash", "dirname", "basename"]) {
        const real = ["/usr/bin", "/bin"].map((d) => path.join(d, tool)).find((f) => fs.existsSync(f))!;
        fs.symlinkSync(real, path.join(bin, tool));
    }
    const PATH = bin;
    const r = spawnSync(path.join(bin, "bash"), [path.join("scripts", script), ...args], { cwd: REPO_ROOT, env: { PATH, HOME: os.homedir() }, encoding: "utf8", timeout: 30000 });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim() : "";
    fs.rmSync(bin, { recursive: true, force: true });
    return { status: r.status, stderr: r.stderr, calls };
}

describe("scripts/as-root.sh: the suite and the local platform as a non-root user", () => {
    for (const script of ["test.sh", "local.sh"]) {
        it(`${script}: with passwordless sudo, runs itself again through sudo with its arguments and the environment kept`, () => {
            const r = run(script, ["--grep", "x y"], { sudo: "passwordless" });
            expect(r.status, r.stderr).to.equal(0);
            expect(r.calls).to.match(new RegExp(`^--preserve-env env PATH=\\S+ bash scripts/${script.replace(".", "\\.")} --grep x y$`));
            expect(r.stderr).to.match(/not root; running it again through sudo/);
        });

        it(`${script}: without usable sudo, stops at once saying what it needs`, () => {
            for (const sudo of ["asks", "none"] as const) {
                const r = run(script, [], { sudo });
                expect(r.status, `${sudo}: ${r.stderr}`).to.equal(1);
                expect(r.stderr).to.match(/needs root for network namespaces and nftables/);
                expect(r.calls).to.equal("");
            }
        });
    }
});
