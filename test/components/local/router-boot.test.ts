// The local boot reads the router from the worker's user-data TEXT (coreos-router.service and the
// write_files entry), the same text GCE gets.
import { expect } from "chai";
import { renderMachines } from "../../../cloud-config";
import { ROUTER_UNIT } from "../../../cloud-config/router";
import { bootPlan } from "../../../components/local/boot";
import { demoBackendsFor } from "../../../components/local/demo-backends";
import { LOCAL_ROUTER_UNIT } from "../../../components/local/router-boot";
import { routerScript } from "../../../router/bundle";
import { localConfig, planFor } from "../../cloud-config/fixtures";

describe("local boot of the router", () => {
    const config = localConfig();
    const machines = renderMachines(config, planFor(config));
    const worker = machines.find((m) => m.role === "worker")!;
    const address = /ROUTER_BIND=([0-9.]+)/.exec(worker.userData)![1];
    const tlsStore = (secretId: string) => ({ dir: "/store", secretId });

    it("names the unit cloud-config renders", () => {
        expect(LOCAL_ROUTER_UNIT).to.equal(ROUTER_UNIT);
    });

    it("a worker's plan runs router.js from write_files with the unit's ROUTER_* environment, paths under the root", () => {
        const plan = bootPlan(worker.userData, { name: worker.name, address, root: "/tmp/m/w0", tlsStore: tlsStore(`${config.name}-tls-worker`) });
        expect(plan.router).to.not.equal(undefined);
        expect(plan.router!.script).to.equal("/tmp/m/w0/opt/coreos-router/router.js");
        expect(plan.router!.env.ROUTER_CONFIG_DIR).to.equal("/tmp/m/w0/etc/coreos-router");
        expect(plan.router!.env.ROUTER_RUN_DIR).to.equal("/tmp/m/w0/run/coreos-router");
        expect(plan.router!.env.ROUTER_BIND).to.equal(address);
        expect(plan.router!.healthUrl).to.equal(`http://${address}:10256/healthz`);
        // The router's identity files, under the root like every path of the contract.
        expect(plan.router!.env.ROUTER_ETCD_CERT).to.equal("/tmp/m/w0/etc/coreos-cluster/tls/router.pem");
        expect(plan.router!.env.ROUTER_ETCD_USER).to.equal("router");
        const file = plan.files.find((f) => f.hostPath === "/opt/coreos-router/router.js")!;
        expect(Buffer.from(file.contentBase64, "base64").toString("utf8"), "gzip+base64 decoded").to.equal(routerScript());
        expect(plan.simulated.some((s) => s.startsWith(ROUTER_UNIT))).to.equal(true);
        expect(plan.ignored.some((s) => s.includes("ExecStart=/usr/bin/docker run"))).to.equal(true);
    });

    it("members have no router", () => {
        const member = machines.find((m) => m.role === "etcd")!;
        expect(bootPlan(member.userData, { name: member.name, address: "127.0.8.1", root: "/tmp/m/e0", tlsStore: tlsStore(`${config.name}-tls-${member.name}`) }).router).to.equal(undefined);
    });

    it("a router unit without its environment is a boot problem naming the unit", () => {
        const broken = worker.userData.replace(/Environment="ROUTER_BIND=[^"]*"\n/, "");
        expect(() => bootPlan(broken, { name: worker.name, address, root: "/tmp/m/w0", tlsStore: tlsStore(`${config.name}-tls-worker`) })).to.throw(/coreos\.units\[\d+\]\.content.*does not set ROUTER_BIND/);
    });

    it("demo backends: only the hosts on the worker's own address", () => {
        const services = [
            { name: "web", scheme: "http" as const, hosts: ["10.213.10.13:8080", "10.213.10.14:8080"] },
            { name: "redis", scheme: "tcp" as const, hosts: ["10.213.10.13:6379"] },
        ];
        expect(demoBackendsFor(services, "10.213.10.14")).to.deep.equal([{ service: "web", scheme: "http", host: "10.213.10.14:8080" }]);
        expect(demoBackendsFor(services, "10.213.10.13").map((b) => b.host)).to.deep.equal(["10.213.10.13:8080", "10.213.10.13:6379"]);
        expect(demoBackendsFor(services, "10.213.10.1")).to.deep.equal([]);
    });
});
