// The router in the rendered user-data: every worker (both flavors, both platforms) carries the
// bundled watcher and its unit, with the pinned images, and the validator accepts the result. The
// unit keeps the contract of model/router-contract.ts: the watcher reads what the renderer writes,
// and the container keeps only the capabilities the contract lists, and stops on a signal node handles.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import * as zlib from "zlib";
import { renderMachines, validateCloudConfig } from "../../cloud-config";
import { ROUTER_HAPROXY_IMAGE, ROUTER_IMAGE_VARIABLES, ROUTER_NODE_IMAGE, ROUTER_SCRIPT, ROUTER_UNIT } from "../../cloud-config/router";
import { IMAGE_LOGIN_VARIABLE } from "../../cloud-config/image-pull";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { ROUTER_CAPABILITIES, ROUTER_ENV, ROUTER_REQUIRED, ROUTER_UNIT as CONTRACT_UNIT, ROUTER_VARIABLES } from "../../model/router-contract";
import { routerScript } from "../../router/bundle";
import { settingsFromEnv } from "../../router/main";
import { OsFlavor } from "../../model/types";
import { gcpConfig, localConfig, planFor } from "./fixtures";

function parse(userData: string): any {
    return YAML.parse(userData.replace(/^#cloud-config\n/, ""), { version: "1.1" });
}

describe("router in the worker user-data", () => {
    for (const flavor of ["flatcar", "container-linux"] as OsFlavor[]) {
        for (const [platform, config] of [["gcp", gcpConfig({ os: { flavor } })], ["local", localConfig({ os: { flavor } })]] as const) {
            it(`${platform}, ${flavor}: each worker has one router unit and the bundled watcher; members have neither`, () => {
                const machines = renderMachines(config, planFor(config));
                for (const m of machines) {
                    const doc = parse(m.userData);
                    const units = (doc.coreos.units as Array<{ name: string; command?: string; content?: string }>).filter((u) => u.name === ROUTER_UNIT);
                    const files = ((doc.write_files ?? []) as Array<{ path: string; encoding?: string; content: string }>).filter((f) => f.path === ROUTER_SCRIPT);
                    if (m.role === "etcd") {
                        expect([units.length, files.length], m.name).to.deep.equal([0, 0]);
                        continue;
                    }
                    expect(units, m.name).to.have.length(1);
                    expect(units[0].command).to.equal("start");
                    expect(files).to.have.length(1);
                    expect(files[0].encoding).to.equal("gzip+base64");
                    expect(zlib.gunzipSync(Buffer.from(files[0].content, "base64")).toString("utf8")).to.equal(routerScript());
                    const unit = units[0].content!;
                    expect(unit).to.contain("Restart=always");
                    expect(unit).to.contain(`--entrypoint /opt/node/bin/node \${${ROUTER_IMAGE_VARIABLES.haproxy}} \${ROUTER_SCRIPT}`);
                    expect(unit).to.contain('Environment="ROUTER_HEALTH_PORT=10256"').and.to.contain('Environment="ROUTER_HEALTH_PATH=/healthz"');
                    expect(unit).to.contain('Environment="ROUTER_HTTP_PORTS=80,443"');
                    if (platform === "gcp") {
                        expect(unit).to.contain('Environment="ROUTER_BIND=0.0.0.0"').and.to.contain('Environment="ROUTER_DNS_ADDRESS=$private_ipv4"');
                        expect(unit).to.contain('Environment="ROUTER_ETCD_PROXY=https://127.0.0.1:2379"');
                    } else {
                        expect(unit).to.match(/Environment="ROUTER_BIND=10\.213\.10\.\d+"/);
                    }
                    // The watcher starts from exactly what the unit sets: every variable is the contract's, none it requires is missing.
                    const env = Object.fromEntries(serviceEnvironment(unit, m.name).assignments.map((a) => [a.name, a.value]));
                    // The image variables are the unit's own (never passed into the container); every other one is the contract's.
                    const unitOwn: string[] = [IMAGE_LOGIN_VARIABLE, ...Object.values(ROUTER_IMAGE_VARIABLES)];
                    for (const name of Object.keys(env).filter((n) => !unitOwn.includes(n))) expect(ROUTER_VARIABLES as readonly string[], `${name} is a contract variable`).to.include(name);
                    for (const name of unitOwn) expect(unit, `${name} is not passed into the container`).to.not.contain(`-e ${name} `);
                    for (const name of ROUTER_REQUIRED) expect(env, `${m.name} sets ${name}`).to.have.property(name);
                    const settings = settingsFromEnv(env);
                    expect(settings.healthPort).to.equal(10256);
                    expect(settings.httpPorts).to.deep.equal([80, 443]);
                    const validation = validateCloudConfig(m.userData);
                    expect(validation.errors, m.name).to.deep.equal([]);
                    if (flavor === "flatcar") expect(validation.warnings, m.name).to.deep.equal([]);
                }
            });
        }
    }

    it("the container keeps only the contract's capabilities, gains none back, and stops on SIGTERM through an init", () => {
        const config = gcpConfig();
        const worker = renderMachines(config, planFor(config)).find((m) => m.role === "worker")!;
        const unit = (parse(worker.userData).coreos.units as Array<{ name: string; content?: string }>).find((u) => u.name === ROUTER_UNIT)!.content!;
        const run = unit.split("\n").find((l) => l.startsWith("ExecStart=/usr/bin/docker run"))!;
        const flags = run.split(" --entrypoint ")[0];
        expect(flags).to.contain(" --cap-drop ALL ");
        const added = [...flags.matchAll(/--cap-add (\S+)/g)].map((m) => m[1]);
        expect(added).to.deep.equal(ROUTER_CAPABILITIES.map((c) => c.name));
        expect(added.sort()).to.deep.equal(["KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"]);
        expect(flags).to.contain(" --security-opt no-new-privileges ");
        expect(flags).to.contain(" --stop-signal SIGTERM ");
        expect(flags).to.contain(" --init ");
        expect(flags).to.not.match(/--privileged|--cap-add ALL|SYS_ADMIN/);
        expect(run).to.match(new RegExp(`\\$\\{${ROUTER_ENV.script}\\}$`));
        expect(unit).to.contain("ExecStop=/usr/bin/docker stop -t 10 coreos-router");
    });

    it("one unit name for the renderer, the contract and the local boot", () => {
        expect(ROUTER_UNIT).to.equal(CONTRACT_UNIT);
    });

    it("pins both images by digest, on the current LTS lines (HAProxy 3.4, node 24), both on one Debian release", () => {
        for (const image of [ROUTER_HAPROXY_IMAGE, ROUTER_NODE_IMAGE]) expect(image.digest, image.repository).to.match(/^sha256:[0-9a-f]{64}$/);
        expect(ROUTER_HAPROXY_IMAGE.repository).to.equal("library/haproxy");
        expect(ROUTER_HAPROXY_IMAGE.tag).to.match(/^3\.4\.\d+-trixie$/);
        expect(ROUTER_NODE_IMAGE.repository).to.equal("library/node");
        expect(ROUTER_NODE_IMAGE.tag).to.match(/^24\.\d+\.\d+-trixie-slim$/);
    });

    it("the shipped watcher is valid JavaScript for node (node --check)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "router-js-"));
        try {
            fs.writeFileSync(path.join(dir, "router.js"), routerScript());
            execFileSync(process.execPath, ["--check", path.join(dir, "router.js")]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
