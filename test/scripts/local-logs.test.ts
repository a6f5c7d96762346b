// `npm run local -- logs`: every machine's log lines merged in time order (scripts/local/log-merge.ts),
// and which files belong to which machine (scripts/local/log-files.ts).
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { entriesOf, mergeLogs, selectMachines, timestampOf } from "../../scripts/local/log-merge";
import { logFilesOf } from "../../scripts/local/log-files";
import { localViewFixture } from "./local-fixtures";

describe("npm run local -- logs: merging (scripts/local/log-merge.ts)", () => {
    it("reads the times of every format the local machines write", () => {
        expect(timestampOf("2026-12-06T19:30:01.123Z router: loaded revision 7")).to.equal(Date.parse("2026-12-06T19:30:01.123Z"));
        expect(timestampOf("--- 2026-12-06T19:30:00.000Z starting etcd for local-etcd-0")).to.equal(Date.parse("2026-12-06T19:30:00.000Z"));
        // etcd 3.4's capnslog: local time, microseconds.
        expect(timestampOf("2026-12-06 19:30:01.123456 I | etcdserver: published")).to.equal(new Date(2026, 11, 6, 19, 30, 1, 123).getTime());
        expect(timestampOf('{"level":"info","ts":"2026-12-06T19:30:02.5Z","msg":"ready"}')).to.equal(Date.parse("2026-12-06T19:30:02.500Z"));
        expect(timestampOf("2026-12-06T19:30:03Z exited (143); restarting in 1 s")).to.equal(Date.parse("2026-12-06T19:30:03Z"));
        expect(timestampOf("Server listening on 10.213.10.10 port 22.")).to.equal(undefined);
        expect(timestampOf("[NOTICE]   (42) : New worker (43) forked")).to.equal(undefined);
    });

    it("interleaves the files by time, each line prefixed with its machine and process in one column", () => {
        const lines = mergeLogs([
            { label: "local-etcd-0 etcd", lines: ["2026-12-06T10:00:01Z a1", "2026-12-06T10:00:03Z a3", ""] },
            { label: "local-worker-1 router", lines: ["2026-12-06T10:00:02Z b2", "2026-12-06T10:00:04Z b4"] },
        ]);
        expect(lines).to.deep.equal([
            "local-etcd-0 etcd     | 2026-12-06T10:00:01Z a1",
            "local-worker-1 router | 2026-12-06T10:00:02Z b2",
            "local-etcd-0 etcd     | 2026-12-06T10:00:03Z a3",
            "local-worker-1 router | 2026-12-06T10:00:04Z b4",
        ]);
    });

    it("keeps a line without a time after the line before it in its file (never reorders a file)", () => {
        const lines = mergeLogs([
            { label: "a sshd", lines: ["--- 2026-12-06T10:00:00Z starting sshd", "Server listening on 10.0.0.1 port 22.", "Accepted publickey for root"] },
            { label: "b lb", lines: ["2026-12-06T09:59:59Z early", "2026-12-06T10:00:01Z later"] },
        ]);
        expect(lines.map((l) => l.split(" | ")[1])).to.deep.equal(["2026-12-06T09:59:59Z early", "--- 2026-12-06T10:00:00Z starting sshd", "Server listening on 10.0.0.1 port 22.", "Accepted publickey for root", "2026-12-06T10:00:01Z later"]);
        // Before any time of its own a line takes the source's carry (what -f uses: the time it was read).
        expect(entriesOf({ label: "x", lines: ["no time", "2026-12-06T10:00:00Z t"], carry: 5 }).map((e) => e.at)).to.deep.equal([5, Date.parse("2026-12-06T10:00:00Z")]);
    });

    it("keeps the sources' order for equal times", () => {
        const lines = mergeLogs([
            { label: "b", lines: ["2026-12-06T10:00:00Z from b"] },
            { label: "a", lines: ["2026-12-06T10:00:00Z from a"] },
        ]);
        expect(lines).to.deep.equal(["b | 2026-12-06T10:00:00Z from b", "a | 2026-12-06T10:00:00Z from a"]);
    });

    it("chooses one machine by its full name or its tail", () => {
        const machines = [{ name: "local-etcd-0" }, { name: "local-worker-1" }, { name: "local-worker-10" }];
        expect(selectMachines(machines, undefined)).to.have.length(3);
        expect(selectMachines(machines, "worker-1")).to.deep.equal([{ name: "local-worker-1" }]);
        expect(selectMachines(machines, "local-etcd-0")).to.deep.equal([{ name: "local-etcd-0" }]);
        expect(selectMachines(machines, "nope")).to.deep.equal([]);
    });
});

describe("npm run local -- logs: the files (scripts/local/log-files.ts)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "local-logs-test-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("finds every *.log under each machine's root, the bastion's sshd and the load balancer, labelled", () => {
        const view = localViewFixture();
        const rebased = JSON.parse(JSON.stringify(view).split("/repo/.local-machines").join(tmp));
        const touch = (rel: string) => {
            fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
            fs.writeFileSync(path.join(tmp, rel), "x\n");
        };
        for (const f of ["local-etcd-0/etcd.log", "local-worker-1/etcd.log", "local-worker-1/router.log", "local-worker-1/run/haproxy.log", "local-worker-1/data/member.wal", "local-etcd-0-sshd/sshd.log", "local-ingress/load-balancer.log"]) touch(f);
        expect(logFilesOf(rebased).map((f) => f.label)).to.deep.equal([
            "local-etcd-0 etcd",
            "local-worker-1 etcd",
            "local-worker-1 router",
            "local-worker-1 haproxy",
            "local-etcd-0 sshd",
            "local-ingress load-balancer",
        ]);
        expect(logFilesOf(rebased, "etcd-0").map((f) => f.label)).to.deep.equal(["local-etcd-0 etcd", "local-etcd-0 sshd"]);
        expect(() => logFilesOf(rebased, "worker-7")).to.throw(/no machine named worker-7: local-etcd-0, .*local-ingress/);
    });
});
