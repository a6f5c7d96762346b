import { expect } from "chai";
import YAML from "yaml";
import {
    buildMachineModels,
    etcdEnvironmentOf,
    fleetEnvironmentOf,
    GCE_USER_DATA_LIMIT_BYTES,
    renderMachines,
    renderModel,
    userDataHash,
    validateCloudConfig,
} from "../../cloud-config";
import { substituteAddresses } from "../../cloud-config/inspect";
import { fleetUnits, FLEET_SOCKET_GROUP } from "../../cloud-config/fleet-release";
import { parseEnvironmentDropIn } from "../../cloud-config/environment";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { ClusterConfig, OsFlavor } from "../../model/types";
import { gcpConfig, localConfig, planFor, prodConfig } from "./fixtures";

type Doc = { [key: string]: any };
const parse = (text: string): Doc => YAML.parse(text) as Doc;
const unit = (doc: Doc, name: string): Doc => (doc.coreos.units as Doc[]).find((u) => u.name === name) as Doc;
const unitNames = (doc: Doc): string[] => (doc.coreos.units as Doc[]).map((u) => u.name);
const dropInEnv = (doc: Doc, unitName: string): Record<string, string> =>
    Object.assign({}, ...(unit(doc, unitName)?.drop_ins ?? []).map((d: Doc) => parseEnvironmentDropIn(d.content)));

const FLAVORS: OsFlavor[] = ["flatcar", "container-linux"];

function withFlavor(config: ClusterConfig, flavor: OsFlavor): ClusterConfig {
    return { ...config, os: { ...config.os, flavor } };
}

const scenarios: Array<[string, ClusterConfig]> = [
    ["dev (gcp, 3 members, external IPs)", gcpConfig()],
    ["prod (gcp, 5 members over 3 zones, private)", prodConfig()],
    ["local (loopback machines)", localConfig()],
    ["discovery bootstrap", gcpConfig({ etcd: { discoveryUrl: "https://discovery.example.test/abc123" } })],
    ["reboot strategy off", gcpConfig({ updates: { rebootStrategy: "off" } })],
];

describe("cloud-config rendering", () => {
    for (const flavor of FLAVORS) {
        for (const [label, base] of scenarios) {
            it(`${flavor} / ${label}: every machine passes the validator with zero errors`, () => {
                const config = withFlavor(base, flavor);
                const machines = renderMachines(config, planFor(config));
                expect(machines.length).to.be.greaterThan(1);
                for (const m of machines) {
                    expect(m.userData.startsWith("#cloud-config\n"), m.fileName).to.equal(true);
                    const result = validateCloudConfig(m.userData);
                    expect(result.errors, `${m.fileName}: ${JSON.stringify(result.errors)}`).to.deep.equal([]);
                    expect(result.infos).to.deep.equal([]);
                    // Flatcar output is warning-free; the classic one only carries the expected deprecations.
                    // (workers have no coreos.etcd2: their local endpoint is the etcd gateway unit)
                    const expectedWarnings = flavor === "flatcar" ? [] : m.role === "etcd" ? ["coreos.etcd2", "coreos.fleet"] : ["coreos.fleet"];
                    expect(result.warnings.map((w) => w.message.split(":")[0]), m.fileName).to.deep.equal(expectedWarnings);
                    // Underscore keys only, in every mapping of the document.
                    const dashed: string[] = [];
                    YAML.visit(YAML.parseDocument(m.userData), {
                        Pair(_, pair) {
                            const key = String((pair.key as YAML.Scalar).value);
                            if (key.includes("-")) dashed.push(key);
                        },
                    });
                    expect(dashed, m.fileName).to.deep.equal([]);
                }
            });
        }
    }

    it("names the files etcd-<i>.yaml and one worker.yaml template on GCE, worker-<i>.yaml locally", () => {
        const prod = prodConfig();
        expect(renderMachines(prod, planFor(prod)).map((m) => m.fileName)).to.deep.equal([
            "etcd-0.yaml", "etcd-1.yaml", "etcd-2.yaml", "etcd-3.yaml", "etcd-4.yaml", "worker.yaml",
        ]);
        const local = localConfig({ local: { workers: 3 } });
        const machines = renderMachines(local, planFor(local));
        expect(machines.map((m) => m.fileName)).to.deep.equal(["etcd-0.yaml", "etcd-1.yaml", "etcd-2.yaml", "worker-0.yaml", "worker-1.yaml", "worker-2.yaml"]);
        expect(machines.map((m) => m.role)).to.deep.equal(["etcd", "etcd", "etcd", "worker", "worker", "worker"]);
    });

    it("container-linux member: static bootstrap from the plan, initial_cluster lists every member", () => {
        const config = withFlavor(prodConfig(), "container-linux");
        const plan = planFor(config);
        const machines = renderMachines(config, plan);
        plan.members.forEach((member, i) => {
            const doc = parse(machines[i].userData);
            const etcd2 = doc.coreos.etcd2;
            expect(doc.hostname).to.equal(member.name);
            expect(etcd2.name).to.equal(member.name);
            expect(etcd2.initial_advertise_peer_urls).to.equal(member.peerUrl);
            expect(etcd2.advertise_client_urls).to.equal(member.clientUrl);
            expect(etcd2.listen_peer_urls).to.equal("https://$private_ipv4:2380");
            expect(etcd2.listen_client_urls.split(",")).to.include("https://127.0.0.1:2379");
            // Mutual TLS on both ports, from the files the fetch unit writes before etcd2 starts.
            expect(etcd2).to.deep.include({
                cert_file: `/etc/coreos-cluster/tls/${member.name}-server.pem`,
                key_file: `/etc/coreos-cluster/tls/${member.name}-server-key.pem`,
                trusted_ca_file: "/etc/coreos-cluster/tls/ca.pem",
                client_cert_auth: true,
                peer_cert_file: `/etc/coreos-cluster/tls/${member.name}-peer.pem`,
                peer_key_file: `/etc/coreos-cluster/tls/${member.name}-peer-key.pem`,
                peer_trusted_ca_file: "/etc/coreos-cluster/tls/ca.pem",
                peer_client_cert_auth: true,
            });
            expect((unit(doc, "etcd2.service").drop_ins as Doc[]).map((d) => d.name)).to.deep.equal(["10-tls-fetch.conf", "20-tls-loaded-ca.conf"]);
            expect(etcd2.initial_cluster_state).to.equal("new");
            expect(etcd2.initial_cluster_token).to.equal(plan.clusterToken);
            const listed = (etcd2.initial_cluster as string).split(",").map((entry) => entry.split("=")[0]);
            expect(listed).to.deep.equal(plan.members.map((m) => m.name));
            expect(etcd2).to.not.have.property("discovery");
            expect(etcd2).to.not.have.property("proxy");
            expect(unitNames(doc)).to.deep.equal(["coreos-tls-fetch.service", "coreos-tls-refresh.service", "coreos-tls-refresh.timer", "coreos-log-shipper.service", "etcd2.service", "fleet.socket", "fleet.service"]);
            // fleet's API socket opened to core, the SSH tunnel's user on GCE (sshd opens it as the user it logged in).
            const socket = (doc.coreos as { units: Array<{ name: string; drop_ins?: Array<{ content: string }> }> }).units.find((u) => u.name === "fleet.socket")!;
            expect(socket.drop_ins![0].content).to.equal("[Socket]\nSocketGroup=core\nSocketMode=0660\n");
            expect(unit(doc, "etcd2.service").command).to.equal("start");
            expect(unit(doc, "fleet.service").command).to.equal("start");
            expect(doc.coreos.fleet.metadata).to.equal(`role=etcd,zone=${member.zone},region=europe-west1,cluster=prod,disk=ssd,tier=prod`);
            expect(doc.coreos.fleet.public_ip).to.equal("$private_ipv4");
            expect(doc.coreos.fleet.etcd_servers).to.equal("https://127.0.0.1:2379");
            const fleetTls = { etcd_cafile: "/etc/coreos-cluster/tls/ca.pem", etcd_certfile: "/etc/coreos-cluster/tls/fleet.pem", etcd_keyfile: "/etc/coreos-cluster/tls/fleet-key.pem" };
            expect(doc.coreos.fleet).to.deep.include(fleetTls);
            expect(doc.coreos.locksmith).to.deep.equal({
                endpoint: "https://127.0.0.1:2379",
                ...fleetTls,
                group: "prod-etcd",
                window_start: "Sun 04:00",
                window_length: "2h",
            });
            expect(doc.coreos.update).to.deep.equal({ reboot_strategy: "etcd-lock" });
            expect(doc.ssh_authorized_keys).to.deep.equal(config.ssh.authorizedKeys);
        });
    });

    it("workers run etcd gateway on their loopback to every member's client port (no etcd of their own) and reach etcd through it", () => {
        for (const flavor of FLAVORS) {
            const config = withFlavor(prodConfig(), flavor);
            const plan = planFor(config);
            const worker = renderMachines(config, plan).find((m) => m.role === "worker")!;
            expect(etcdEnvironmentOf(worker.userData), flavor).to.deep.equal({});
            const gateway = unit(parse(worker.userData), "etcd-gateway.service");
            expect(gateway.command).to.equal("start");
            const env = Object.fromEntries(serviceEnvironment(gateway.content, "h").assignments.map((a) => [a.name, a.value]));
            expect(env).to.deep.equal({
                ETCD_GATEWAY_ENDPOINTS: plan.members.map((m) => `${m.privateIp}:2379`).join(","),
                ETCD_GATEWAY_LISTEN_ADDR: "127.0.0.1:2379",
                ETCD_GATEWAY_RETRY_DELAY: "5s",
            });
            expect(gateway.content).to.contain("quay.io/coreos/etcd:v3.5.17 gateway start --endpoints=${ETCD_GATEWAY_ENDPOINTS}");
            const fleet = fleetEnvironmentOf(worker.userData);
            expect(fleet.FLEET_ETCD_SERVERS).to.equal("https://127.0.0.1:2379");
            expect(fleet.FLEET_ETCD_CERTFILE).to.equal("/etc/coreos-cluster/tls/fleet.pem");
            expect(fleet.FLEET_PUBLIC_IP).to.equal("$private_ipv4");
            const doc = parse(worker.userData);
            expect(doc, "a template has no fixed hostname").to.not.have.property("hostname");
        }
    });

    it("GCE worker template: zone-less fleet metadata plus a unit that adds the zone before fleet starts", () => {
        for (const flavor of FLAVORS) {
            const config = withFlavor(prodConfig(), flavor);
            const worker = renderMachines(config, planFor(config)).find((m) => m.role === "worker")!;
            const doc = parse(worker.userData);
            expect(fleetEnvironmentOf(worker.userData).FLEET_METADATA).to.equal("role=worker,region=europe-west1,cluster=prod,disk=ssd,tier=prod");
            const names = unitNames(doc);
            expect(names.indexOf("fleet-zone.service")).to.be.lessThan(names.indexOf("fleet.service"));
            const zoneDropIn = (unit(doc, "fleet.service").drop_ins as Doc[]).find((d) => d.name === "30-zone.conf")!;
            expect(zoneDropIn.content).to.contain("Requires=fleet-zone.service").and.contain("After=fleet-zone.service");
            expect(zoneDropIn.content).to.contain("EnvironmentFile=/run/fleet/zone.env");
            const script = (doc.write_files as Doc[]).find((f) => f.path === "/opt/bin/fleet-zone")!;
            expect(script.permissions).to.equal("0755");
            expect(script.content).to.contain("Metadata-Flavor: Google").and.contain("computeMetadata/v1/instance/zone");
            // The metadata around the zone is the unit's environment; the script only reads it.
            expect(script.content).to.contain(`printf 'FLEET_METADATA=%s%s%s\\n' "$before" "$zone" "$after"`);
            expect(script.content).to.not.contain("europe-west1").and.not.contain("tier=prod");
            expect(serviceEnvironment(unit(doc, "fleet-zone.service").content, "h").assignments).to.deep.equal([
                { name: "FLEET_METADATA_BEFORE_ZONE", value: "role=worker,zone=" },
                { name: "FLEET_METADATA_AFTER_ZONE", value: ",region=europe-west1,cluster=prod,disk=ssd,tier=prod" },
            ]);
        }
    });

    it("local workers keep their static zone and need no zone lookup", () => {
        const config = localConfig();
        for (const m of renderMachines(config, planFor(config)).filter((x) => x.role === "worker")) {
            expect(fleetEnvironmentOf(m.userData).FLEET_METADATA).to.equal("role=worker,zone=local-a,region=local,cluster=local");
            expect(m.userData).to.not.contain("fleet-zone");
        }
    });

    it("the local platform binds each machine's own loopback IP and uses no platform variables", () => {
        const config = localConfig();
        const plan = planFor(config);
        const machines = renderMachines(config, plan);
        for (const m of machines) expect(m.userData, m.fileName).to.not.contain("$private_ipv4");
        for (const m of machines.filter((x) => x.role === "etcd")) {
            expect(JSON.stringify([etcdEnvironmentOf(m.userData), fleetEnvironmentOf(m.userData)]), m.fileName).to.not.contain("127.0.0.1");
        }
        const member = etcdEnvironmentOf(machines[1].userData);
        expect(member.ETCD_LISTEN_CLIENT_URLS).to.equal(plan.members[1].clientUrl);
        expect(member.ETCD_LISTEN_PEER_URLS).to.equal(plan.members[1].peerUrl);
        // A worker's gateway is on its own loopback: each local machine has one in its namespace.
        expect(machines[3].userData).to.not.contain("$private_ipv4");
        expect(fleetEnvironmentOf(machines[3].userData).FLEET_ETCD_SERVERS).to.equal("https://127.0.0.1:2379");
    });

    it("never uses $public_ipv4 when VMs have no external IP (and not otherwise either)", () => {
        for (const flavor of FLAVORS) {
            for (const config of [prodConfig(), gcpConfig({ externalIps: true }), localConfig()]) {
                const c = withFlavor(config, flavor);
                for (const m of renderMachines(c, planFor(c))) expect(m.userData, `${flavor} ${m.name}`).to.not.contain("public_ipv4");
            }
        }
    });

    it("discovery bootstrap replaces the static list on members and workers", () => {
        const url = "https://discovery.example.test/abc123";
        for (const flavor of FLAVORS) {
            const config = withFlavor(gcpConfig({ etcd: { discoveryUrl: url } }), flavor);
            for (const m of renderMachines(config, planFor(config)).filter((x) => x.role === "etcd")) {
                const env = etcdEnvironmentOf(m.userData);
                expect(env.ETCD_DISCOVERY, m.name).to.equal(url);
                expect(env).to.not.have.property("ETCD_INITIAL_CLUSTER");
                expect(env).to.not.have.property("ETCD_INITIAL_CLUSTER_TOKEN");
            }
        }
    });

    it("flatcar: etcd-member drop-in, pinned image, v2 API, verified fleet under /opt, locksmithd env", () => {
        const config = prodConfig({ etcd: { version: "3.4.34" } });
        const plan = planFor(config);
        const member = parse(renderMachines(config, plan)[0].userData);
        expect(member.coreos).to.not.have.property("etcd2");
        expect(member.coreos).to.not.have.property("fleet");
        expect(unit(member, "etcd-member.service").command).to.equal("start");
        const etcd = dropInEnv(member, "etcd-member.service");
        expect(etcd.ETCD_IMAGE_TAG).to.equal("v3.4.34");
        expect(etcd.ETCD_ENABLE_V2).to.equal("true");
        expect(etcd.ETCD_INITIAL_CLUSTER).to.equal(plan.initialCluster);
        const install = (member.write_files as Doc[]).find((f) => f.path === "/opt/bin/fleet-install")!;
        expect(install.content).to.match(/sha256sum -c -/);
        expect(install.content.indexOf("sha256sum -c")).to.be.lessThan(install.content.indexOf("tar -xzf"));
        expect(unit(member, "fleet.service").content).to.contain("ExecStart=/opt/fleet/current/fleetd").and.contain("Requires=fleet-install.service");
        for (const file of member.write_files as Doc[]) expect(file.path.startsWith("/usr"), file.path).to.equal(false);
        expect(dropInEnv(member, "locksmithd.service")).to.deep.equal({
            LOCKSMITHD_ENDPOINT: "https://127.0.0.1:2379",
            LOCKSMITHD_ETCD_CAFILE: "/etc/coreos-cluster/tls/ca.pem",
            LOCKSMITHD_ETCD_CERTFILE: "/etc/coreos-cluster/tls/fleet.pem",
            LOCKSMITHD_ETCD_KEYFILE: "/etc/coreos-cluster/tls/fleet-key.pem",
            LOCKSMITHD_GROUP: "prod-etcd",
            REBOOT_WINDOW_START: "Sun 04:00",
            REBOOT_WINDOW_LENGTH: "2h",
        });
        expect(unit(member, "locksmithd.service").command).to.equal("restart");
        const off = gcpConfig({ updates: { rebootStrategy: "off" } });
        const offDoc = parse(renderMachines(off, planFor(off))[0].userData);
        expect(offDoc.coreos.update.reboot_strategy).to.equal("off");
        expect(unit(offDoc, "locksmithd.service")).to.not.have.property("command");
    });

    it("both flavors give every machine the same etcd and fleet environment (one model, two emitters)", () => {
        for (const [label, base] of scenarios) {
            const config = withFlavor(base, "flatcar");
            const plan = planFor(config);
            // Members: workers have no etcd of their own (their gateway is a unit).
            for (const model of buildMachineModels(config, plan).filter((m) => m.role === "etcd")) {
                const flatcar = renderModel(model, "flatcar");
                const classic = renderModel(model, "container-linux");
                const flatcarEtcd = etcdEnvironmentOf(flatcar);
                const classicEtcd = etcdEnvironmentOf(classic);
                expect(Object.keys(classicEtcd).length, label).to.be.greaterThan(3);
                const { ETCD_IMAGE_TAG, ETCD_ENABLE_V2, ...sameVariables } = flatcarEtcd;
                expect(ETCD_IMAGE_TAG).to.equal("v3.5.17");
                expect(ETCD_ENABLE_V2).to.equal("true");
                expect(sameVariables, `${label} ${model.name}`).to.deep.equal(classicEtcd);
                expect(fleetEnvironmentOf(flatcar), `${label} ${model.name}`).to.deep.equal(fleetEnvironmentOf(classic));
            }
        }
    });

    it("after $private_ipv4 substitution a member's listen URLs bind its planned address", () => {
        const config = prodConfig();
        const plan = planFor(config);
        const text = substituteAddresses(renderMachines(config, plan)[2].userData, { privateIpv4: plan.members[2].privateIp });
        const env = etcdEnvironmentOf(text);
        expect(env.ETCD_LISTEN_PEER_URLS).to.equal(plan.members[2].peerUrl);
        expect(env.ETCD_LISTEN_CLIENT_URLS).to.equal(`${plan.members[2].clientUrl},https://127.0.0.1:2379`);
        expect(substituteAddresses("a \\$private_ipv4 b $public_ipv4.", { privateIpv4: "10.0.0.1" })).to.equal("a $private_ipv4 b .");
    });

    it("is deterministic and hashes user-data as sha256 hex", () => {
        const config = prodConfig();
        const a = renderMachines(config, planFor(config));
        const b = renderMachines(prodConfig(), planFor(prodConfig()));
        expect(a).to.deep.equal(b);
        expect(userDataHash("abc")).to.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        expect(userDataHash(a[0].userData)).to.not.equal(userDataHash(a[1].userData));
    });

    it("refuses user-data over GCE's 256 KiB metadata limit, naming the config key, the machine and the limit", () => {
        const key = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5${"A".repeat(500)} user@example`;
        const config = gcpConfig({ ssh: { authorizedKeys: Array.from({ length: 600 }, () => key) } });
        expect(() => renderMachines(config, planFor(config))).to.throw(
            /coreos-cluster:sshAuthorizedKeys: user-data of machine demo-etcd-0 \(etcd-0\.yaml\) would be \d+ bytes, over GCE's limit of 262144 bytes \(256 KiB\)/,
        );
        expect(GCE_USER_DATA_LIMIT_BYTES).to.equal(256 * 1024);
        // Just under the limit still renders.
        const fewer = gcpConfig({ ssh: { authorizedKeys: Array.from({ length: 380 }, () => key) } });
        const machines = renderMachines(fewer, planFor(fewer));
        expect(Math.max(...machines.map((m) => Buffer.byteLength(m.userData)))).to.be.greaterThan(200_000).and.at.most(GCE_USER_DATA_LIMIT_BYTES);
    });

    it("refuses etcd versions without the v2 API and fleet metadata that overrides the product's keys", () => {
        const config = gcpConfig({ etcd: { version: "v3.6.0" } });
        expect(() => renderMachines(config, planFor(config))).to.throw(/coreos-cluster:etcdVersion.*v2 API/);
        const bad = gcpConfig({ fleet: { metadata: { role: "db" } } });
        expect(() => renderMachines(bad, planFor(bad))).to.throw(/"role" \(coreos-cluster:fleetMetadata\)/);
        const comma = gcpConfig({ fleet: { metadata: { disk: "ssd,role=x" } } });
        expect(() => renderMachines(comma, planFor(comma))).to.throw(/coreos-cluster:fleetMetadata/);
    });

    it("refuses to hand a VM a config the validator rejects", () => {
        // A unit-file value with a line break cannot be expressed in an Environment= line.
        const config = gcpConfig({ fleet: { metadata: {} }, etcd: { discoveryUrl: "https://d.example.test/x\nEvil=1" } });
        expect(() => renderMachines(config, planFor(config))).to.throw(/coreos-cluster:etcdDiscoveryUrl: .*contains a line feed/);
        // A value the types forbid but plain JS could pass: the validator guard stops it before any VM sees it.
        const removed = gcpConfig({ updates: { rebootStrategy: "best-effort" as never } });
        expect(() => renderMachines(removed, planFor(removed))).to.throw(
            /cloud-config of machine demo-etcd-0 \(etcd-0\.yaml\) is invalid:\n.*line \d+: error: coreos\.update\.reboot_strategy: invalid value "best-effort"/,
        );
    });

    describe("fleet on Flatcar needs a pinned release", () => {
        it("without coreos-cluster:fleetRelease, Flatcar machines carry no fleet (nothing unverified is installed)", () => {
            const config = gcpConfig({ fleet: { release: undefined } });
            delete (config.fleet as { release?: unknown }).release;
            for (const machine of renderMachines(config, planFor(config))) {
                expect(validateCloudConfig(machine.userData).errors).to.deep.equal([]);
                // (the fetch unit names fleet.service only in its Before= ordering, which needs no such unit)
                expect(unitNames(parse(machine.userData))).not.to.include("fleet.service");
                expect(machine.userData).not.to.contain("fleet-install");
                if (machine.role === "etcd") expect(unitNames(parse(machine.userData))).to.include("etcd-member.service");
                else expect(unitNames(parse(machine.userData))).to.include("etcd-gateway.service");
            }
        });

        it("with a pinned release, every machine installs exactly that tarball after checking its sha256", () => {
            const config = gcpConfig();
            for (const machine of renderMachines(config, planFor(config))) {
                expect(machine.userData).to.contain("fleet.service");
                const doc = parse(machine.userData);
                expect(serviceEnvironment(unit(doc, "fleet-install.service").content, "h").assignments).to.deep.equal([
                    { name: "FLEET_RELEASE_VERSION", value: config.fleet.release!.version },
                    { name: "FLEET_RELEASE_URL", value: config.fleet.release!.url },
                    { name: "FLEET_RELEASE_SHA256", value: config.fleet.release!.sha256 },
                ]);
            }
        });
    });
});


describe("fleet's API socket (issue 23: the tunnel's user could not open it)", () => {
    it("Flatcar's own fleet.socket is 0660 for the group core, the SSH tunnel's user on GCE", () => {
        const socket = fleetUnits({ version: "v1.0.0", url: "https://example.com/fleet.tar.gz", sha256: "7e57".repeat(16) }).socket.content!;
        expect(socket.split("\n")).to.include.members(["ListenStream=/var/run/fleet.sock", "SocketMode=0660", `SocketGroup=${FLEET_SOCKET_GROUP}`]);
        expect(FLEET_SOCKET_GROUP).to.equal("core");
    });
});
