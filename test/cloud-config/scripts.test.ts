// The shell scripts the user-data writes are run here for real with bash, with the
// environment their unit gives them (read from the unit text the way systemd reads it). Only
// what cannot exist on this machine is replaced: `curl` by a stub on PATH (the GCE metadata
// server and GitHub are unreachable) and the /run, /opt roots by a temp folder.

import { expect } from "chai";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { renderMachines } from "../../cloud-config";
import { fleetInstallScript, fleetUnits } from "../../cloud-config/fleet-release";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { ConfigValidationError } from "../../model/types";
import { gcpConfig, planFor, prodConfig } from "./fixtures";

type Doc = { [key: string]: any };

/** The environment systemd gives a unit's ExecStart, from the unit text. */
function unitEnvironment(unitText: string): Record<string, string> {
    return Object.fromEntries(serviceEnvironment(unitText, "host").assignments.map((a) => [a.name, a.value]));
}

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

    function zoneParts(): { script: string; env: Record<string, string> } {
        const config = prodConfig();
        const worker = renderMachines(config, planFor(config)).find((m) => m.fileName === "worker.yaml")!;
        const doc = YAML.parse(worker.userData) as Doc;
        const files = doc.write_files as Array<{ path: string; content: string }>;
        const script = files.find((f) => f.path === "/opt/bin/fleet-zone")!.content.split("/run/fleet").join(path.join(tmp, "run", "fleet"));
        const unit = (doc.coreos.units as Doc[]).find((u) => u.name === "fleet-zone.service")!;
        return { script, env: unitEnvironment(unit.content) };
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
        const { script, env } = zoneParts();
        const { status, stderr } = runScript(script, tmp, { ...env, ZONE_ANSWER: "projects/123456/zones/europe-west1-c" });
        expect(status, stderr).to.equal(0);
        expect(fs.readFileSync(path.join(tmp, "run", "fleet", "zone.env"), "utf8")).to.equal(
            "FLEET_METADATA=role=worker,zone=europe-west1-c,region=europe-west1,cluster=prod,disk=ssd,tier=prod\n",
        );
    });

    it("fleet-zone refuses an unexpected answer and writes nothing", () => {
        stubMetadataServer();
        for (const answer of ["projects/1/zones/evil;touch /tmp/x/y", "projects/1/zones/", "projects/1/zones/Europe West", "europe-west1-c", ""]) {
            const { script, env } = zoneParts();
            const { status, stderr } = runScript(script, tmp, { ...env, ZONE_ANSWER: answer });
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

        const RELEASE = { version: "v1.0.0", url: "https://example.test/fleet.tar.gz" };

        /** The constant script (its /opt under tmp) and the environment fleet-install.service gives it. */
        function install(release: { version: string; url: string; sha256: string }): { script: string; env: Record<string, string> } {
            const script = fleetInstallScript().content.split("/opt/").join(`${tmp}/opt/`);
            return { script, env: unitEnvironment(fleetUnits(release).install.content!) };
        }

        function run(release: { version: string; url: string; sha256: string }): { status: number | null; stderr: string } {
            const { script, env } = install(release);
            return runScript(script, tmp, env);
        }

        it("installs the release under /opt when its sha256 matches", () => {
            const { status, stderr } = run({ ...RELEASE, sha256: digest });
            expect(status, stderr).to.equal(0);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "v1.0.0", "fleetd"))).to.equal(true);
            expect(fs.readlinkSync(path.join(tmp, "opt", "fleet", "current"))).to.equal(path.join(tmp, "opt", "fleet", "v1.0.0"));
            expect(fs.existsSync(path.join(tmp, "opt", "bin", "fleetctl"))).to.equal(true);
            // Idempotent: a second run keeps the installed release.
            expect(run({ ...RELEASE, sha256: digest }).status).to.equal(0);
        });

        it("installs nothing when the sha256 does not match", () => {
            const wrong = digest.replace(/^./, (c) => (c === "0" ? "1" : "0"));
            const { status, stderr } = run({ ...RELEASE, sha256: wrong });
            expect(status).to.not.equal(0);
            expect(stderr).to.match(/FAILED|did NOT match/);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "v1.0.0"))).to.equal(false);
            expect(fs.existsSync(path.join(tmp, "opt", "fleet", "current"))).to.equal(false);
        });

        it("refuses, on the VM too, an environment that is not a release (the script checks what the renderer checked)", () => {
            const { script } = install({ ...RELEASE, sha256: digest });
            const env = { FLEET_RELEASE_VERSION: "v1.0.0", FLEET_RELEASE_URL: RELEASE.url, FLEET_RELEASE_SHA256: digest };
            for (const [name, value] of [["FLEET_RELEASE_VERSION", "../../etc"], ["FLEET_RELEASE_SHA256", "abc"], ["FLEET_RELEASE_URL", "http://plain.test/x.tar.gz"], ["FLEET_RELEASE_URL", ""]]) {
                const { status, stderr } = runScript(script, tmp, { ...env, [name]: value });
                expect(status, `${name}=${value}`).to.not.equal(0);
                expect(stderr, `${name}=${value}`).to.contain(name);
                expect(fs.existsSync(path.join(tmp, "opt", "fleet")), `${name}=${value}`).to.equal(false);
            }
        });
    });

    describe("a hostile fleet release URL is data, never shell", () => {
        const SHA = "7e57".repeat(16);
        // Quotes, command substitutions and backticks that would each run `touch` if pasted into a shell line.
        const hostile = (marker: string) =>
            `https://example.test/x'$(touch${"${IFS}"}${marker}-a)'"$(touch${"${IFS}"}${marker}-b)"\`touch${"${IFS}"}${marker}-c\`;touch${"${IFS}"}${marker}-d%H%%\\.tar.gz`;

        it("the install script is the same text for any release; the URL is only a quoted Environment= value", () => {
            const base = fleetUnits({ version: "v1.0.0", url: "https://example.test/fleet.tar.gz", sha256: SHA });
            const evil = fleetUnits({ version: "v9.9.9", url: hostile("/tmp/pwned"), sha256: "ab".repeat(32) });
            expect(fleetInstallScript().content).to.not.contain("example.test");
            const envLines = (text: string) => text.split("\n").filter((l) => l.startsWith("Environment="));
            const otherLines = (text: string) => text.split("\n").filter((l) => !l.startsWith("Environment="));
            expect(otherLines(evil.install.content!)).to.deep.equal(otherLines(base.install.content!));
            expect(evil.service.content).to.equal(base.service.content);
            expect(envLines(evil.install.content!)).to.have.length(3);
            for (const line of envLines(evil.install.content!)) expect(line).to.match(/^Environment="[A-Z0-9_]+=(?:[^"\\%]|\\["\\]|%%)*"$/);
            expect(unitEnvironment(evil.install.content!).FLEET_RELEASE_URL).to.equal(hostile("/tmp/pwned"));
        });

        it("bash hands the hostile URL to curl as one argument and runs none of it", () => {
            const marker = path.join(tmp, "pwned");
            // A curl that records its arguments, then fails like an unreachable host.
            writeExecutable(path.join(tmp, "stub-bin", "curl"), `#!/bin/bash\nprintf '%s\\0' "$@" > "${path.join(tmp, "curl-args")}"\nexit 22\n`);
            const url = hostile(marker);
            const script = fleetInstallScript().content.split("/opt/").join(`${tmp}/opt/`);
            const { status } = runScript(script, tmp, unitEnvironment(fleetUnits({ version: "v1.0.0", url, sha256: SHA }).install.content!));
            expect(status).to.not.equal(0);
            const args = fs.readFileSync(path.join(tmp, "curl-args"), "utf8").split("\0").slice(0, -1);
            expect(args[args.length - 1]).to.equal(url);
            expect(args[args.length - 2]).to.equal("--");
            expect(fs.readdirSync(tmp).filter((f) => f.startsWith("pwned")), "no command in the URL ran").to.deep.equal([]);
        });

        it("a URL with a line break, U+2028, NEL or a non-ASCII character is refused by the renderer, naming the key", () => {
            for (const url of ["https://example.test/x.tar.gz\nExecStartPre=/bin/sh -c id", "https://example.test/x\u2028- ssh-ed25519 AAAA.tar.gz", "https://example.test/x\u0085y.tar.gz", "https://example.test/x y.tar.gz", "https://exämple.test/x.tar.gz"]) {
                const config = gcpConfig({ fleet: { release: { version: "v1.0.0", url, sha256: SHA } } });
                let thrown: unknown;
                try {
                    renderMachines(config, planFor(config));
                } catch (err) {
                    thrown = err;
                }
                expect(thrown, JSON.stringify(url)).to.be.instanceOf(ConfigValidationError);
                expect((thrown as ConfigValidationError).problems.map((p) => p.key), JSON.stringify(url)).to.deep.equal(["coreos-cluster:fleetRelease.url"]);
            }
        });
    });
});
