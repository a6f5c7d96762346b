// The shell scripts the user-data writes are run here for real with bash. Only what
// cannot exist on this machine is replaced: `curl` by a stub on PATH (the GCE metadata
// server and GitHub are unreachable) and the /run, /opt roots by a temp folder.

import { expect } from "chai";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { renderMachines } from "../../cloud-config";
import { fleetInstallScript } from "../../cloud-config/fleet-release";
import { planFor, prodConfig } from "./fixtures";

function writeExecutable(file: string, text: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text, { mode: 0o755 });
}

function runScript(script: string, tmp: string, env: Record<string, string>): { status: number | null; stderr: string } {
    const file = path.join(tmp, "script.sh");
    fs.writeFileSync(file, script);
    const result = spawnSync("bash", [file], {
        encoding: "utf8",
        env: { ...process.env, ...env, PATH: `${path.join(tmp, "stub-bin")}:${process.env.PATH}` },
    });
    return { status: result.status, stderr: result.stderr };
}

describe("scripts written by the user-data (run with bash)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cc-scripts-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    function zoneScript(): string {
        const config = prodConfig();
        const worker = renderMachines(config, planFor(config)).find((m) => m.fileName === "worker.yaml")!;
        const files = YAML.parse(worker.userData).write_files as Array<{ path: string; content: string }>;
        return files.find((f) => f.path === "/opt/bin/fleet-zone")!.content.split("/run/fleet").join(path.join(tmp, "run", "fleet"));
    }

    function stubMetadataServer(): void {
        // Fails unless asked the way GCE requires (Metadata-Flavor header, zone path).
        writeExecutable(
            path.join(tmp, "stub-bin", "curl"),
            `#!/bin/bash\ncase "$*" in *"Metadata-Flavor: Google"*computeMetadata/v1/instance/zone*) printf '%s' "$ZONE_ANSWER" ;; *) exit 22 ;; esac\n`,
        );
    }

    it("fleet-zone writes the full fleet metadata with the VM's zone", () => {
        stubMetadataServer();
        const { status, stderr } = runScript(zoneScript(), tmp, { ZONE_ANSWER: "projects/123456/zones/europe-west1-c" });
        expect(status, stderr).to.equal(0);
        expect(fs.readFileSync(path.join(tmp, "run", "fleet", "zone.env"), "utf8")).to.equal(
            "FLEET_METADATA=role=worker,zone=europe-west1-c,region=europe-west1,cluster=prod,disk=ssd,tier=prod\n",
        );
    });

    it("fleet-zone refuses an unexpected answer and writes nothing", () => {
        stubMetadataServer();
        for (const answer of ["projects/1/zones/evil;touch /tmp/x/y", "projects/1/zones/", "projects/1/zones/Europe West", "europe-west1-c", ""]) {
            const { status, stderr } = runScript(zoneScript(), tmp, { ZONE_ANSWER: answer });
            expect(status, answer).to.not.equal(0);
            expect(stderr).to.contain("unexpected zone");
            expect(fs.existsSync(path.join(tmp, "run", "fleet", "zone.env"))).to.equal(false);
        }
    });

    describe("fleet-install", () => {
        let tarball: string;
        let digest: string;
        beforeEach(() => {
            const release = path.join(tmp, "build", "fleet-v1.0.0-linux-amd64");
            writeExecutable(path.join(release, "fleetd"), "#!/bin/sh\necho fleetd\n");
            writeExecutable(path.join(release, "fleetctl"), "#!/bin/sh\necho fleetctl\n");
            tarball = path.join(tmp, "fleet.tar.gz");
            const tar = spawnSync("tar", ["-czf", tarball, "-C", path.join(tmp, "build"), "fleet-v1.0.0-linux-amd64"]);
            expect(tar.status).to.equal(0);
            digest = createHash("sha256").update(fs.readFileSync(tarball)).digest("hex");
            // "Downloads" by copying the local tarball to the -o target.
            writeExecutable(
                path.join(tmp, "stub-bin", "curl"),
                `#!/bin/bash\nwhile [ $# -gt 0 ]; do if [ "$1" = -o ]; then cp "${tarball}" "$2"; exit 0; fi; shift; done; exit 22\n`,
            );
        });

        function installScript(sha256: string): string {
            const script = fleetInstallScript({ version: "v1.0.0", url: "https://example.test/fleet.tar.gz", sha256 }).content;
            return script.split("/opt/").join(`${tmp}/opt/`);
        }

        it("installs the release under /opt when its sha256 matches", () => {
            const { status, stderr } = runScript(installScript(digest), tmp, {});
            expect(status, stderr).to.equal(0);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "v1.0.0", "fleetd"))).to.equal(true);
            expect(fs.readlinkSync(path.join(tmp, "opt", "fleet", "current"))).to.equal(path.join(tmp, "opt", "fleet", "v1.0.0"));
            expect(fs.existsSync(path.join(tmp, "opt", "bin", "fleetctl"))).to.equal(true);
            // Idempotent: a second run keeps the installed release.
            expect(runScript(installScript(digest), tmp, {}).status).to.equal(0);
        });

        it("installs nothing when the sha256 does not match", () => {
            const wrong = digest.replace(/^./, (c) => (c === "0" ? "1" : "0"));
            const { status, stderr } = runScript(installScript(wrong), tmp, {});
            expect(status).to.not.equal(0);
            expect(stderr).to.match(/FAILED|did NOT match/);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "v1.0.0"))).to.equal(false);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "current"))).to.equal(false);
        });
    });
});
