// The router in the rendered user-data: every worker (both flavors, both platforms) carries the
// bundled watcher and its unit, with the pinned images, and the validator accepts the result.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import * as zlib from "zlib";
import { renderMachines, validateCloudConfig } from "../../cloud-config";
import { ROUTER_HAPROXY_IMAGE, ROUTER_NODE_IMAGE, ROUTER_SCRIPT, ROUTER_UNIT } from "../../cloud-config/router";
import { routerScript } from "../../router/bundle";
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
                    expect(unit).to.contain(`--entrypoint /opt/node/bin/node ${ROUTER_HAPROXY_IMAGE} \${ROUTER_SCRIPT}`);
                    expect(unit).to.contain('Environment="ROUTER_HEALTH_PORT=10256"').and.to.contain('Environment="ROUTER_HEALTH_PATH=/healthz"');
                    expect(unit).to.contain('Environment="ROUTER_HTTP_PORTS=80,443"');
                    if (platform === "gcp") {
                        expect(unit).to.contain('Environment="ROUTER_BIND=0.0.0.0"').and.to.contain('Environment="ROUTER_DNS_ADDRESS=$private_ipv4"');
                        expect(unit).to.contain('Environment="ROUTER_ETCD_PROXY=http://127.0.0.1:2379"');
                    } else {
                        expect(unit).to.match(/Environment="ROUTER_BIND=10\.213\.10\.\d+"/);
                    }
                    const validation = validateCloudConfig(m.userData);
                    expect(validation.errors, m.name).to.deep.equal([]);
                    if (flavor === "flatcar") expect(validation.warnings, m.name).to.deep.equal([]);
                }
            });
        }
    }

    it("pins both images by exact version, like the etcd image", () => {
        expect(ROUTER_HAPROXY_IMAGE).to.match(/^docker\.io\/library\/haproxy:2\.8\.\d+-bookworm$/);
        expect(ROUTER_NODE_IMAGE).to.match(/^docker\.io\/library\/node:\d+\.\d+\.\d+-bookworm-slim$/);
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
