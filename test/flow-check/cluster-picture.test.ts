// The picture of a stack (flow-check/cluster-picture.ts) and the command a pull request runs.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import YAML from "yaml";
import { pictureDiff, pictureMarkdown } from "../../flow-check/cluster-picture";
import { pictureOf, runPictureCli } from "../../scripts/picture";

const ROOT = path.resolve(__dirname, "../..");

/** Every node id an edge uses is declared (as a node or a subgraph): what Mermaid needs to draw it. */
function undeclaredEndpoints(mermaid: string): string[] {
    const declared = new Set<string>();
    for (const m of mermaid.matchAll(/^\s*(?:subgraph\s+)?([A-Za-z0-9_]+)\["/gm)) declared.add(m[1]);
    const used: string[] = [];
    for (const m of mermaid.matchAll(/^\s*([A-Za-z0-9_]+)\s+-\.?->\|[^|]*\|\s+([A-Za-z0-9_]+)\s*$/gm)) used.push(m[1], m[2]);
    return used.filter((u) => !declared.has(u));
}

describe("flow-check/cluster-picture: the cluster drawn from the plan", () => {
    for (const stack of ["dev", "prod", "local"]) {
        it(`${stack}: members by zone, the workers, the balancer and its ports, the flows and the routes`, () => {
            const p = pictureOf(stack, ROOT);
            const raw = YAML.parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config;
            expect(p.mermaid.split("\n")[0]).to.equal("flowchart LR");
            expect(undeclaredEndpoints(p.mermaid)).to.deep.equal([]);
            expect(p.mermaid.match(/^\s+[a-z0-9_]+_etcd_\d+\["/gm)).to.have.length(Number(raw["coreos-cluster:etcdCount"]));
            for (const zone of raw["coreos-cluster:zones"] ?? []) expect(p.mermaid).to.contain(`["${zone}"]`);
            expect(p.mermaid).to.match(/lb\["load balancer<br\/>tcp 80/);
            expect(p.mermaid).to.match(/workers -->\|"tcp 2379/);
            for (const s of raw["coreos-cluster:services"] ?? []) expect(p.routes.join("\n")).to.contain(`${s.name} (${s.scheme})`);
            expect(p.firewall.some((l) => /-ssh: /.test(l))).to.equal(true);
            // Nothing a label could use to break out of its quotes.
            for (const line of p.mermaid.split("\n")) expect((line.match(/"/g) ?? []).length % 2, line).to.equal(0);
        });
    }

    it("the README shows the local stack's picture as the command draws it today", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const shown = /## The picture[\s\S]*?```mermaid\n([\s\S]*?)```/.exec(readme)?.[1];
        expect(shown, "a mermaid block under README's \"The picture\"").to.be.a("string");
        expect(shown).to.equal(`${pictureOf("local", ROOT).mermaid}\n`);
    });

    it("says what a change does to the firewall and the routes", () => {
        const base = { firewall: ["a: x -> y tcp/22", "b: z -> y tcp/80"], routes: ["web (http): ... -> 10.0.0.1:80"] };
        const head = { firewall: ["a: x -> y tcp/22", "c: 0.0.0.0/0 -> y tcp/6379"], routes: ["web (http): ... -> 10.0.0.2:80"] };
        expect(pictureDiff(base, head)).to.deep.equal({
            firewall: ["- b: z -> y tcp/80", "+ c: 0.0.0.0/0 -> y tcp/6379"],
            routes: ["- web (http): ... -> 10.0.0.1:80", "+ web (http): ... -> 10.0.0.2:80"],
        });
        const md = pictureMarkdown("dev", { mermaid: "flowchart LR", ...head }, { mermaid: "flowchart LR", ...base });
        expect(md).to.contain("```mermaid\nflowchart LR\n```").and.contain("```diff\n# firewall\n- b: z -> y tcp/80\n+ c: 0.0.0.0/0 -> y tcp/6379\n# routes");
        expect(pictureMarkdown("dev", { mermaid: "flowchart LR", ...head }, { mermaid: "flowchart LR", ...head })).to.contain("Nothing: the same rules and routes as the base.");
    });

    it("the command compares with a base branch's stack file: a public database shows as a firewall change", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "picture-base-"));
        try {
            // The base: dev as it is but redis internal; HEAD's file is the repo's. Here the base differs the other way: redis public.
            const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace("      host_port: 6379", "      host_port: 6379\n      public: true");
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), text);
            const out = path.join(dir, "picture.md");
            const logs: string[] = [];
            expect(runPictureCli(["--stack", "dev", "--base", dir, "--out", out], { log: (l) => logs.push(l), error: (l) => logs.push(l) }), logs.join("\n")).to.equal(0);
            const md = fs.readFileSync(out, "utf8");
            expect(md).to.match(/^- coreos-dev-ingress: 0\.0\.0\.0\/0 -> tag:coreos-dev-worker tcp\/80,6379$/m);
            expect(md).to.match(/^\+ coreos-dev-ingress: 0\.0\.0\.0\/0 -> tag:coreos-dev-worker tcp\/80$/m);
            expect(md).to.match(/^\+ coreos-dev-ingress-internal: 10\.10\.0\.0\/24 -> tag:coreos-dev-worker tcp\/6379$/m);
            expect(md).to.match(/^\+ redis \(tcp\): tcp :6379 \(VPC only\)/m);
            // A base that cannot be read is said, not fatal.
            fs.rmSync(path.join(dir, "Pulumi.dev.yaml"));
            expect(runPictureCli(["--stack", "dev", "--base", dir, "--out", out], { log: () => undefined, error: () => undefined })).to.equal(0);
            expect(fs.readFileSync(out, "utf8")).to.contain("could not be drawn for a comparison");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses bad arguments with the usage", () => {
        const errors: string[] = [];
        expect(runPictureCli(["--nope"], { log: () => undefined, error: (l) => errors.push(l) })).to.equal(2);
        expect(errors.join("\n")).to.match(/usage: npm run picture/);
    });
});
