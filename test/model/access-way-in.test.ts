// Defect (1) of issue 14: a GCE stack that declares services or fleet units must say how the
// providers get into the VPC, and the SSH tunnel's key can come from the environment (CI) so that
// no stack file ever holds it.
import { expect } from "chai";
import * as crypto from "crypto";
import { validateConfig } from "../../model/validate";
import { readStackFile } from "../../model/stack-config";
import { markPlaintextSecrets } from "../../model/config-reader";
import { gcpRaw, TEST_PRIVATE_KEY } from "./raw-configs";

const keysOf = (raw: Record<string, unknown>, env?: Record<string, string | undefined>) => {
    const result = validateConfig(raw, "dev", { env });
    return { ...result, keys: result.problems.map((p) => p.key), text: result.problems.map((p) => `${p.key}: ${p.message}`).join("\n") };
};

describe("model/validate: a GCE stack with services or fleet units needs a way in", () => {
    it("refuses services without sshTunnel or etcdEndpoints, naming both keys", () => {
        const r = keysOf(gcpRaw({ sshTunnel: {}, fleetUnits: [], fleetRelease: {} }));
        expect(r.config).to.equal(undefined);
        expect(r.keys).to.deep.equal(["coreos-cluster:sshTunnel"]);
        expect(r.text).to.contain("coreos-cluster:sshTunnel").and.contain("coreos-cluster:etcdEndpoints").and.contain("start-iap-tunnel");
    });

    it("refuses fleet units without sshTunnel (etcdEndpoints do not reach fleet)", () => {
        const r = keysOf(gcpRaw({ sshTunnel: {}, services: [], etcdEndpoints: ["http://10.10.0.2:2379"] }));
        expect(r.keys).to.deep.equal(["coreos-cluster:sshTunnel"]);
        expect(r.text).to.match(/2 fleet unit\(s\)/);
    });

    it("accepts services with etcdEndpoints reachable from the deployer, and a stack with nothing to push", () => {
        expect(keysOf(gcpRaw({ sshTunnel: {}, fleetUnits: [], fleetRelease: {}, etcdEndpoints: ["http://10.10.0.2:2379"] })).problems).to.deep.equal([]);
        expect(keysOf(gcpRaw({ sshTunnel: {}, fleetUnits: [], fleetRelease: {}, services: [] })).problems).to.deep.equal([]);
    });

    it("does not ask the local platform for a tunnel", () => {
        const local = readStackFile("local");
        expect(validateConfig(local, "local").problems).to.deep.equal([]);
    });

    it("the shipped dev and prod stacks tunnel through IAP's local end, with the key from the environment", () => {
        for (const stack of ["dev", "prod"]) {
            const raw = readStackFile(stack);
            expect(raw.sshTunnel, stack).to.deep.equal({ host: "localhost", port: 2222, username: "core", privateKeyEnv: "COREOS_CLUSTER_SSH_KEY" });
            expect(validateConfig(raw, stack).problems, stack).to.deep.equal([]);
            // IAP's TCP forwarding comes from 35.235.240.0/20: SSH must admit it.
            expect(raw.sshSourceRanges, stack).to.include("35.235.240.0/20");
        }
    });
});

describe("model/validate: sshTunnel.privateKeyEnv", () => {
    const tunnel = { host: "localhost", port: 2222, username: "core", privateKeyEnv: "TUNNEL_KEY" };

    it("reads the key from the environment inside the program, and only there", () => {
        const inProgram = validateConfig(gcpRaw({ sshTunnel: tunnel }), "dev", { env: { TUNNEL_KEY: TEST_PRIVATE_KEY } });
        expect(inProgram.problems).to.deep.equal([]);
        expect(inProgram.config!.access.sshTunnel).to.deep.equal({ host: "localhost", port: 2222, username: "core", privateKey: `${TEST_PRIVATE_KEY.trim()}\n`, privateKeyEnv: "TUNNEL_KEY" });
        // With or without the final newline (`$(cat key)` drops it), the same key reads the same.
        const withNewline = validateConfig(gcpRaw({ sshTunnel: tunnel }), "dev", { env: { TUNNEL_KEY: `${TEST_PRIVATE_KEY.trim()}\n` } });
        expect(withNewline.config!.access.sshTunnel).to.deep.equal(inProgram.config!.access.sshTunnel);
        // Offline (npm run render, tests of stack files) it is accepted unread, like an encrypted key.
        const offline = validateConfig(gcpRaw({ sshTunnel: tunnel }), "dev");
        expect(offline.problems).to.deep.equal([]);
        expect(offline.config!.access.sshTunnel).to.equal(undefined);
    });

    it("is not a plaintext secret in the stack file (it holds only a variable's name)", () => {
        // As the stack reader marks a secret key that holds no encrypted value:
        const marked = markPlaintextSecrets(gcpRaw({ sshTunnel: tunnel }), ["sshTunnel"]);
        expect(validateConfig(marked, "dev").problems).to.deep.equal([]);
        // Control: a key written into the file is refused.
        const plaintextKey = markPlaintextSecrets(gcpRaw({ sshTunnel: { host: "localhost", username: "core", privateKey: TEST_PRIVATE_KEY } }), ["sshTunnel"]);
        expect(keysOf(plaintextKey).text).to.match(/coreos-cluster:sshTunnel: is stored in plaintext/);
        const fromFile = readStackFile("dev");
        expect(validateConfig(fromFile, "dev").problems.map((p) => p.message).join()).to.not.match(/plaintext/);
    });

    it("refuses a variable that is unset or holds no private key, never echoing its value", () => {
        const unset = keysOf(gcpRaw({ sshTunnel: tunnel }), {});
        expect(unset.keys).to.deep.equal(["coreos-cluster:sshTunnel.privateKeyEnv"]);
        expect(unset.text).to.match(/TUNNEL_KEY is not set/);
        const secret = `not-a-key-${crypto.randomBytes(8).toString("hex")}`;
        const bad = keysOf(gcpRaw({ sshTunnel: tunnel }), { TUNNEL_KEY: secret });
        expect(bad.keys).to.deep.equal(["coreos-cluster:sshTunnel.privateKeyEnv"]);
        expect(bad.text).to.match(/does not hold a PEM or OpenSSH private key/).and.not.contain(secret);
    });

    it("refuses both privateKey and privateKeyEnv, and a name that is no variable name", () => {
        expect(keysOf(gcpRaw({ sshTunnel: { ...tunnel, privateKey: TEST_PRIVATE_KEY } })).keys).to.include("coreos-cluster:sshTunnel.privateKeyEnv");
        expect(keysOf(gcpRaw({ sshTunnel: { ...tunnel, privateKeyEnv: "tunnel key" } })).text).to.match(/must name an environment variable/);
    });
});

describe("model/validate: clusterWaitSeconds", () => {
    it("defaults to 600 and accepts 0 to 3600", () => {
        expect(validateConfig(gcpRaw(), "dev").config!.access.clusterWaitSeconds).to.equal(600);
        expect(validateConfig(gcpRaw({ clusterWaitSeconds: 0 }), "dev").config!.access.clusterWaitSeconds).to.equal(0);
        expect(keysOf(gcpRaw({ clusterWaitSeconds: 3601 })).keys).to.deep.equal(["coreos-cluster:clusterWaitSeconds"]);
        expect(keysOf(gcpRaw({ clusterWaitSeconds: -1 })).keys).to.deep.equal(["coreos-cluster:clusterWaitSeconds"]);
    });
});
