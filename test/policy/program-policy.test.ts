// The pack against the real program: index.ts for the dev and prod stacks under the SDK's
// mocks, every registration fed to every policy exactly as the engine would hand it over
// (type, inputs, protect option, the stack's config). The product's own stacks must pass;
// a dev stack that config validation accepts but that opens SSH to the world must not.
import { expect } from "chai";
import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { readStackFile } from "../../model/stack-config";
import { PlainResource, StackContext } from "../../policy/rules/resource-data";
import { stackContextFromEnv } from "../../policy/stack-context";
import { PROJECT, REPO_ROOT, runProgram, toPulumiConfig, unwrapSecrets } from "../support/mocks";
import { policiesFor, resourceArgs, runStackPolicy } from "./policy-harness";

interface Violation {
    policy: string;
    level: string;
    message: string;
}

async function evaluate(stack: string, raw: Record<string, unknown>): Promise<Violation[]> {
    const run = await runProgram({ stack, config: raw, fresh: "all" });
    const resources: PlainResource[] = run.wire.map((w) => ({
        type: w.type,
        name: w.name,
        urn: `urn:pulumi:${stack}::${PROJECT}::${w.type}::${w.name}`,
        props: unwrapSecrets(w.object),
        protect: w.protect,
    }));
    expect(resources.length, "the program registered resources").to.be.above(10);
    // What the engine passes the pack: PULUMI_STACK and PULUMI_CONFIG (full keys, strings).
    const ctx: StackContext = stackContextFromEnv({ PULUMI_STACK: stack, PULUMI_CONFIG: JSON.stringify(toPulumiConfig(raw)) });
    const found: Violation[] = [];
    for (const policy of policiesFor(ctx)) {
        const level = String(policy.enforcementLevel);
        if ("validateStack" in policy && typeof (policy as StackValidationPolicy).validateStack === "function") {
            for (const v of await runStackPolicy(ctx, policy.name, resources)) found.push({ policy: policy.name, level, message: v.message });
            continue;
        }
        const validate = (policy as ResourceValidationPolicy).validateResource;
        if (typeof validate !== "function") throw new Error(`${policy.name}: unexpected validation shape`);
        for (const r of resources) await validate(resourceArgs(r), (message) => found.push({ policy: policy.name, level, message }));
    }
    return found;
}

describe("policy pack against the program under mocks", function () {
    this.timeout(180_000);

    it("passes the prod stack with no violation at all, advisory included", async () => {
        const found = await evaluate("prod", readStackFile("prod", REPO_ROOT));
        expect(found, JSON.stringify(found, null, 2)).to.deep.equal([]);
    });

    it("passes the dev stack with no mandatory violation", async () => {
        const found = await evaluate("dev", readStackFile("dev", REPO_ROOT));
        const mandatory = found.filter((v) => v.level === "mandatory");
        expect(mandatory, JSON.stringify(mandatory, null, 2)).to.deep.equal([]);
    });

    it("fails a dev stack whose config opens SSH to the world (valid config, refused by the pack)", async () => {
        const raw = { ...readStackFile("dev", REPO_ROOT), sshAllowWorld: true, sshSourceRanges: ["0.0.0.0/0"] };
        const found = await evaluate("dev", raw);
        const ssh = found.filter((v) => v.policy === "firewall-no-world-etcd-or-ssh");
        expect(ssh, JSON.stringify(found, null, 2)).to.have.length.at.least(1);
        expect(ssh[0].level).to.equal("mandatory");
        expect(ssh[0].message).to.contain("SSH port 22");
    });
});
