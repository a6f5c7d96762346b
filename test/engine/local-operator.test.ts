// @engine `npm run local`'s operator commands on a real local stack: the summary after up (its curl
// lines work, what did not apply locally is said once, no engine warning), `-- logs` (every machine's
// lines, one machine's, and -f following), and `-- status` (healthy, then a member whose etcd was
// killed by pid and a worker whose router was stopped, as the deployer sees them through the tunnel
// and the load balancer's health checker). Its own scratch stack on 10.213.30.0/24
// (test/support/scratch-local-stack.ts); no timing is asserted, every wait is bounded.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { LocalView } from "../../model/local-view";
import { runCommand, scriptEnv } from "../support/engine";
import { scratchLocalStack, viaLoadBalancer, waitFor } from "../support/scratch-local-stack";
import { readBalancerStatus } from "../../components/local/local-load-balancer-provider";
import { namespaces, records } from "../../components/local/vpc/netns";
import { interfaceName } from "../../components/local/vpc/addressing";

const CLUSTER = "eops";
const RANGE = "10.213.30.";

/** A pid read from a pid file, checked in /proc to be the process we mean before it is signalled. */
function pidOf(file: string, looksRight: (argv: string[]) => boolean): number {
    const pid = parseInt(fs.readFileSync(file, "utf8").trim(), 10);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!looksRight(argv)) throw new Error(`${file}: pid ${pid} is not what it should be (${argv.join(" ")})`);
    return pid;
}

describe("npm run local: the summary, status and logs on the real local stack @engine", function () {
    this.timeout(15 * 60 * 1000);
    const s = scratchLocalStack({ cluster: CLUSTER, range: RANGE, label: "local-operator" });
    let view: LocalView;
    let upText = "";
    const followers: childProcess.ChildProcess[] = [];

    before(async function () {
        const outputs = await s.up();
        view = outputs.localCluster;
        upText = `${s.upRun!.stdout}\n${s.upRun!.stderr}`;
        // For the README's first section, which must match what `npm run local` prints.
        if (process.env.COREOS_CLUSTER_SUMMARY_OUT) fs.writeFileSync(process.env.COREOS_CLUSTER_SUMMARY_OUT, upText);
    });

    after(() => {
        for (const f of followers) {
            try {
                if (f.pid) process.kill(-f.pid, "SIGTERM");
            } catch {
                // already gone
            }
        }
    });

    const status = async () => {
        const run = await s.localSh(["status"], true);
        expect(run.code, run.stderr).to.equal(0);
        return run.stdout;
    };
    const row = (table: string, part: string, name: string) => table.split("\n").find((l) => new RegExp(`^${part}\\s+${name}\\s`).test(l)) ?? "";

    it("ends up with the summary: every machine and the balancer with their addresses, the not-applied count once, no engine warning", () => {
        const stdout = s.upRun!.stdout;
        for (const m of view.machines) expect(stdout).to.match(new RegExp(`^  ${m.name}\\s+${m.address.replace(/\./g, "\\.")}\\s`, "m"));
        expect(stdout).to.match(new RegExp(`^  ${CLUSTER}-ingress\\s+${RANGE.replace(/\./g, "\\.")}2\\s`, "m"));
        expect(upText.match(/not applied on the local platform/gi), "said once").to.have.length(1);
        expect(upText).to.not.contain("from $PATH");
        expect(upText, "no Node deprecation warning (DEP0123: an IP as TLS server name)").to.not.match(/DeprecationWarning/);
        expect(stdout).to.contain("npm run local -- destroy");
    });

    it("the README's first section shows exactly this summary (this stack's name and subnet put back to the local stack's)", () => {
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        const shown = /ends with this summary[^\n]*\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1];
        expect(shown, "README's summary block").to.be.a("string");
        const stdout = s.upRun!.stdout;
        const start = stdout.indexOf("local: the cluster is up");
        const end = stdout.indexOf("\n", stdout.indexOf("Destroy:"));
        const printed = stdout.slice(start, end + 1).split(`${CLUSTER}-`).join("local-").split(RANGE).join("10.213.10.");
        expect(shown).to.equal(printed);
    });

    it("the summary's curl lines work from this machine", async () => {
        const curls = s.upRun!.stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("curl "));
        expect(curls).to.have.length.greaterThan(1);
        for (const line of curls) {
            const run = await runCommand("bash", ["-c", `${line} --silent --show-error --max-time 20`], { cwd: s.scratch, env: process.env, timeoutMs: 30000, allowFailure: true });
            expect(run.code, `${line}: ${run.stderr}`).to.equal(0);
            expect(run.stdout, line).to.match(new RegExp(`^web on ${RANGE.replace(/\./g, "\\.")}1[34]:8080 /`));
        }
    });

    it("status: every member healthy with one leader, every worker in rotation serving the services, the services' hosts", async () => {
        const table = await waitFor("a status with every member and worker healthy", async () => {
            const t = await status();
            return t.split("\n").filter((l) => /^(member|worker)\s/.test(l) && /\s(healthy|router healthy)\s/.test(l)).length === view.machines.length ? t : undefined;
        }, 120000);
        const members = view.machines.filter((m) => m.role === "etcd");
        const leaders = members.filter((m) => /\shealthy\s+leader,/.test(row(table, "member", m.name)));
        expect(leaders, table).to.have.length(1);
        for (const m of members) if (m !== leaders[0]) expect(row(table, "member", m.name)).to.contain(`leader: ${leaders[0].name}`);
        for (const w of view.machines.filter((m) => m.role === "worker")) expect(row(table, "worker", w.name), table).to.match(/router healthy\s+in rotation; serves redis, web/);
        expect(row(table, "balancer", `${CLUSTER}-ingress`)).to.match(/2 of 2 in rotation/);
        expect(row(table, "service", "web")).to.match(new RegExp(`http\\s+2 hosts\\s+${RANGE.replace(/\./g, "\\.")}13:8080, ${RANGE.replace(/\./g, "\\.")}14:8080`));
        expect(row(table, "service", "redis")).to.match(/tcp :6379\s+1 host/);
        expect(table).to.not.match(/BEGIN|PRIVATE KEY/);
    });

    it("logs: lines from every machine, the sshd and the load balancer; one machine's alone", async () => {
        const run = await s.localSh(["logs"]);
        const labels = new Set(run.stdout.split("\n").map((l) => l.split(" | ")[0].trim().split(" ")[0]));
        for (const name of [...view.machines.map((m) => m.name), `${CLUSTER}-ingress`]) expect([...labels], name).to.include(name);
        expect(run.stdout).to.match(new RegExp(`^${view.sshd!.machine} sshd\\s+\\| `, "m"));
        expect(run.stdout).to.match(new RegExp(`^${CLUSTER}-worker-0 router\\s+\\| `, "m"));
        const one = await s.localSh(["logs", "worker-1"]);
        const own = one.stdout.split("\n").filter(Boolean);
        expect(own.length).to.be.greaterThan(0);
        expect(own.every((l) => l.startsWith(`${CLUSTER}-worker-1 `)), one.stdout.slice(0, 2000)).to.equal(true);
    });

    it("status reports a member whose etcd was killed and a worker whose router was stopped; logs -f follows the load balancer saying so", async () => {
        const member = view.machines.find((m) => m.name === `${CLUSTER}-etcd-2`)!;
        const worker = view.machines.find((m) => m.name === `${CLUSTER}-worker-1`)!;
        // Follow the logs first: the balancer's verdict on the worker must show up there.
        let followed = "";
        const follower = childProcess.spawn("bash", [path.join(s.project.dir, "scripts", "local.sh"), "logs", "-f"], { cwd: s.project.dir, env: scriptEnv(s.engine, { PULUMI_NODEJS_TRANSPILE_ONLY: "true" }), detached: true, stdio: ["ignore", "pipe", "pipe"] });
        followers.push(follower);
        follower.stdout!.setEncoding("utf8").on("data", (c: string) => (followed += c));
        await new Promise((r) => setTimeout(r, 5000)); // (not a timing assertion: lets the follower take its offsets)

        const etcdPid = pidOf(path.join(member.root, "etcd.pid"), (argv) => path.basename(argv[0]) === "etcd");
        process.kill(etcdPid, "SIGKILL");
        const routerPid = pidOf(path.join(worker.root, "router.pid"), (argv) => argv.includes("coreos-local-router") && argv.some((a) => a.startsWith(worker.root)));
        process.kill(-routerPid, "SIGTERM"); // the restart loop, the router and its HAProxy: its process group

        const table = await waitFor("a status with the member DOWN and the worker out of rotation", async () => {
            const t = await status();
            return /\sDOWN\s/.test(row(t, "member", member.name)) && /router DOWN\s+OUT of rotation/.test(row(t, "worker", worker.name)) ? t : undefined;
        }, 180000);
        expect(row(table, "member", member.name)).to.match(/DOWN\s+no answer through the tunnel/);
        for (const m of view.machines.filter((x) => x.role === "etcd" && x !== member)) expect(row(table, "member", m.name), table).to.match(/\shealthy\s+leader/);
        expect(row(table, "worker", `${CLUSTER}-worker-0`)).to.match(/router healthy\s+in rotation/);
        expect(row(table, "balancer", `${CLUSTER}-ingress`)).to.match(new RegExp(`1 of 2 in rotation.*in: ${CLUSTER}-worker-0; out: ${CLUSTER}-worker-1`));

        await waitFor("logs -f to show the load balancer taking the worker out", async () => new RegExp(`^${CLUSTER}-ingress load-balancer\\s+\\| .*${worker.name}: unhealthy`, "m").test(followed), 60000);
        process.kill(-follower.pid!, "SIGTERM");
    });

    // Issue 23: after an autoheal, destroy left the bridge and root-side veths, and every later run failed.
    it("after the autohealer recreates the worker, destroy leaves no namespace, link or record, and the next up serves again", async () => {
        const resources = await s.cluster.resources();
        const balancer = resources.find((r) => r.outputs?.autohealing !== undefined && typeof r.outputs?.root === "string")!;
        const worker = `${CLUSTER}-worker-1`;
        await waitFor("the autohealer to recreate the worker whose router was stopped", async () => (readBalancerStatus(balancer.outputs!.root)?.backends[worker]?.recreations ?? 0) > 0, 240000);
        const own = records().filter((r) => r.dataDir.startsWith(s.scratch + path.sep));
        expect(own, "this stack's VPC record").to.have.length(1);
        const destroyed = await s.localSh(["destroy"], true);
        expect(destroyed.code, destroyed.stderr.slice(-2000)).to.equal(0);
        expect(namespaces().filter((n) => n.startsWith(`ccl-${CLUSTER}-`)), "namespaces left").to.deep.equal([]);
        expect(fs.existsSync(`/sys/class/net/${own[0].bridge}`), "bridge left").to.equal(false);
        const veths = own[0].namespaces.map((n) => interfaceName("v", n)).filter((v) => fs.existsSync(`/sys/class/net/${v}`));
        expect(veths, "root-side veths left").to.deep.equal([]);
        expect(records().filter((r) => r.dataDir.startsWith(s.scratch + path.sep)), "records left").to.deep.equal([]);
        const outputs = await s.up();
        await waitFor("web through the load balancer after the new up", async () => /^web on /.test((await viaLoadBalancer(outputs.loadBalancerIp, "/x", "web.example.com")).body), 120000);
    });
});
