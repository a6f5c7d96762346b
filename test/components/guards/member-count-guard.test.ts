import { expect } from "chai";
import { memberCountGuardProvider } from "../../../components/guards/member-count-guard";

const check = (olds: object, memberCount: number, isDev = false) =>
    memberCountGuardProvider.check!(olds, { memberCount, isDev, providerVersion: "1" });

describe("MemberCountGuard (deployed member-count changes)", () => {
    it("accepts the first deployment of any valid count", async () => {
        expect((await check({}, 5)).failures).to.deep.equal([]);
    });

    it("accepts an unchanged count", async () => {
        expect((await check({ memberCount: 5, isDev: false, providerVersion: "1" }, 5)).failures).to.deep.equal([]);
    });

    it("refuses a change by an even number, naming the key and giving the fault-tolerance reasoning", async () => {
        const { failures } = await check({ memberCount: 3, isDev: false, providerVersion: "1" }, 5);
        expect(failures).to.have.length(1);
        expect(failures![0].property).to.equal("memberCount");
        expect(failures![0].reason).to.contain("coreos-cluster:etcdCount");
        expect(failures![0].reason).to.contain("from 3 to 5");
        expect(failures![0].reason).to.match(/Failure Tolerance|tolerat/i);
    });

    it("refuses shrinking below 3 outside dev", async () => {
        const { failures } = await check({ memberCount: 3, isDev: false, providerVersion: "1" }, 1);
        expect(failures!.map((f) => f.reason).join("\n")).to.contain("at least 3 members");
    });

    it("diff reports a count change as an in-place update, never a replacement", async () => {
        const diff = await memberCountGuardProvider.diff!("id", { memberCount: 3, isDev: false, providerVersion: "1" }, { memberCount: 5, isDev: false, providerVersion: "1" });
        expect(diff.changes).to.equal(true);
        expect(diff.replaces).to.deep.equal([]);
    });
});
