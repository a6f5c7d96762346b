// scripts/provision.sh (sourced by `npm test`): what it does when a prerequisite is missing and
// cannot be provided, run on scratch copies of the scripts so nothing of this checkout changes.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "../support/engine";

describe("npm test's provisioning (scripts/provision.sh)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-provision-"));
        fs.cpSync(path.join(REPO_ROOT, "scripts"), path.join(tmp, "scripts"), { recursive: true });
        fs.copyFileSync(path.join(REPO_ROOT, "package-lock.json"), path.join(tmp, "package-lock.json"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    /** Sources the copy's provision.sh with `bin` first on PATH; returns its exit code and stderr. */
    function provision(bin: string): { status: number | null; stderr: string } {
        const result = childProcess.spawnSync("bash", ["-c", `source "${tmp}/scripts/provision.sh"`], {
            env: { PATH: `${bin}:/usr/bin:/bin`, HOME: tmp },
            encoding: "utf8",
        });
        return { status: result.status, stderr: result.stderr };
    }
    function fakeBin(scripts: Record<string, string>): string {
        const bin = path.join(tmp, "bin");
        fs.mkdirSync(bin, { recursive: true });
        for (const [name, body] of Object.entries(scripts)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        return bin;
    }

    it("stops naming the Debian packages when they cannot be installed", () => {
        fs.writeFileSync(path.join(tmp, "scripts", "install-system-deps.sh"), "echo 'apt-get: no network' >&2; exit 100\n");
        const { status, stderr } = provision(fakeBin({}));
        expect(status).to.not.equal(0);
        expect(stderr).to.match(/provision: ERROR: could not provide the Debian packages of scripts\/install-system-deps.sh \(etcd-server, etcd-client, openssh-server,/);
    });

    it("stops naming Node.js when the one on PATH is too old, before installing anything", () => {
        fs.writeFileSync(path.join(tmp, "scripts", "install-system-deps.sh"), "exit 0\n");
        const { status, stderr } = provision(fakeBin({ node: 'echo 18', npm: "echo npm must not run >&2; exit 1" }));
        expect(status).to.not.equal(0);
        expect(stderr).to.match(/could not provide Node\.js >= 20 \(found/);
        expect(stderr).to.not.include("npm must not run");
    });

    it("stops naming the npm packages when npm ci fails, and leaves no stamp that would skip the next try", () => {
        fs.writeFileSync(path.join(tmp, "scripts", "install-system-deps.sh"), "exit 0\n");
        fs.mkdirSync(path.join(tmp, "node_modules"));
        const { status, stderr } = provision(fakeBin({ node: `exec ${process.execPath} "$@"`, npm: "echo 'npm ERR! network' >&2; exit 1" }));
        expect(status).to.not.equal(0);
        expect(stderr).to.match(/could not provide the npm packages \(npm ci\)/);
        expect(fs.existsSync(path.join(tmp, "node_modules", ".coreos-cluster-lock-sha256"))).to.equal(false);
    });
});
