// Issue 23, items 4, 7 and 8 in the rendered worker user-data: the router's images come by digest
// through the stack's mirror and are pulled once; the container units back off and never end
// failed; workers never take locksmith's lock; containers resolve <name>.local through the router.
// The pull script is real bash, run here against a fake `docker` and `curl` on PATH.
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { renderMachines } from "../../cloud-config";
import { DOCKER_DAEMON_CONFIG, GCE_RESOLVER } from "../../cloud-config/container-dns";
import { IMAGE_LOGIN_VARIABLE, IMAGE_PULL_SCRIPT, imagePullScript } from "../../cloud-config/image-pull";
import { CONTAINER_RESTART_POLICY, restartDelays } from "../../cloud-config/restart-policy";
import { ROUTER_IMAGE_VARIABLES, ROUTER_UNIT } from "../../cloud-config/router";
import { ETCD_GATEWAY_UNIT } from "../../cloud-config/etcd-tls";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { HAPROXY_IMAGE, imageReference, NODE_IMAGE, stackMirrorPrefix } from "../../model/images";
import { ROUTER_STOP_SIGNAL } from "../../model/router-contract";
import { gcpConfig, localConfig, planFor } from "./fixtures";

type Unit = { name: string; command?: string; content?: string };
function worker(config = gcpConfig()) {
    const m = renderMachines(config, planFor(config)).find((x) => x.role === "worker")!;
    const doc = YAML.parse(m.userData.replace(/^#cloud-config\n/, ""), { version: "1.1" });
    const units = doc.coreos.units as Unit[];
    return { m, doc, unit: (name: string) => units.find((u) => u.name === name)!.content!, files: (doc.write_files ?? []) as Array<{ path: string; content: string }> };
}
const envOf = (unit: string) => Object.fromEntries(serviceEnvironment(unit, "w").assignments.map((a) => [a.name, a.value]));

describe("issue 23 item 4: the router's images by digest through a mirror, pulled once", () => {
    it("on GCE with no imageMirror: both images from the stack's Artifact Registry mirror, by digest, with the VM's login", () => {
        const config = gcpConfig();
        const env = envOf(worker(config).unit(ROUTER_UNIT));
        const prefix = stackMirrorPrefix("demo", "demo-project", "europe-west1");
        expect(prefix).to.equal("europe-west1-docker.pkg.dev/demo-project/demo-dockerhub");
        expect(env[ROUTER_IMAGE_VARIABLES.haproxy]).to.equal(`${prefix}/library/haproxy:${HAPROXY_IMAGE.tag}@${HAPROXY_IMAGE.digest}`);
        expect(env[ROUTER_IMAGE_VARIABLES.node]).to.equal(`${prefix}/library/node:${NODE_IMAGE.tag}@${NODE_IMAGE.digest}`);
        expect(env[IMAGE_LOGIN_VARIABLE]).to.equal("europe-west1-docker.pkg.dev");
    });

    it("no image reference anywhere in the unit is a bare tag or Docker Hub", () => {
        const unit = worker().unit(ROUTER_UNIT);
        expect(unit).to.not.match(/docker\.io|haproxy:\d[^@\s"]*(\s|$)|node:\d[^@\s"]*(\s|$)/);
        const run = unit.split("\n").filter((l) => /^Exec(Start|StartPre)=.*docker run/.test(l));
        expect(run).to.have.length(2);
        for (const line of run) expect(line).to.match(/\$\{COREOS_IMAGE_(NODE|HAPROXY)\}/);
    });

    it("an existing mirror is used as given; a non-Artifact-Registry host gets no token", () => {
        const env = envOf(worker(gcpConfig({ images: { mirror: "mirror.example.com:5000/hub" } })).unit(ROUTER_UNIT));
        expect(env[ROUTER_IMAGE_VARIABLES.haproxy]).to.equal(imageReference(HAPROXY_IMAGE, "mirror.example.com:5000/hub"));
        expect(env[IMAGE_LOGIN_VARIABLE]).to.equal("");
    });

    it("pulls first, then fills node's volume, then runs; the stop signal is one node handles", () => {
        const lines = worker().unit(ROUTER_UNIT).split("\n");
        const pull = lines.findIndex((l) => l.startsWith(`ExecStartPre=${IMAGE_PULL_SCRIPT} `));
        const fill = lines.findIndex((l) => l.startsWith("ExecStartPre=/usr/bin/docker run --rm -v coreos-router-node-"));
        const start = lines.findIndex((l) => l.startsWith("ExecStart="));
        expect(pull).to.be.greaterThan(-1);
        expect([pull < fill, fill < start]).to.deep.equal([true, true]);
        expect(lines[pull]).to.equal(`ExecStartPre=${IMAGE_PULL_SCRIPT} \${${IMAGE_LOGIN_VARIABLE}} \${${ROUTER_IMAGE_VARIABLES.node}} \${${ROUTER_IMAGE_VARIABLES.haproxy}}`);
        expect(lines[start]).to.contain(` --stop-signal ${ROUTER_STOP_SIGNAL} `);
        expect(ROUTER_STOP_SIGNAL).to.equal("SIGTERM");
    });

    for (const name of [ROUTER_UNIT, ETCD_GATEWAY_UNIT]) {
        it(`${name}: no start limit (never ends failed), restarts back off from 2 s to 60 s, never every second`, () => {
            const unit = worker().unit(name);
            const [unitSection, serviceSection] = unit.split("[Service]");
            expect(unitSection).to.contain("StartLimitIntervalSec=0");
            expect(serviceSection).to.contain("Restart=always").and.contain("RestartSec=2").and.contain("RestartSteps=5").and.contain("RestartMaxDelaySec=60");
            expect(unit).to.not.match(/RestartSec=1\n|StartLimitBurst=/);
        });
    }

    it("the backoff: grows from RestartSec to the cap and stays there (systemd's formula)", () => {
        const d = restartDelays(CONTAINER_RESTART_POLICY, 8);
        expect(d[0]).to.equal(2);
        for (let i = 1; i < d.length; i++) expect(d[i]).to.be.at.least(d[i - 1]);
        expect(d[5]).to.be.closeTo(60, 1e-9);
        expect(d[7]).to.equal(60);
    });
});

describe("issue 23 item 4: the pull script (real bash, fake docker and metadata server)", () => {
    let dir: string;
    const ref = (image: typeof HAPROXY_IMAGE) => imageReference(image, "europe-west1-docker.pkg.dev/p/r");
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pull-images-"));
        fs.writeFileSync(path.join(dir, "pull-images"), imagePullScript().content, { mode: 0o755 });
        // docker: `image inspect` succeeds for refs listed in $dir/present; every call is logged with its stdin.
        fs.writeFileSync(
            path.join(dir, "docker"),
            `#!/bin/bash\nin=""; if [[ " $* " == *" --password-stdin "* ]]; then in=$(cat); fi\necho "docker $* stdin=$in" >> "${dir}/calls"\nif [[ $1 == image && $2 == inspect ]]; then grep -qxF "$3" "${dir}/present"; exit; fi\n[[ -e "${dir}/fail-pull" && " $* " == *" pull "* ]] && exit 1\nexit 0\n`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(dir, "curl"), `#!/bin/bash\necho "curl $*" >> "${dir}/calls"\nprintf '{"access_token":"ya29.SECRET-token","expires_in":3599}'\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "present"), "");
        fs.writeFileSync(path.join(dir, "calls"), "");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    // mktemp under /run may not be writable in a test: TMPDIR is ignored by an absolute template, so run as is and skip nothing.
    const run = (...args: string[]) => spawnSync("bash", [path.join(dir, "pull-images"), ...args], { env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8" });
    const calls = () => fs.readFileSync(path.join(dir, "calls"), "utf8");

    it("touches no registry when every digest is present (a restart during a registry outage)", () => {
        fs.writeFileSync(path.join(dir, "present"), `${ref(NODE_IMAGE)}\n${ref(HAPROXY_IMAGE)}\n`);
        const r = run("europe-west1-docker.pkg.dev", ref(NODE_IMAGE), ref(HAPROXY_IMAGE));
        expect(r.status, r.stderr).to.equal(0);
        expect(calls()).to.not.match(/curl|login|pull/);
    });

    it("logs in with the VM's token on stdin (never an argument) and pulls only what is missing", () => {
        fs.writeFileSync(path.join(dir, "present"), `${ref(NODE_IMAGE)}\n`);
        const r = run("europe-west1-docker.pkg.dev", ref(NODE_IMAGE), ref(HAPROXY_IMAGE));
        expect(r.status, r.stderr).to.equal(0);
        const log = calls();
        expect(log).to.match(/curl .*-H Metadata-Flavor: Google .*service-accounts\/default\/token/);
        expect(log).to.match(/docker --config \S+ login -u oauth2accesstoken --password-stdin https:\/\/europe-west1-docker\.pkg\.dev stdin=ya29\.SECRET-token/);
        expect(log.split("\n").filter((l) => / pull /.test(l))).to.deep.equal([`docker --config ${/--config (\S+) pull/.exec(log)![1]} pull ${ref(HAPROXY_IMAGE)} stdin=`]);
        // The token is in no argument and in nothing the script prints.
        expect(log.split("\n").filter((l) => l.includes("ya29")).every((l) => /stdin=ya29/.test(l) && !/ya29[^\n]* stdin=/.test(l.replace(/stdin=.*/, "")))).to.equal(true);
        expect(r.stderr + r.stdout).to.not.contain("ya29");
    });

    it("an anonymous mirror gets no token; a failed pull exits non-zero (the unit retries with backoff)", () => {
        fs.writeFileSync(path.join(dir, "fail-pull"), "");
        const r = run("", imageReference(HAPROXY_IMAGE, "mirror.example.com/hub"));
        expect(r.status).to.equal(1);
        expect(calls()).to.not.match(/curl|login/);
        expect(r.stderr).to.contain("retries with backoff");
    });

    it("refuses a reference without a digest, and a token for a host that is not Artifact Registry", () => {
        expect(run("", "docker.io/library/haproxy:3.4.4").status).to.equal(2);
        const r = run("evil.example.com", ref(HAPROXY_IMAGE));
        expect(r.status).to.equal(2);
        expect(calls()).to.not.contain("curl");
    });

    it("is valid bash (bash -n)", () => {
        execFileSync("bash", ["-n", path.join(dir, "pull-images")]);
    });
});

describe("issue 23 item 7: workers never take locksmith's lock", () => {
    for (const config of [gcpConfig(), localConfig()]) {
        it(`${config.platform}: etcd-lock keeps members on etcd-lock and renders workers off`, () => {
            const machines = renderMachines(config, planFor(config));
            for (const m of machines) {
                const doc = YAML.parse(m.userData.replace(/^#cloud-config\n/, ""), { version: "1.1" });
                expect(doc.coreos.update.reboot_strategy, m.name).to.equal(m.role === "worker" ? "off" : "etcd-lock");
                if (m.role === "worker" && config.os.flavor === "flatcar") {
                    // With off, coreos-cloudinit masks locksmithd; nothing (re)starts it.
                    const locksmithd = (doc.coreos.units as Unit[]).find((u) => u.name === "locksmithd.service")!;
                    expect(locksmithd.command, m.name).to.equal(undefined);
                }
            }
        });
    }
    it("reboot and off apply to workers as written (neither takes a lock)", () => {
        for (const strategy of ["reboot", "off"] as const) {
            const w = worker(gcpConfig({ updates: { rebootStrategy: strategy } }));
            expect(w.doc.coreos.update.reboot_strategy).to.equal(strategy);
        }
    });
});

describe("issue 23 item 8: containers resolve <name>.local through the worker's router", () => {
    it("GCE workers: Docker's daemon points every container at the router's DNS first, GCE's resolver second", () => {
        const w = worker();
        const file = w.files.find((f) => f.path === DOCKER_DAEMON_CONFIG)!;
        expect(JSON.parse(file.content)).to.deep.equal({ dns: ["$private_ipv4", GCE_RESOLVER] });
        // The same address the router's DNS listens on.
        expect(envOf(w.unit(ROUTER_UNIT)).ROUTER_DNS_ADDRESS).to.equal("$private_ipv4");
    });
    it("members get no Docker DNS config", () => {
        const config = gcpConfig();
        for (const m of renderMachines(config, planFor(config)).filter((x) => x.role === "etcd")) expect(m.userData).to.not.contain(DOCKER_DAEMON_CONFIG);
    });
});
