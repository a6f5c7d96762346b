// Faults on the real Pulumi engine (issue 7), against a real 3-member etcd on 127.0.13.10-12 secured
// as in production (test/support/secure-etcd.ts: mutual TLS on both ports, v3 auth on), with a small
// program (cases/seed-program) that registers services with the product's ServiceRegistration,
// connecting as `deployer` (its key a secret of the stack) under /services, where that identity may write:
//   - one member down during `pulumi up`: the deploy succeeds (failover);
//   - two members down: the deploy fails with a quorum error naming the endpoints, the state is
//     intact, nothing changed in etcd, and after the members return `pulumi up` converges;
//   - the engine killed mid-seeding: after `pulumi cancel` + `pulumi refresh`, `pulumi up` converges
//     and etcd holds exactly the declared keys (none missing, orphaned or duplicated).
// Each stack lives in a scratch folder with its own DIY backend; the repo's stacks are never touched.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { Etcd3 } from "etcd3";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../support/secure-etcd";
import { engineTestsDisabled, findEngine, PulumiStack, REPO_ROOT, StateResource } from "../support/engine";

const PROGRAM = path.join(__dirname, "cases", "seed-program");
const OWNERS = "/coreos-cluster/owners";
const REGISTRATION_TYPE = "pulumi-nodejs:dynamic/coreos-cluster:ServiceRegistration";

/** A scratch project: Pulumi.yaml copied, the program and node_modules linked, its own stack file. */
function seedProject(parent: string, stack: string, config: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(parent, "seed-"));
    fs.copyFileSync(path.join(PROGRAM, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.symlinkSync(path.join(PROGRAM, "index.ts"), path.join(dir, "index.ts"));
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    writeStackConfig(dir, stack, config);
    return dir;
}

/** Sets these keys in the stack file; the others (the secret key, the encryption salt) stay. */
function writeStackConfig(dir: string, stack: string, config: Record<string, unknown>): void {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const doc = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) ?? {} : {};
    doc.config = { ...(doc.config ?? {}), ...Object.fromEntries(Object.entries(config).map(([k, v]) => [`reliability-seed:${k}`, v])) };
    fs.writeFileSync(file, YAML.stringify(doc));
}

/** What the program declares for `count` services under `prefix` with hosts variant `variant`. */
function declaredKeys(count: number, prefix: string, variant = 0): Record<string, string> {
    const keys: Record<string, string> = {};
    for (let i = 0; i < count; i++) {
        const root = `${prefix}/svc-${i}`;
        keys[`${root}/scheme`] = i % 2 === 0 ? "http" : "tcp";
        keys[`${root}/hosts/0`] = `10.${variant}.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`;
        if (i % 2 === 1) keys[`${root}/host_port`] = String(9000 + i);
    }
    return keys;
}

/** Every pid below `root` (children first found through /proc ppid links). */
function descendants(root: number): number[] {
    const parentOf = new Map<number, number>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            /* exited meanwhile */
        }
    }
    const found: number[] = [];
    const walk = (pid: number) => {
        for (const [child, parent] of parentOf) {
            if (parent === pid && !found.includes(child)) {
                found.push(child);
                walk(child);
            }
        }
    };
    walk(root);
    return found;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("reliability on the real engine: etcd faults and an interrupted deploy (127.0.13.10-12) @engine", function () {
    this.timeout(20 * 60 * 1000);
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let scratch: string;
    const stacks: PulumiStack[] = [];

    async function listing(prefix: string): Promise<Record<string, string>> {
        return etcd.getAll().prefix(prefix).strings();
    }

    function stackOf(stack: string, config: Record<string, unknown>): PulumiStack {
        const dir = seedProject(scratch, stack, config);
        const s = new PulumiStack({ engine: findEngine(), backendDir: path.join(dir, ".backend"), projectDir: dir, stack, transpileOnly: true });
        stacks.push(s);
        return s;
    }

    /** ensure(), then the deployer's identity as the stack's providers hold it: the key set with --secret. */
    async function ensureWithIdentity(stack: PulumiStack): Promise<void> {
        await stack.ensure();
        const tls = cluster.identity("deployer");
        writeStackConfig(stack.projectDir, stack.stack, { etcdTls: { ca: tls.ca, cert: tls.cert } });
        // "--" ends the flags: a PEM key starts with dashes.
        await stack.run(["config", "set", "--stack", stack.stack, "--secret", "--path", "--non-interactive", "--", "etcdTls.key", tls.key]);
    }

    before(async function () {
        if (engineTestsDisabled()) return this.skip();
        findEngine();
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-engine-"));
        cluster = await startSecureEtcdCluster({ size: 3, firstAddress: "127.0.13.10" });
        // root observes the whole keyspace; the program writes as deployer.
        etcd = cluster.client("root", { dialTimeout: 10000 });
    });

    afterEach(async function () {
        if (!cluster) return;
        for (let i = 0; i < cluster.members.length; i++) await cluster.startMember(i);
    });

    after(async function () {
        etcd?.close();
        await cluster?.stop();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    describe("member faults during pulumi up (stack `faults`, 6 services under /services/faults)", () => {
        const count = 6;
        const prefix = "/services/faults";
        let stack: PulumiStack;
        const config = (variant: number) => ({ endpoints: [] as string[], count, prefix, hostsVariant: variant, timeoutMs: 2000, retries: 1 });

        before(async function () {
            if (!cluster) return this.skip();
            stack = stackOf("faults", { ...config(0), endpoints: cluster.endpoints });
            await ensureWithIdentity(stack);
            await stack.up();
            expect(await listing(`${prefix}/`)).to.deep.equal(declaredKeys(count, prefix, 0));
        });

        it("one of three members down: pulumi up updates every service through the others", async () => {
            await cluster.stopMember(0); // the first endpoint: every call must fail over
            writeStackConfig(stack.projectDir, "faults", { ...config(1), endpoints: cluster.endpoints });
            const result = await stack.up();
            expect(result.stdout).to.match(new RegExp(`${count} updated`));
            await cluster.startMember(0);
            expect(await listing(`${prefix}/`)).to.deep.equal(declaredKeys(count, prefix, 1));
        });

        it("two of three down: pulumi up fails saying quorum is lost and naming the endpoints; state and etcd unchanged; up converges once they return", async () => {
            // The registrations, decrypted: every checkpoint write re-encrypts secrets with a fresh nonce
            // (and the provider resource records the stack config, which this run changes).
            const registrations = async () => {
                const exported = await stack.run(["stack", "export", "--stack", "faults", "--show-secrets", "--non-interactive"]);
                const resources: StateResource[] = JSON.parse(exported.stdout).deployment.resources ?? [];
                return resources.filter((r) => r.type === REGISTRATION_TYPE).map((r) => ({ urn: r.urn, id: r.id, outputs: r.outputs }));
            };
            const stateBefore = await registrations();
            expect(stateBefore).to.have.length(count);
            const keysBefore = await listing("/");
            await cluster.stopMember(0);
            await cluster.stopMember(1);
            writeStackConfig(stack.projectDir, "faults", { ...config(2), endpoints: cluster.endpoints });
            const failed = await stack.up([], { allowFailure: true });
            const output = failed.stdout + failed.stderr;
            expect(failed.code, output.slice(-3000)).to.not.equal(0);
            expect(output).to.match(/lost quorum/);
            for (const endpoint of cluster.endpoints) expect(output).to.contain(endpoint);
            expect(output).to.contain("2000 ms timeout per call");

            // The state file is intact: same resources, ids and outputs as before the failed run.
            const stateAfter = await registrations();
            expect(stateAfter).to.deep.equal(stateBefore);

            await cluster.startMember(0);
            await cluster.startMember(1);
            expect(await listing("/"), "nothing was written while quorum was lost").to.deep.equal(keysBefore);

            // No manual step: the same `pulumi up` again.
            await stack.up();
            expect(await listing(`${prefix}/`)).to.deep.equal(declaredKeys(count, prefix, 2));
            await stack.destroy();
            expect(await listing(`${prefix}/`)).to.deep.equal({});
            expect(await listing(`${OWNERS}${prefix}/`)).to.deep.equal({});
        });
    });

    describe("the engine killed mid-seeding (stack `seed`, 100 services under /services/seeded)", () => {
        const count = 100;
        const prefix = "/services/seeded";
        let stack: PulumiStack;
        let killedAt = -1;
        let pendingAfterKill: string[] = [];

        before(async function () {
            if (!cluster) return this.skip();
            stack = stackOf("seed", { endpoints: cluster.endpoints, count, prefix, timeoutMs: 3000, retries: 1 });
            await ensureWithIdentity(stack);
        });

        it("SIGKILL of the engine (and every process it started) mid-up leaves no partial service in etcd", async () => {
            const up = childProcess.spawn(stack.engine.pulumi, ["up", "--stack", "seed", "--non-interactive", "--yes", "--skip-preview", "--suppress-progress", "--color", "never"], {
                cwd: stack.projectDir,
                env: stack.env,
                detached: true,
                stdio: ["ignore", "ignore", "ignore"],
            });
            const exited = new Promise<void>((resolve) => up.once("close", () => resolve()));
            let markers = 0;
            while (up.exitCode === null && markers < count / 4) {
                await sleep(100);
                markers = Object.keys(await listing(`${OWNERS}${prefix}/`)).length;
            }
            expect(up.exitCode, "the up was still running when killed").to.equal(null);
            // The engine starts its plugins (language host, dynamic provider) in their own process groups:
            // kill the whole tree by pid, as a CI runner cancelling the job would.
            const tree = [up.pid!, ...descendants(up.pid!)];
            for (const pid of tree) {
                try {
                    process.kill(pid, "SIGKILL");
                } catch {
                    /* already gone */
                }
            }
            await exited;
            await sleep(1000);
            killedAt = markers;

            const state = await stack.exportState();
            pendingAfterKill = (state.pending_operations ?? []).map((p: any) => `${p.type} ${String(p.resource?.urn).split("::").pop()}`);
            const keys = await listing(`${prefix}/`);
            const owners = await listing(`${OWNERS}${prefix}/`);
            const services = new Set(Object.keys(keys).map((k) => k.slice(prefix.length + 1).split("/")[0]));
            const declared = declaredKeys(count, prefix);
            expect(services.size, "some but not all services were written").to.be.within(1, count - 1);
            for (const service of services) {
                // One transaction per service: all its keys and its marker, or nothing.
                const want = Object.fromEntries(Object.entries(declared).filter(([k]) => k.startsWith(`${prefix}/${service}/`)));
                const got = Object.fromEntries(Object.entries(keys).filter(([k]) => k.startsWith(`${prefix}/${service}/`)));
                expect(got, service).to.deep.equal(want);
                expect(owners[`${OWNERS}${prefix}/${service}`], `owner marker of ${service}`).to.be.a("string");
            }
            expect(Object.keys(owners).length).to.equal(services.size);
        });

        it("after pulumi cancel and pulumi refresh (as the CLI documents), pulumi up converges with exactly the declared keys", async () => {
            expect(killedAt, "the kill step ran").to.be.greaterThan(0);
            const locked = await stack.up([], { allowFailure: true });
            const cancel = locked.code !== 0 && /locked/.test(locked.stdout + locked.stderr) ? await stack.run(["cancel", "--stack", "seed", "--yes", "--non-interactive"]) : undefined;
            await stack.refresh();
            const converged = await stack.up([], { allowFailure: true });
            const output = converged.stdout + converged.stderr;
            expect(
                converged.code,
                `pulumi up after cancel${cancel ? "" : " (not needed)"} + refresh failed; pending creates after the kill: ${pendingAfterKill.join(", ") || "none"}\n${output.slice(-4000)}`,
            ).to.equal(0);
            await assertExactlyDeclared();
        });

        it("once converged, the deployment is stable: preview --expect-no-changes passes and etcd still holds exactly the declared keys", async () => {
            expect(killedAt, "the kill step ran").to.be.greaterThan(0);
            // Fails (non-zero exit) if the engine would change anything.
            await stack.preview(["--expect-no-changes"]);
            await assertExactlyDeclared();
        });

        /** Keys, markers and state agree: none missing, none orphaned, none duplicated. */
        async function assertExactlyDeclared(): Promise<void> {
            const declared = declaredKeys(count, prefix);
            expect(await listing(`${prefix}/`)).to.deep.equal(declared);
            const owners = await listing(`${OWNERS}${prefix}/`);
            const registrations: StateResource[] = (await stack.resources()).filter((r) => r.type === REGISTRATION_TYPE);
            expect(registrations).to.have.length(count);
            const ids = new Set(registrations.map((r) => r.id));
            expect(ids.size, "one resource id per service").to.equal(count);
            expect(Object.keys(owners)).to.have.length(count);
            for (const [key, value] of Object.entries(owners)) {
                const marker = JSON.parse(value);
                expect(ids.has(marker.owner), `${key} is owned by ${marker.owner}, a resource of this stack`).to.equal(true);
            }
        }
    });
});
