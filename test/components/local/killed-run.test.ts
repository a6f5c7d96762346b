// A killed `npm test` leaves its VPC behind (namespaces, bridge, nftables, processes inside): the
// next run's first step (scripts/test.sh: `cleanup.ts --vpcs`) must remove all of it. Real: a
// child builds a VPC on 10.213.22.0/24 in a test scratch folder and is SIGKILLed mid-run.
import { expect } from "chai";
import * as childProcess from "child_process";
import * as fs from "fs";
import * as path from "path";
import { namespaces, readRecord } from "../../../components/local/vpc/netns";
import { requireRoot, sweepTestVpcs } from "./vpc-support";

const REPO = path.resolve(__dirname, "../../..");
const FIRST_ADDRESS = "10.213.22.10";

interface Abandoned {
    bridge: string;
    namespaces: string[];
    guard: string;
    pid: number;
    dataDir: string;
}

/** Running (a zombie nobody reaped yet does not count: it holds nothing). */
function alive(pid: number): boolean {
    try {
        return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return false;
    }
}
const linkExists = (name: string) => fs.existsSync(`/sys/class/net/${name}`);
const nftTables = () => childProcess.execFileSync("/usr/sbin/nft", ["list", "tables"], { encoding: "utf8" });

/** Starts the child that builds the VPC, waits for its report, then kills it with SIGKILL. */
function buildAndKill(): Promise<Abandoned> {
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "fixtures", "abandoned-vpc.ts"), FIRST_ADDRESS], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stderr.on("data", (c) => (err += c));
        child.on("exit", (code, signal) => {
            if (signal !== "SIGKILL") reject(new Error(`the VPC-building child exited (${code ?? signal}) before it was killed: ${err}`));
        });
        child.stdout.on("data", (c) => {
            out += c;
            const line = out.split("\n")[0];
            if (!out.includes("\n")) return;
            const report: Abandoned = JSON.parse(line);
            child.kill("SIGKILL");
            resolve(report);
        });
    });
}

describe("local VPC: what a killed run leaves, the next run removes (real netns, nft, processes)", function () {
    this.timeout(60000);
    let abandoned: Abandoned;

    before(async function () {
        requireRoot();
        await sweepTestVpcs();
        abandoned = await buildAndKill();
    });

    after(async function () {
        await sweepTestVpcs();
    });

    it("the killed run really left its VPC: namespaces, bridge, root guard table, record, a process inside", function () {
        expect(namespaces()).to.include.members(abandoned.namespaces);
        expect(linkExists(abandoned.bridge), abandoned.bridge).to.equal(true);
        expect(nftTables()).to.contain(abandoned.guard);
        expect(readRecord(abandoned.bridge), "the VPC's record").to.not.equal(undefined);
        expect(alive(abandoned.pid), `pid ${abandoned.pid}`).to.equal(true);
        expect(fs.existsSync(abandoned.dataDir)).to.equal(true);
    });

    it("scripts/test.sh's first step (cleanup.ts --vpcs) removes every part of it and says what it removed", function () {
        const r = childProcess.spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "components/local/cleanup.ts", "--vpcs"], { cwd: REPO, encoding: "utf8", timeout: 30000 });
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout).to.contain(`swept VPC ${abandoned.bridge}`);
        expect(r.stdout).to.contain(`swept process ${abandoned.pid}`);
        const left = namespaces().filter((n) => abandoned.namespaces.includes(n));
        expect(left, "namespaces left").to.deep.equal([]);
        expect(linkExists(abandoned.bridge), abandoned.bridge).to.equal(false);
        expect(nftTables()).to.not.contain(abandoned.guard);
        expect(readRecord(abandoned.bridge), "the VPC's record").to.equal(undefined);
        expect(alive(abandoned.pid), `pid ${abandoned.pid}`).to.equal(false);
        expect(fs.existsSync(abandoned.dataDir), abandoned.dataDir).to.equal(false);
    });
});
