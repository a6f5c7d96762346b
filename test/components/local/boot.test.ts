// bootPlan: what a CoreOS host would apply from cloud-config TEXT, for both flavors.
// Pure: no processes. The real renderer's output is booted too, so renderer and local
// platform cannot drift apart silently.
import { expect } from "chai";
import * as zlib from "zlib";
import { renderMachines } from "../../../cloud-config";
import { planCluster } from "../../../model/plan";
import { loadConfig } from "../../../model/validate";
import type { OsFlavor } from "../../../model/types";
import { bootPlan, substituteAddresses } from "../../../components/local/boot";
import { BootError, isBootError } from "../../../components/local/boot-error";
import { splitEnvironmentWords } from "../../../components/local/systemd-env";

const machine = { name: "hand-etcd-0", address: "127.0.8.90", root: "/srv/local/hand-etcd-0" };

const containerLinuxMember = `#cloud-config
hostname: hand-etcd-0
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3Nza test@example
write_files:
  - path: /etc/motd
    permissions: "0600"
    owner: core:core
    content: 'hello from $private_ipv4, literally \\$private_ipv4'
  - path: /etc/zipped
    encoding: gz+base64
    content: ${zlib.gzipSync(Buffer.from("unzipped!")).toString("base64")}
coreos:
  etcd2:
    name: hand-etcd-0
    initial_advertise_peer_urls: http://$private_ipv4:2380
    listen_peer_urls: http://0.0.0.0:2380
    listen_client_urls: http://0.0.0.0:2379,http://127.0.0.1:2379,http://localhost:4001
    advertise_client_urls: http://$private_ipv4:2379
    initial_cluster: hand-etcd-0=http://$private_ipv4:2380
    initial_cluster_state: new
    initial_cluster_token: hand
    heartbeat_interval: 200
    debug: false
    listen-client-urls: http://0.0.0.0:9999
  fleet:
    metadata: role=etcd
  locksmith:
    group: etcd
  update:
    reboot_strategy: etcd-lock
  units:
    - name: etcd2.service
      command: start
    - name: fleet.service
      command: start
`;

const flatcarWorker = `#cloud-config
coreos:
  update:
    reboot_strategy: "off"
  units:
    - name: etcd-member.service
      command: start
      drop_ins:
        - name: 20-cluster.conf
          content: |
            [Service]
            Environment="ETCD_IMAGE_TAG=v3.5.17"
            Environment="ETCD_PROXY=on" "ETCD_INITIAL_CLUSTER=a=http://127.0.8.91:2380"
            # a comment
            Environment=ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379
            Environment="ETCD_CORS=50%% of %H"
            ExecStartPre=/bin/true
    - name: fleet.service
      command: start
`;

function bootError(fn: () => unknown): BootError {
    try {
        fn();
    } catch (err) {
        expect(isBootError(err), String(err)).to.equal(true);
        return err as BootError;
    }
    throw new Error("expected a BootError");
}

describe("local platform: bootPlan (container-linux, hand-written)", () => {
    const plan = bootPlan(containerLinuxMember, machine);

    it("turns coreos.etcd2 into the ETCD_* environment, skipping false/0 like coreos-cloudinit", () => {
        expect(plan.flavor).to.equal("container-linux");
        expect(plan.mode).to.equal("member");
        expect(plan.env.ETCD_NAME).to.equal("hand-etcd-0");
        expect(plan.env.ETCD_INITIAL_ADVERTISE_PEER_URLS).to.equal("http://127.0.8.90:2380");
        expect(plan.env.ETCD_INITIAL_CLUSTER).to.equal("hand-etcd-0=http://127.0.8.90:2380");
        expect(plan.env.ETCD_HEARTBEAT_INTERVAL).to.equal("200");
        expect(plan.env).to.not.have.property("ETCD_DEBUG");
        expect(Object.keys(plan.env).every((k) => k.startsWith("ETCD_"))).to.equal(true);
    });

    it("binds the machine's own address instead of 0.0.0.0/127.0.0.1/localhost, deduplicated", () => {
        expect(plan.env.ETCD_LISTEN_CLIENT_URLS).to.equal("http://127.0.8.90:2379,http://127.0.8.90:4001");
        expect(plan.env.ETCD_LISTEN_PEER_URLS).to.equal("http://127.0.8.90:2380");
        expect(plan.clientUrl).to.equal("http://127.0.8.90:2379");
    });

    it("moves the data dir (etcd2's default /var/lib/etcd2) under the machine root", () => {
        expect(plan.dataDir).to.equal("/srv/local/hand-etcd-0/var/lib/etcd2");
        expect(plan.env.ETCD_DATA_DIR).to.equal(plan.dataDir);
    });

    it("maps write_files under the root with mode, owner and decoded content; honours \\$ escapes", () => {
        const motd = plan.files.find((f) => f.hostPath === "/etc/motd")!;
        expect(motd.localPath).to.equal("/srv/local/hand-etcd-0/etc/motd");
        expect(motd.mode).to.equal(0o600);
        expect(Buffer.from(motd.contentBase64, "base64").toString()).to.equal("hello from 127.0.8.90, literally $private_ipv4");
        const zipped = plan.files.find((f) => f.hostPath === "/etc/zipped")!;
        expect(Buffer.from(zipped.contentBase64, "base64").toString()).to.equal("unzipped!");
        expect(zipped.mode).to.equal(0o644);
    });

    it("reports what has no local counterpart, including dashed keys", () => {
        const joined = plan.ignored.join("\n");
        for (const part of ["coreos.fleet", "coreos.locksmith", "coreos.update", "ssh_authorized_keys", "fleet.service", "write_files[0].owner"]) {
            expect(joined).to.include(part);
        }
        expect(joined).to.include("coreos.etcd2.listen-client-urls (dashed key");
        expect(plan.env.ETCD_LISTEN_CLIENT_URLS).to.not.include("9999");
    });

    it("enables the v2 API that etcd2 served by default, and says it is a simulation difference", () => {
        expect(plan.env.ETCD_ENABLE_V2).to.equal("true");
        expect(plan.simulated.join("\n")).to.include("ETCD_ENABLE_V2");
    });
});

describe("local platform: bootPlan (flatcar, hand-written)", () => {
    const plan = bootPlan(flatcarWorker, { ...machine, name: "hand-worker-0" });

    it("reads the etcd-member.service drop-in's Environment lines (quotes, several per line, %% and %H)", () => {
        expect(plan.flavor).to.equal("flatcar");
        expect(plan.mode).to.equal("proxy");
        expect(plan.env.ETCD_PROXY).to.equal("on");
        expect(plan.env.ETCD_INITIAL_CLUSTER).to.equal("a=http://127.0.8.91:2380");
        expect(plan.env.ETCD_CORS).to.equal("50% of hand-worker-0");
        expect(plan.env.ETCD_LISTEN_CLIENT_URLS).to.equal("http://127.0.8.90:2379");
        expect(plan.dataDir).to.equal("/srv/local/hand-etcd-0/var/lib/etcd");
    });

    it("drops ETCD_IMAGE_TAG (no container image locally) and reports it with the other ignored parts", () => {
        expect(plan.env).to.not.have.property("ETCD_IMAGE_TAG");
        const joined = plan.ignored.join("\n");
        expect(joined).to.include("ETCD_IMAGE_TAG=v3.5.17");
        expect(joined).to.include("ExecStartPre=/bin/true");
        expect(joined).to.include("coreos.update");
        expect(joined).to.include("fleet.service");
    });

    it("splits Environment= words the way systemd does", () => {
        expect(splitEnvironmentWords(`"A=b c" D=e\\ f 'G=h"i'`)).to.deep.equal(["A=b c", "D=e f", 'G=h"i']);
    });
});

describe("local platform: bootPlan errors name the machine and the key", () => {
    it("bad YAML: the line", () => {
        const err = bootError(() => bootPlan("#cloud-config\ncoreos:\n  etcd2: [\n bad: x\n", machine));
        expect(err.message).to.match(/^machine hand-etcd-0: .*user-data: is not valid YAML \(line \d+\)/);
    });

    it("no #cloud-config header", () => {
        expect(bootError(() => bootPlan("coreos: {}\n", machine)).message).to.include("machine hand-etcd-0").and.include("#cloud-config");
    });

    it("no etcd section at all", () => {
        const err = bootError(() => bootPlan("#cloud-config\nhostname: x\n", machine));
        expect(err.message).to.include("machine hand-etcd-0").and.include("coreos:");
    });

    it("a Flatcar host given only coreos.etcd2 would start no etcd", () => {
        const err = bootError(() => bootPlan(containerLinuxMember, { ...machine, flavor: "flatcar" }));
        expect(err.message).to.include("coreos.units").and.include("etcd-member.service").and.include("coreos.etcd2");
    });

    it("etcd2.service not started", () => {
        const text = containerLinuxMember.replace("    - name: etcd2.service\n      command: start\n", "");
        expect(bootError(() => bootPlan(text, machine)).message).to.include("coreos.units: does not start etcd2.service");
    });

    it("write_files: bad permissions, a path under /usr, undecodable content - all listed", () => {
        const text = `#cloud-config
write_files:
  - path: /etc/a
    permissions: "rwx"
  - path: /usr/bin/x
    content: x
  - path: /etc/b
    encoding: gzip+base64
    content: not-gzip
coreos:
  etcd2:
    name: x
  units:
    - name: etcd2.service
      command: start
`;
        const err = bootError(() => bootPlan(text, machine));
        expect(err.problems.map((p) => p.key)).to.deep.equal(["write_files[0].permissions", "write_files[1].path", "write_files[2].content"]);
    });

    it("an etcd2 value that is not a scalar", () => {
        const text = containerLinuxMember.replace("heartbeat_interval: 200", "heartbeat_interval: [1, 2]");
        expect(bootError(() => bootPlan(text, machine)).message).to.include("coreos.etcd2.heartbeat_interval: must be a scalar");
    });
});

describe("local platform: substituteAddresses", () => {
    it("replaces $private_ipv4/$public_ipv4 and unescapes \\$", () => {
        const out = substituteAddresses("a=$private_ipv4 b=$public_ipv4 c=\\$private_ipv4 d=$private_ipv4$public_ipv4", {
            private_ipv4: "10.0.0.1",
            public_ipv4: "1.2.3.4",
        });
        expect(out).to.equal("a=10.0.0.1 b=1.2.3.4 c=$private_ipv4 d=10.0.0.11.2.3.4");
    });
});

describe("local platform: bootPlan of the real renderer's output", () => {
    for (const flavor of ["container-linux", "flatcar"] as OsFlavor[]) {
        it(`${flavor}: every machine boots, members as members over mutual TLS and workers as etcd gateways to them`, () => {
            // Machines on their own, outside any VPC, on loopback: validated on a VPC address, then
            // moved (a stack cannot ask for loopback; the VPC is tested in vpc.test.ts).
            const validated = loadConfig(
                { platform: "local", clusterName: "boot", localFirstAddress: "10.213.8.100", localWorkers: 2, osFlavor: flavor, osImage: "image", fleetRelease: { sha256: "7e57".repeat(16) } },
                "local",
            );
            const config = { ...validated, local: { ...validated.local, firstAddress: "127.0.8.100" } };
            const plan = planCluster(config);
            const machines = renderMachines(config, plan);
            expect(machines.map((m) => m.role)).to.deep.equal(["etcd", "etcd", "etcd", "worker", "worker"]);
            machines.forEach((m, i) => {
                const address = i < 3 ? plan.members[i].privateIp : plan.workers[i - 3].privateIp!;
                const secretId = m.role === "worker" ? "boot-tls-worker" : `boot-tls-${m.name}`;
                const booted = bootPlan(m.userData, { name: m.name, address, root: `/r/${m.name}`, flavor, tlsStore: { dir: "/store", secretId } });
                expect(booted.flavor).to.equal(flavor);
                expect(booted.dataDir.startsWith(`/r/${m.name}/var/lib/`)).to.equal(true);
                // Every machine fetches its own bundle first (simulated from the local store).
                expect(booted.tlsFetch?.bundle).to.equal(`/store/${secretId}.bundle`);
                if (m.role === "etcd") {
                    expect(booted.env.ETCD_INITIAL_CLUSTER).to.equal(plan.initialCluster);
                    expect(booted.clientUrl).to.equal(`https://${address}:2379`);
                    expect(booted.env.ETCD_ENABLE_V2).to.equal("true");
                    expect(booted.env.ETCD_CLIENT_CERT_AUTH).to.equal("true");
                    expect(booted.env.ETCD_PEER_CLIENT_CERT_AUTH).to.equal("true");
                    expect(booted.env.ETCD_CERT_FILE).to.equal(`/r/${m.name}/etc/coreos-cluster/tls/${m.name}-server.pem`);
                    expect(booted.probeTls).to.deep.equal({ ca: `/r/${m.name}/etc/coreos-cluster/tls/ca.pem`, cert: booted.env.ETCD_CERT_FILE, key: booted.env.ETCD_KEY_FILE });
                    expect(booted.mode).to.equal("member");
                    expect(booted.env.ETCD_NAME).to.equal(plan.members[i].name);
                    expect(booted.env.ETCD_INITIAL_CLUSTER_TOKEN).to.equal(plan.clusterToken);
                    expect(booted.env.ETCD_ADVERTISE_CLIENT_URLS).to.equal(plan.members[i].clientUrl);
                    expect(booted.env.ETCD_LISTEN_PEER_URLS).to.equal(plan.members[i].peerUrl);
                } else {
                    expect(booted.mode).to.equal("proxy");
                    expect(booted.gateway).to.deep.equal({ endpoints: plan.members.map((x) => `${x.privateIp}:2379`).join(","), listenAddr: "127.0.0.1:2379", retryDelay: "5s" });
                    expect(booted.clientUrl).to.equal("https://127.0.0.1:2379");
                    expect(booted.env).to.deep.equal({ ETCD_DATA_DIR: `/r/${m.name}/var/lib/etcd-gateway` });
                    expect(booted.probeTls?.cert).to.equal(`/r/${m.name}/etc/coreos-cluster/tls/router.pem`);
                }
                const ignored = booted.ignored.join("\n");
                if (m.role === "etcd") expect(ignored).to.include(flavor === "flatcar" ? "ETCD_IMAGE_TAG" : "coreos.fleet");
                expect(ignored).to.include("fleet.service");
            });
        });
    }
});
