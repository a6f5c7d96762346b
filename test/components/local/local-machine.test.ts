// LocalMachine's dynamic provider against real etcd (Debian's etcd-server) on 127.0.8.x:
// the renderer's user-data for both OS flavors boots a 3-member cluster over mutual TLS (certificates
// from the local secret store, fetched at boot) and a worker whose etcd gateway listens on the
// loopback (one worker per flavor: without namespaces every gateway would take 127.0.0.1:2379),
// a killed member is noticed by read and restarted by update, delete leaves nothing behind.
// Every process here is started by the provider and stopped by pid.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { renderMachines } from "../../../cloud-config";
import { planCluster } from "../../../model/plan";
import { loadConfig } from "../../../model/validate";
import type { OsFlavor } from "../../../model/types";
import { waitClusterReady } from "../../../components/local/cluster-readiness-provider";
import { LocalMachineInputs, LocalMachineState, localMachineProvider as provider } from "../../../components/local/local-machine";
import { planCheckedBefore } from "../../../components/local/local-machine-provider";
import { isMachineEtcd, memberHealthy } from "../../../components/local/processes";
import { cleanupLocalMachines } from "../../../components/local/cleanup";
import { requireEtcdBinaries } from "../../support/etcd-cluster";
import { localMachineSpecs } from "../../../components/local/local-cluster";
import { localTls } from "../../support/local-tls";

/** The deployer's identity as files and PEM texts, for etcdctl and the v2 reads (set per cluster). */
let creds: { dir: string; ca: string; cert: string; key: string } | undefined;
/** Every folder machineInputs wrote the deployer's key to: all removed when the file's tests end. */
const credsDirs: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(100);
    }
}

function etcdctlHealth(endpoint: string): { ok: boolean; output: string } {
    const tlsArgs = creds ? [`--cacert=${creds.dir}/ca.pem`, `--cert=${creds.dir}/cert.pem`, `--key=${creds.dir}/key.pem`] : [];
    const res = spawnSync("etcdctl", [...tlsArgs, "--endpoints", endpoint, "--command-timeout=5s", "endpoint", "health"], {
        encoding: "utf8",
        env: { ...process.env, ETCDCTL_API: "3" },
    });
    return { ok: res.status === 0 && /is healthy/.test(res.stdout + res.stderr), output: res.stdout + res.stderr };
}

function v2(method: "GET" | "PUT", url: string, body?: string): Promise<{ status: number; json: any }> {
    return new Promise((resolve, reject) => {
        const transport: typeof http = url.startsWith("https:") ? require("https") : http;
        const tls = url.startsWith("https:") && creds ? { ca: creds.ca, cert: creds.cert, key: creds.key, agent: false } : {};
        const req = transport.request(
            url,
            { method, headers: body ? { "content-type": "application/x-www-form-urlencoded" } : {}, timeout: 5000, ...tls },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
            },
        );
        req.on("timeout", () => req.destroy(new Error(`timeout ${method} ${url}`)));
        req.on("error", reject);
        if (body) req.write(body);
        req.end();
    });
}

/** Renders the local stack for one flavor and turns every machine into provider inputs. */
function machineInputs(flavor: OsFlavor, firstAddress: string, root: string): LocalMachineInputs[] {
    // Machines on their own, outside any VPC, on loopback: validated on a VPC address, then moved
    // (a stack cannot ask for loopback; LocalCluster's VPC is tested in vpc.test.ts and the engine tests).
    const validated = loadConfig(
        { platform: "local", clusterName: `lm-${flavor === "flatcar" ? "fc" : "cl"}`, localFirstAddress: "10.213.8.100", localWorkers: 1, osFlavor: flavor, osImage: "image", fleetRelease: { sha256: "7e57".repeat(16) } },
        "local",
    );
    const config = { ...validated, local: { ...validated.local, firstAddress } };
    const plan = planCluster(config);
    // The cluster's certificates, in the local secret store each machine fetches its own from.
    const tls = localTls(config, plan, root);
    const id = tls.identity("deployer");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-machine-creds-"));
    credsDirs.push(dir);
    for (const [f, t] of [["ca.pem", id.ca], ["cert.pem", id.cert], ["key.pem", id.key]]) fs.writeFileSync(path.join(dir, f), t, { mode: 0o600 });
    creds = { dir, ...id };
    return localMachineSpecs(config, plan, renderMachines(config, plan), root).map((spec) => ({ ...spec, providerVersion: "test", tlsStore: tls.tlsStoreOf(spec) }));
}

async function create(inputs: LocalMachineInputs): Promise<LocalMachineState> {
    const checked = await provider.check!({} as any, inputs);
    expect(checked.failures ?? []).to.deep.equal([]);
    const result = await provider.create!(inputs);
    expect(result.id).to.equal(inputs.name);
    return result.outs as LocalMachineState;
}

describe("local platform: LocalMachine on real etcd (127.0.8.x)", function () {
    this.timeout(180000);
    before(() => requireEtcdBinaries());
    after(() => {
        for (const dir of credsDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    });

    const flavors: Array<[OsFlavor, string]> = [
        ["container-linux", "127.0.8.10"],
        ["flatcar", "127.0.8.30"],
    ];
    for (const [flavor, firstAddress] of flavors) {
        describe(`${flavor}: 3 members over mutual TLS + a worker's gateway from the rendered user-data`, () => {
            let root: string;
            let states: LocalMachineState[] = [];
            const startedPids: number[] = [];
            const members = () => states.filter((s) => s.role === "etcd");
            const proxies = () => states.filter((s) => s.role === "worker");

            before(async () => {
                root = fs.mkdtempSync(path.join(os.tmpdir(), "local-machine-"));
                const inputs = machineInputs(flavor, firstAddress, root);
                // Members all at once (none can be healthy alone), then the proxies, as LocalCluster orders them.
                const created = await Promise.all(inputs.filter((i) => i.role === "etcd").map(create));
                created.push(...(await Promise.all(inputs.filter((i) => i.role === "worker").map(create))));
                states = created;
                startedPids.push(...states.map((s) => s.pid!));
                await waitClusterReady({
                    cluster: flavor,
                    memberClientUrls: members().map((m) => m.clientUrl),
                    proxyUrls: proxies().map((p) => p.clientUrl),
                    memberProbeTls: members().map((m) => m.probeTls),
                    proxyProbeTls: proxies().map((p) => p.probeTls),
                    pids: [],
                    timeoutSeconds: 60,
                    providerVersion: "test",
                });
            });

            after(async () => {
                // Safety net if a test failed midway: stop whatever the provider still runs, by pid.
                for (const s of states) await provider.delete!(s.name, s).catch(() => undefined);
                for (const pid of startedPids) if (isMachineEtcd(pid, states.find((s) => s.pid === pid)?.dataDir ?? "")) process.kill(pid, "SIGKILL");
                fs.rmSync(root, { recursive: true, force: true });
                if (creds) fs.rmSync(creds.dir, { recursive: true, force: true });
            });

            it("runs each machine as its own detached etcd with a pid file, a log and the data dir under its root", () => {
                expect(states.map((s) => s.mode)).to.deep.equal(["member", "member", "member", "proxy"]);
                for (const s of states) {
                    expect(s.running).to.equal(true);
                    expect(isMachineEtcd(s.pid, s.dataDir)).to.equal(true);
                    expect(fs.readFileSync(path.join(s.root, "etcd.pid"), "utf8").trim()).to.equal(String(s.pid));
                    expect(s.dataDir.startsWith(s.root + "/var/lib/")).to.equal(true);
                    expect(fs.existsSync(s.logFile)).to.equal(true);
                    expect(s.clientUrl).to.equal(s.mode === "member" ? `https://${s.address}:2379` : "https://127.0.0.1:2379");
                    expect(fs.existsSync(path.join(s.root, "etc/coreos-cluster/tls/ca.pem")), "fetched before etcd").to.equal(true);
                    expect(s.ignored.join("\n")).to.include("fleet.service");
                }
                if (flavor === "flatcar") {
                    // write_files land under the machine's own root, with their permissions.
                    const installer = path.join(states[0].root, "opt/bin/fleet-install");
                    expect(fs.statSync(installer).mode & 0o777).to.equal(0o755);
                }
            });

            it("etcdctl endpoint health succeeds on every member", () => {
                for (const m of members()) {
                    const health = etcdctlHealth(m.clientUrl);
                    expect(health.ok, health.output).to.equal(true);
                }
            });

            it("a v2 write through the worker's gateway is read back from a member; without a certificate the gateway gives nothing", async () => {
                const saved = creds;
                creds = undefined;
                const anonymous = await v2("GET", `${proxies()[0].clientUrl}/v2/keys/`).catch((e: Error) => e.message);
                creds = saved;
                expect(anonymous, "no answer without a client certificate").to.be.a("string");
                for (const [i, p] of proxies().entries()) {
                    const put = await v2("PUT", `${p.clientUrl}/v2/keys/local-test/${flavor}-${i}`, `value=through-${p.name}`);
                    expect(put.status, JSON.stringify(put.json)).to.be.oneOf([200, 201]);
                    const got = await v2("GET", `${members()[i % 3].clientUrl}/v2/keys/local-test/${flavor}-${i}?quorum=true`);
                    expect(got.json?.node?.value, JSON.stringify(got.json)).to.equal(`through-${p.name}`);
                }
            });

            it("a killed member: read reports it not running, diff asks for an update, update restarts it healthy", async () => {
                const victim = members()[1];
                const oldPid = victim.pid!;
                process.kill(oldPid, "SIGKILL");
                await eventually("the killed member to be gone", () => !isMachineEtcd(oldPid, victim.dataDir));

                const read = await provider.read!(victim.name, victim);
                const refreshed = read.props as LocalMachineState;
                expect(refreshed.running).to.equal(false);
                expect(refreshed).to.not.have.property("pid");

                const { pid: _p, running: _r, clientUrl: _c, dataDir: _d, logFile: _l, mode: _m, ignored: _i, ...inputs } = refreshed;
                const diff = await provider.diff!(victim.name, refreshed, inputs);
                expect(diff.changes).to.equal(true);
                expect(diff.replaces).to.deep.equal([]);

                const dataFiles = fs.readdirSync(victim.dataDir);
                const updated = (await provider.update!(victim.name, refreshed, inputs)).outs as LocalMachineState;
                expect(updated.running).to.equal(true);
                expect(updated.pid).to.not.equal(oldPid);
                expect(isMachineEtcd(updated.pid, updated.dataDir)).to.equal(true);
                expect(fs.readdirSync(updated.dataDir)).to.include.members(dataFiles);
                startedPids.push(updated.pid!);
                states = states.map((s) => (s.name === victim.name ? updated : s));

                await eventually("the restarted member to be healthy", () => memberHealthy(updated.clientUrl, 1500, undefined, updated.probeTls));
                const health = etcdctlHealth(updated.clientUrl);
                expect(health.ok, health.output).to.equal(true);
                // It rejoined with its data: the key written before the kill is readable from it.
                const got = await v2("GET", `${updated.clientUrl}/v2/keys/local-test/${flavor}-0?quorum=true`);
                expect(got.json?.node?.value, JSON.stringify(got.json)).to.match(/^through-/);
            });

            it("read of a running machine keeps its pid, and diff sees no change", async () => {
                const m = members()[0];
                const read = (await provider.read!(m.name, m)).props as LocalMachineState;
                expect(read.pid).to.equal(m.pid);
                expect(read.running).to.equal(true);
                const { pid: _p, running: _r, clientUrl: _c, dataDir: _d, logFile: _l, mode: _m, ignored: _i, ...inputs } = read;
                expect((await provider.diff!(m.name, read, inputs)).changes).to.equal(false);
                const renamed = await provider.diff!(m.name, read, { ...inputs, userData: inputs.userData.split(m.name).join(`${m.name}x`) });
                expect(renamed.replaces).to.deep.equal(["userData"]);
                expect(renamed.deleteBeforeReplace).to.equal(true);
                expect((await provider.diff!(m.name, read, { ...inputs, address: "127.0.8.99" })).replaces).to.deep.equal(["address"]);
            });

            it("a user-data change that keeps the etcd identity restarts the machine in place, with its data", async () => {
                const m = members()[2];
                const { pid: _p, running: _r, clientUrl: _c, dataDir: _d, logFile: _l, mode: _m, ignored: _i, ...inputs } = m;
                expect(inputs.userData).to.include("reboot_strategy: etcd-lock");
                const news = { ...inputs, userData: inputs.userData.replace("reboot_strategy: etcd-lock", 'reboot_strategy: "off"') };
                const startsBefore = fs.readFileSync(m.logFile, "utf8").split("starting etcd for").length;
                const diff = await provider.diff!(m.name, m, news);
                expect(diff.changes).to.equal(true);
                expect(diff.replaces).to.deep.equal([]);
                const updated = (await provider.update!(m.name, m, news)).outs as LocalMachineState;
                startedPids.push(updated.pid!);
                states = states.map((s) => (s.name === m.name ? updated : s));
                expect(updated.pid).to.not.equal(m.pid);
                expect(isMachineEtcd(m.pid, m.dataDir)).to.equal(false);
                expect(fs.readFileSync(m.logFile, "utf8").split("starting etcd for").length).to.equal(startsBefore + 1);
                await eventually("the restarted member to be healthy", () => memberHealthy(updated.clientUrl, 1500, undefined, updated.probeTls));
                const got = await v2("GET", `${updated.clientUrl}/v2/keys/local-test/${flavor}-0?quorum=true`);
                expect(got.json?.node?.value, JSON.stringify(got.json)).to.match(/^through-/);
            });

            it("delete stops every process it started and removes each machine's data", async () => {
                // The secret store is LocalTlsStore's (destroyed with the stack); without it the machines' folder empties.
                fs.rmSync(path.join(root, "tls-store"), { recursive: true, force: true });
                for (const s of [...proxies(), ...members()]) await provider.delete!(s.name, s);
                for (const pid of startedPids) {
                    expect(fs.existsSync(`/proc/${pid}`) && fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("etcd"), `pid ${pid}`).to.equal(false);
                }
                for (const s of states) expect(fs.existsSync(s.root), s.root).to.equal(false);
                expect(fs.existsSync(root), "the emptied data dir is removed too").to.equal(false);
                states = [];
            });
        });
    }

    describe("boot failures", () => {
        let root: string;
        const single = (address: string) => `#cloud-config
coreos:
  etcd2:
    name: solo
    initial_advertise_peer_urls: http://$private_ipv4:2380
    listen_peer_urls: http://0.0.0.0:2380
    listen_client_urls: http://0.0.0.0:2379
    advertise_client_urls: http://$private_ipv4:2379
    initial_cluster: solo=http://${address}:2380
  units:
    - name: etcd2.service
      command: start
`;
        beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "local-machine-err-"))));
        afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

        it("check and create refuse unbootable user-data naming the machine and the key, starting nothing", async () => {
            const inputs: LocalMachineInputs = {
                name: "broken-0",
                role: "etcd",
                address: "127.0.8.50",
                userData: "#cloud-config\ncoreos:\n  units:\n    - name: etcd2.service\n      command: start\n",
                root: path.join(root, "broken-0"),
                flavor: "container-linux",
                providerVersion: "test",
            };
            const checked = await provider.check!({} as any, inputs);
            expect(checked.failures?.[0].reason).to.include("machine broken-0").and.include("coreos.etcd2");
            let error: Error | undefined;
            await provider.create!(inputs).catch((e) => (error = e));
            expect(error?.message).to.include("machine broken-0").and.include("coreos.etcd2");
            expect(fs.existsSync(inputs.root)).to.equal(false);
        });

        it("check refuses a worker whose user-data boots a member", async () => {
            const checked = await provider.check!({} as any, {
                name: "w", role: "worker", address: "127.0.8.51", userData: single("127.0.8.51"), root: path.join(root, "w"), providerVersion: "test",
            });
            expect(checked.failures?.map((f) => f.reason).join()).to.include("role worker but its user-data boots an etcd member");
        });

        it("check plans once per input: it repeats no plan it made for the same inputs under the same provider code, and plans again for any change", async () => {
            // Unbootable user-data: planning it fails, so a check that plans says so.
            const broken = {
                name: "broken-1", role: "etcd", address: "127.0.8.54", userData: "#cloud-config\ncoreos:\n  units: []\n", root: path.join(root, "broken-1"),
                flavor: "container-linux", providerVersion: "test", __provider: "code-a",
            };
            const failuresOf = async (olds: object, news: object) => ((await provider.check!(olds as any, news as any)).failures ?? []).map((f) => f.reason);
            // The first check (nothing before) and every change plan, and refuse.
            expect(await failuresOf({}, broken)).to.have.length(1);
            expect(await failuresOf({ ...broken, __provider: "code-b" }, broken), "other provider code").to.have.length(1);
            expect(await failuresOf({ ...broken, userData: "#cloud-config\n" }, broken), "other user-data").to.have.length(1);
            expect(await failuresOf({ ...broken, __provider: undefined }, { ...broken, __provider: undefined }), "no provider code").to.have.length(1);
            // The same inputs under the same code: what olds hold is what this check accepted before (the engine stores
            // inputs only after their check passed), so it is not planned again.
            expect(await failuresOf(broken, { ...broken })).to.deep.equal([]);
            // The cheap type checks still run every time.
            expect(await failuresOf({ ...broken, role: "gateway" }, { ...broken, role: "gateway" })).to.deep.equal(["role must be etcd or worker"]);
        });

        it("planCheckedBefore compares every input the plan reads, and the provider code", () => {
            const olds = { name: "m", role: "etcd", address: "10.0.0.1", userData: "u", root: "/r", flavor: "flatcar", tlsStore: { dir: "/t", secretId: "s" }, __provider: "code" };
            expect(planCheckedBefore(olds, { ...olds })).to.equal(true);
            expect(planCheckedBefore(olds, { ...olds, tlsStore: { dir: "/t", secretId: "s" } }), "an equal object").to.equal(true);
            expect(planCheckedBefore(olds, { ...olds, startTimeoutSeconds: 9 }), "an input the plan does not read").to.equal(true);
            for (const key of ["name", "role", "address", "userData", "root", "flavor", "tlsStore", "__provider"] as const) {
                expect(planCheckedBefore(olds, { ...olds, [key]: key === "tlsStore" ? { dir: "/other" } : "other" }), key).to.equal(false);
                expect(planCheckedBefore(olds, { ...olds, [key]: undefined }), `${key} absent`).to.equal(false);
            }
            expect(planCheckedBefore(undefined, olds)).to.equal(false);
            expect(planCheckedBefore({}, olds)).to.equal(false);
        });

        it("a second machine on a taken address is refused before anything starts; the first keeps running", async () => {
            const first = await create({ name: "solo-a", role: "etcd", address: "127.0.8.52", userData: single("127.0.8.52"), root: path.join(root, "a"), providerVersion: "test" });
            try {
                await eventually("the single member to be healthy", () => memberHealthy(first.clientUrl));
                let error: Error | undefined;
                const clash: LocalMachineInputs = { name: "solo-b", role: "etcd", address: "127.0.8.52", userData: single("127.0.8.52"), root: path.join(root, "b"), providerVersion: "test" };
                await provider.create!(clash).catch((e) => (error = e));
                expect(error?.message).to.equal("machine solo-b: http://127.0.8.52:2379 is already in use by another process (another machine on 127.0.8.52?); nothing was started");
                expect(fs.existsSync(path.join(root, "b/etcd.pid"))).to.equal(false);
                expect(isMachineEtcd(first.pid, first.dataDir)).to.equal(true);
            } finally {
                await provider.delete!(first.name, first);
            }
            expect(isMachineEtcd(first.pid, first.dataDir)).to.equal(false);
            expect(fs.existsSync(first.root)).to.equal(false);
        });

        it("an etcd that exits while starting fails create with its log tail and leaves no data dir", async () => {
            const bad = single("127.0.8.53").replace("    initial_cluster: solo=", "    initial_cluster_state: sideways\n    initial_cluster: solo=");
            const inputs: LocalMachineInputs = { name: "solo-c", role: "etcd", address: "127.0.8.53", userData: bad, root: path.join(root, "c"), providerVersion: "test" };
            let error: Error | undefined;
            await provider.create!(inputs).catch((e) => (error = e));
            expect(error?.message).to.match(/^machine solo-c: etcd \(pid \d+\) exited while starting; log .*etcd\.log:/);
            expect(error?.message).to.include("sideways");
            expect(fs.existsSync(path.join(root, "c/var/lib/etcd2"))).to.equal(false);
            expect(fs.existsSync(path.join(root, "c/etcd.log"))).to.equal(true);
            const pid = Number(fs.readFileSync(path.join(root, "c/etcd.pid"), "utf8"));
            expect(isMachineEtcd(pid, path.join(root, "c/var/lib/etcd2"))).to.equal(false);
        });

        it("cleanup (state lost) stops a machine by its pid file and removes only marked folders", async () => {
            const lost = await create({ name: "lost", role: "etcd", address: "127.0.8.61", userData: single("127.0.8.61"), root: path.join(root, "lost"), providerVersion: "test" });
            fs.mkdirSync(path.join(root, "not-a-machine"));
            try {
                const report = await cleanupLocalMachines(root);
                expect(report.stopped).to.deep.equal([{ machine: "lost", pid: lost.pid }]);
                expect(report.removed).to.deep.equal([lost.root]);
                expect(isMachineEtcd(lost.pid, lost.dataDir)).to.equal(false);
                expect(fs.existsSync(path.join(root, "not-a-machine"))).to.equal(true);
            } finally {
                await provider.delete!(lost.name, lost).catch(() => undefined);
            }
        });

        it("a member is created without its peers (no quorum): running, listening, not yet healthy", async () => {
            const [first] = machineInputs("container-linux", "127.0.8.70", root);
            const alone = await create(first);
            try {
                expect(alone.running).to.equal(true);
                expect(isMachineEtcd(alone.pid, alone.dataDir)).to.equal(true);
                expect(await memberHealthy(alone.clientUrl, 1500, undefined, alone.probeTls)).to.equal(false);
            } finally {
                await provider.delete!(alone.name, alone);
            }
        });
    });
});
