import { expect } from "chai";
import { faultToleranceTable, failureTolerance, majority, memberCountChangeProblems } from "../../model/quorum";
import { validateConfig } from "../../model/validate";
import { gcpRaw } from "./raw-configs";

describe("model/quorum: etcd sizing arithmetic", () => {
    it("matches the fault-tolerance table of the sizing guide", () => {
        const rows: Array<[number, number, number]> = [[1, 1, 0], [3, 2, 1], [4, 3, 1], [5, 3, 2], [6, 4, 2], [7, 4, 3], [8, 5, 3]];
        for (const [size, maj, tolerance] of rows) {
            expect([majority(size), failureTolerance(size)], `size ${size}`).to.deep.equal([maj, tolerance]);
        }
        const table = faultToleranceTable();
        expect(table).to.match(/cluster size \| majority \| failure tolerance/);
        for (const [size, maj, tolerance] of rows) expect(table).to.match(new RegExp(`\\b${size} \\|\\s+${maj} \\| ${tolerance}\\b`));
    });
});

describe("model/quorum: member count changes on a deployed cluster", () => {
    it("accepts an unchanged count", () => {
        expect(memberCountChangeProblems(5, 5, false)).to.deep.equal([]);
        expect(memberCountChangeProblems(1, 1, true)).to.deep.equal([]);
    });

    it("refuses a change by an even number, with the reasoning and the table", () => {
        for (const [from, to] of [[3, 5], [5, 3], [3, 7], [1, 3]]) {
            const problems = memberCountChangeProblems(from, to, true);
            expect(problems, `${from}->${to}`).to.have.length(1);
            expect(problems[0].key).to.equal("coreos-cluster:etcdCount");
            expect(problems[0].message).to.match(new RegExp(`from ${from} to ${to} \\(by ${Math.abs(to - from)}, an even number\\) is refused`));
            expect(problems[0].message).to.match(/one member at a time/).and.to.match(/failure tolerance/);
        }
    });

    it("refuses a change that leaves an even count", () => {
        const problems = memberCountChangeProblems(3, 4, true);
        expect(problems.map((p) => p.message).join("\n")).to.match(/4 members need a majority of 3 and tolerate 1 failure, no more than 3/);
    });

    it("refuses going below 3 members outside dev, and allows it reasoned on dev", () => {
        const prod = memberCountChangeProblems(3, 1, false).map((p) => p.message).join("\n");
        expect(prod).to.match(/outside a dev stack the cluster keeps at least 3 members/);
        const dev = memberCountChangeProblems(3, 1, true).map((p) => p.message).join("\n");
        expect(dev).to.not.match(/outside a dev stack/);
        expect(dev).to.match(/an even number/); // 3 -> 1 is still a change by 2
    });

    it("is applied by validateConfig when the deployed count is known", () => {
        const changed = validateConfig(gcpRaw({ etcdCount: 5 }), "dev", { deployedMemberCount: 3 });
        expect(changed.config).to.equal(undefined);
        expect(changed.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:etcdCount"]);
        expect(changed.problems[0].message).to.match(/from 3 to 5/);
        const same = validateConfig(gcpRaw({ etcdCount: 3 }), "dev", { deployedMemberCount: 3 });
        expect(same.problems).to.deep.equal([]);
    });
});
