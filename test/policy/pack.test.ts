// The pack as a whole: its policy list, how it reads the stack from the engine's
// environment, and the real thing: policy/ started exactly as the engine starts a Node.js
// policy pack (`@pulumi/pulumi/cmd/run-policy-pack <engine-address> .` with the pack folder
// as working directory, TypeScript type-checked by ts-node), then asked over its gRPC
// Analyzer service, as the engine would during `pulumi preview --policy-pack policy`.
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { PROD, etcdMember, policiesFor, runResourcePolicy } from "./policy-harness";
import { stackContextFromEnv, stackFromUrn } from "../../policy/stack-context";
import { TYPES } from "../../policy/rules/resource-data";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require("@grpc/grpc-js");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerService = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const analyzerProto = require("@pulumi/pulumi/proto/analyzer_pb");

const MANDATORY = ["etcd-member-count-odd", "firewall-no-world-etcd-or-ssh", "user-data-within-gce-limit", "prod-etcd-members-protected", "vm-cluster-labels", "worker-group-keeps-capacity"];
const ADVISORY = ["prod-vm-no-external-ip", "no-default-compute-service-account", "reboot-window-set", "firewall-world-database-port"];

describe("policy pack: policy list and stack context", () => {
    it("has the six mandatory and four advisory policies, uniquely named", () => {
        const policies = policiesFor(PROD);
        expect(policies.filter((p) => p.enforcementLevel === "mandatory").map((p) => p.name)).to.have.members(MANDATORY);
        expect(policies.filter((p) => p.enforcementLevel === "advisory").map((p) => p.name)).to.have.members(ADVISORY);
        expect(new Set(policies.map((p) => p.name)).size).to.equal(policies.length);
    });

    it("reads the stack name and only the config keys the rules use (never secrets)", () => {
        const ctx = stackContextFromEnv({
            PULUMI_NODEJS_STACK: "prod",
            PULUMI_CONFIG: JSON.stringify({
                "coreos-cluster:etcdCount": "5",
                "coreos-cluster:rebootWindowStart": "Sun 04:00",
                "coreos-cluster:etcdPassword": "hunter2",
                "coreos-cluster:sshTunnel": '{"privateKey":"-----BEGIN"}',
                "gcp:project": "acme",
            }),
        });
        expect(ctx).to.deep.equal({
            stack: "prod",
            config: { "coreos-cluster:etcdCount": "5", "coreos-cluster:rebootWindowStart": "Sun 04:00" },
        });
        expect(stackContextFromEnv({ PULUMI_STACK: "dev", PULUMI_NODEJS_STACK: "other" }).stack).to.equal("dev");
    });

    it("takes the stack from the resource URN when the engine passed no stack name", async () => {
        expect(stackFromUrn("urn:pulumi:prod::coreos-cluster::gcp:compute/instance:Instance::coreos-etcd-0")).to.equal("prod");
        expect(stackFromUrn("not-a-urn")).to.equal(undefined);
        const member = etcdMember(0, { environment: "prod", protect: false, deletionProtection: false });
        member.props.labels = { cluster: "coreos", role: "etcd" };
        expect(await runResourcePolicy({ config: {} }, "prod-etcd-members-protected", member)).to.have.length(2);
        const devMember = { ...member, urn: member.urn.replace("urn:pulumi:prod::", "urn:pulumi:dev::") };
        expect(await runResourcePolicy({ config: {} }, "prod-etcd-members-protected", devMember)).to.deep.equal([]);
    });

    it("survives an absent or unreadable PULUMI_CONFIG", () => {
        expect(stackContextFromEnv({})).to.deep.equal({ stack: undefined, config: {} });
        expect(stackContextFromEnv({ PULUMI_STACK: "dev", PULUMI_CONFIG: "{not json" })).to.deep.equal({ stack: "dev", config: {} });
    });
});

function call<T>(client: any, method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

function analyzeRequest(type: string, name: string, props: Record<string, unknown>, protect: boolean) {
    const req = new analyzerProto.AnalyzeRequest();
    req.setType(type);
    req.setName(name);
    req.setUrn(`urn:pulumi:prod::coreos-cluster::${type}::${name}`);
    req.setProperties(Struct.fromJavaScript(props as never));
    const opts = new analyzerProto.AnalyzerResourceOptions();
    opts.setProtect(protect);
    req.setOptions(opts);
    return req;
}

interface Diagnostic {
    policy: string;
    level: number;
    message: string;
}

function diagnostics(res: any): Diagnostic[] {
    return res.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: d.getEnforcementlevel(), message: d.getMessage() }));
}

describe("policy pack: loaded by @pulumi/pulumi/cmd/run-policy-pack and queried over gRPC", function () {
    // First load type-checks the pack with ts-node: tens of seconds on a busy machine.
    this.timeout(240_000);
    const policyDir = path.resolve(__dirname, "../../policy");
    let pack: ChildProcess | undefined;
    let client: any;
    let stderr = "";

    before(async () => {
        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [policyDir] });
        pack = spawn(process.execPath, [runner, "127.0.0.1:1", "."], {
            cwd: policyDir,
            env: {
                ...process.env,
                PULUMI_STACK: "prod",
                PULUMI_CONFIG: JSON.stringify({ "coreos-cluster:etcdCount": "4", "coreos-cluster:etcdPassword": "hunter2-secret" }),
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        pack.stderr!.on("data", (d) => (stderr += String(d)));
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            pack!.stdout!.on("data", (d) => {
                out += String(d);
                const m = /^(\d+)\s*$/m.exec(out);
                if (m) resolve(Number(m[1]));
            });
            pack!.on("exit", (code) => reject(new Error(`policy pack exited with ${code} before serving:\n${stderr}`)));
        });
        client = new analyzerService.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        if (pack?.pid && pack.exitCode === null) process.kill(pack.pid, "SIGTERM");
    });

    it("announces the pack with its nine policies and their enforcement levels", async () => {
        const info: any = await call(client, "getAnalyzerInfo", new Empty());
        expect(info.getName()).to.equal("coreos-cluster");
        expect(info.getVersion()).to.equal("0.1.0");
        const levels = new Map<string, number>(info.getPoliciesList().map((p: any) => [p.getName(), p.getEnforcementlevel()]));
        for (const name of MANDATORY) expect(levels.get(name), name).to.equal(analyzerProto.EnforcementLevel.MANDATORY);
        for (const name of ADVISORY) expect(levels.get(name), name).to.equal(analyzerProto.EnforcementLevel.ADVISORY);
    });

    it("fails a firewall that opens SSH to the world with a mandatory diagnostic", async () => {
        const req = analyzeRequest(TYPES.firewall, "coreos-ssh", { direction: "INGRESS", sourceRanges: ["0.0.0.0/0"], allows: [{ protocol: "tcp", ports: ["22"] }] }, false);
        const found = diagnostics(await call(client, "analyze", req));
        expect(found).to.have.length(1);
        expect(found[0]).to.include({ policy: "firewall-no-world-etcd-or-ssh", level: analyzerProto.EnforcementLevel.MANDATORY });
    });

    it("judges protection by the resource options and the stack name the engine passed (prod)", async () => {
        const props = { labels: { cluster: "coreos", role: "etcd" }, deletionProtection: true, networkInterfaces: [{ subnetwork: "s" }] };
        const unprotected = diagnostics(await call(client, "analyze", analyzeRequest(TYPES.instance, "coreos-etcd-0", props, false)));
        expect(unprotected.map((d) => d.policy)).to.include("prod-etcd-members-protected");
        const protectedMember = diagnostics(await call(client, "analyze", analyzeRequest(TYPES.instance, "coreos-etcd-0", props, true)));
        expect(protectedMember.map((d) => d.policy)).to.not.include("prod-etcd-members-protected");
    });

    it("checks the stack with the engine's config (etcdCount 4) and never echoes secret config", async () => {
        const req = new analyzerProto.AnalyzeStackRequest();
        req.setResourcesList([]);
        const found = diagnostics(await call(client, "analyzeStack", req));
        const count = found.find((d) => d.policy === "etcd-member-count-odd");
        expect(count, JSON.stringify(found)).to.not.equal(undefined);
        expect(count!.level).to.equal(analyzerProto.EnforcementLevel.MANDATORY);
        expect(count!.message).to.contain("has 4 etcd members");
        expect(JSON.stringify(found) + stderr).to.not.contain("hunter2-secret");
    });
});
