// docs/security.md's identity table says what the code grants: one row per client identity of
// model/pki-plan.ts, naming the role model/etcd-auth.ts gives that user (or saying it has none).
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { CLIENT_IDENTITIES } from "../../model/pki-plan";
import { planEtcdAuth } from "../../model/etcd-auth";
import { OFF_MACHINE_IDENTITIES } from "../../model/pki-delivery";

describe("docs/security.md: the identity table matches the PKI plan and the auth plan", () => {
    const doc = fs.readFileSync(path.join(__dirname, "../../docs/security.md"), "utf8");
    const rows = doc.split("\n").filter((l) => l.startsWith("| `"));
    const rowOf = (cn: string) => rows.find((r) => r.startsWith(`| \`${cn}\``));

    it("has a row for every client identity and the member certificates", () => {
        for (const identity of CLIENT_IDENTITIES) expect(rowOf(identity.commonName), identity.commonName).to.be.a("string");
        expect(rowOf("<member>-server")).to.be.a("string");
        expect(rowOf("<member>-peer")).to.be.a("string");
    });

    it("names each user's role and its grant, and says which identities never reach a machine", () => {
        const auth = planEtcdAuth("/services");
        for (const identity of CLIENT_IDENTITIES) {
            const row = rowOf(identity.commonName)!;
            const user = auth.users.find((u) => u.name === identity.commonName);
            if (!user) {
                expect(row, `${identity.commonName} has no v3 user`).to.match(/no v3 user/);
                continue;
            }
            for (const role of user.roles.filter((r) => r !== "root")) {
                expect(row, `${identity.commonName} role`).to.include(`\`${role}\``);
                const grants = auth.roles.find((r) => r.name === role)!.grants;
                for (const g of grants) expect(row, `${identity.commonName} ${g.permission}`).to.include(`**${g.permission}**`);
            }
            if (identity.jsonGateway) expect(row).to.match(/without CN/);
        }
        for (const cn of OFF_MACHINE_IDENTITIES) expect(rowOf(cn)!, cn).to.not.match(/every worker|every machine/);
        // A member's server certificate is its etcd user too (the refresh's report and restart lock).
        const member = planEtcdAuth("/services", ["demo-etcd-0"]).users.find((u) => u.name === "demo-etcd-0")!;
        for (const role of member.roles) expect(rowOf("<member>-server"), `member role ${role}`).to.include(`\`${role}\``);
    });
});
