// Rotation in place on the real local stack (issue 21, item 5): all leaf certificates renewed, then
// the CA rotated, each by one `pulumi up` of a config change, while a client calls `web` through the
// load balancer the whole time and a monitor checks that the cluster keeps its quorum (some member completes
// a quorum read at every sample). Not one
// call fails, quorum holds at every sample, every service key is intact, members serve the new
// certificates, the old CA's credentials are refused once it is dropped, and the router reads with its
// renewed identity (a change written after each rotation is routed).
// Runs on a scratch copy of the project (the VPC on 10.213.28.0/24, the cluster renamed `erot`).
// Fails (does not skip) when the engine is missing, unless COREOS_CLUSTER_SKIP_ENGINE_TESTS=1.
import { expect } from "chai";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { memberHealthy } from "../../components/local/processes";
import { namespaceName } from "../../components/local/vpc/addressing";
import { execInNamespace } from "../../components/local/vpc/spawn";
import { etcdctlTlsFlags } from "../support/engine-tls";
import { scratchLocalStack, viaLoadBalancer, waitFor, webThroughout } from "../support/scratch-local-stack";

interface Member {
    name: string;
    clientUrl: string;
    root: string;
    probeTls: { ca: string; cert: string; key: string };
}

describe("certificates rotate in place on the local stack @engine", function () {
    this.timeout(30 * 60 * 1000);
    const stack = scratchLocalStack({ cluster: "erot", range: "10.213.28.", label: "tls-rotation" });

    it("@engine renews every leaf, then rotates the CA, each with one up: 0 failed requests, quorum throughout, keys intact", async function () {
        let outputs = await stack.up();
        const { cluster, scratch } = stack;
        const lb: string = outputs.loadBalancerIp;
        const resources = await cluster.resources();
        const members: Member[] = resources
            .filter((r) => r.outputs?.mode === "member")
            .map((r) => ({ name: r.urn.split("::").pop()!, clientUrl: r.outputs!.clientUrl, root: r.outputs!.root, probeTls: r.outputs!.probeTls }));
        const workers = resources.filter((r) => r.outputs?.mode === "proxy").map((r) => ({ address: r.outputs!.address as string }));
        expect(members.length).to.equal(3);
        const memberNs = namespaceName(members[0].name);
        const endpoints = () => outputs.etcdClientUrls.join(",");
        const etcdctl = (creds: string[], args: string[]) => execInNamespace(memberNs, "/usr/bin/env", ["ETCDCTL_API=3", "etcdctl", ...creds, "--endpoints", endpoints(), ...args], 30000);
        const keysUnder = async (creds: string[]) => {
            const r = await etcdctl(creds, ["get", "--prefix", `${outputs.servicesPrefix}/`, "-w", "json"]);
            expect(r.code, r.stderr).to.equal(0);
            const kvs = (JSON.parse(r.stdout).kvs ?? []) as Array<{ key: string; value: string }>;
            return Object.fromEntries(kvs.map((kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value, "base64").toString()]));
        };
        /** The certificate a member serves on its client port, as PEM. */
        const served = async (m: Member) => {
            const ip = new URL(m.clientUrl).hostname;
            const script = 'openssl s_client -connect "$1" -CAfile "$2" -cert "$3" -key "$4" </dev/null';
            const r = await execInNamespace(namespaceName(m.name), "/bin/sh", ["-c", script, "sh", `${ip}:2379`, m.probeTls.ca, m.probeTls.cert, m.probeTls.key], 15000);
            return /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
        };
        const rolled = async () => (await cluster.resources()).find((r) => r.type.endsWith("LocalTlsRollout"))?.outputs?.rolled as string[];
        const web = () => viaLoadBalancer(lb, "/x", "web.example.com");
        await waitFor("web through the load balancer", async () => /^web on /.test((await web()).body));

        /** One `up` with `key` set to `value`, under load and watched; returns what was seen. */
        const upUnderLoad = async (key: string, value: string) => {
            await cluster.run(["config", "set", `coreos-cluster:${key}`, value, "--stack", "local", "--non-interactive"]);
            let running = true;
            let samples = 0;
            const noQuorum: string[] = [];
            const client = webThroughout(lb);
            const monitor = (async () => {
                while (running) {
                    // Each member probed from its own namespace with its own (rolling) files.
                    const healthy = await Promise.all(members.map((m) => memberHealthy(m.clientUrl, 2000, namespaceName(m.name), m.probeTls)));
                    samples++;
                    // etcd's /health is true only after a quorum read through raft (a QGET that a majority
                    // must commit): one healthy member proves the cluster had its quorum at that moment. Others
                    // may answer false meanwhile without any quorum loss: the member being restarted, and a
                    // follower that has not yet heard from the leader the restart handed over to.
                    if (!healthy.some(Boolean)) noQuorum.push(`${new Date().toISOString()}: ${healthy.map((h, i) => `${members[i].name}=${h}`).join(" ")}`);
                    await new Promise((r) => setTimeout(r, 300));
                }
            })();
            let seen = { ok: 0, failures: [] as string[] };
            try {
                await cluster.up();
            } finally {
                running = false;
                [seen] = await Promise.all([client.stop(), monitor]);
            }
            return { ...seen, noQuorum, samples };
        };

        /** A host written after a rotation with the stack's current consumer identity is routed: the router reads with its own renewed identity. */
        const routesNewHost = async (service: string) => {
            const creds = etcdctlTlsFlags(outputs, scratch);
            for (const [k, v] of [[`${outputs.servicesPrefix}/${service}/scheme`, "http"], [`${outputs.servicesPrefix}/${service}/hosts/0`, `${workers[0].address}:8080`]]) {
                const put = await etcdctl(creds, ["put", k, v]);
                expect(put.code, put.stderr).to.equal(0);
            }
            await waitFor(`${service} routed through the load balancer`, async () => {
                const res = await viaLoadBalancer(lb, `/${service}/y`, lb);
                return res.status === 200 && res.body.includes(`on ${workers[0].address}:8080 /y`);
            }, 90000);
        };

        const oldCreds = etcdctlTlsFlags(outputs, path.join(scratch, "generation-1"));
        const keysBefore = await keysUnder(oldCreds);
        expect(Object.keys(keysBefore).length).to.be.greaterThan(2);
        const servedBefore = await Promise.all(members.map(served));
        const caBefore = outputs.consumerCredentials.ca as string;

        // 1. Every leaf renewed under the same CA.
        const renewal = await upUnderLoad("tlsLeafGeneration", "2");
        expect(renewal.failures, "failed requests during the renewal").to.deep.equal([]);
        expect(renewal.noQuorum, "samples without a healthy quorum during the renewal").to.deep.equal([]);
        expect(renewal.ok).to.be.greaterThan(20);
        expect(renewal.samples).to.be.greaterThan(3);
        expect(await rolled()).to.deep.equal(["leaves"]);
        outputs = await cluster.outputs();
        expect(outputs.consumerCredentials.ca, "the CA is unchanged by a renewal").to.equal(caBefore);
        const servedRenewed = await Promise.all(members.map(served));
        const describeCert = (pem: string | undefined) => {
            if (!pem) return "none";
            const c = new crypto.X509Certificate(pem);
            return `${c.subject.replace(/\n/g, ",")} serial ${c.serialNumber} from ${c.validFrom}`;
        };
        members.forEach((m, i) => {
            expect(servedRenewed[i], `${m.name} serves a renewed certificate`).to.not.equal(servedBefore[i]);
            const file = fs.readFileSync(path.join(m.root, "etc/coreos-cluster/tls", `${m.name}-server.pem`), "utf8");
            expect(describeCert(servedRenewed[i]), `${m.name} serves the file it was given (before: ${describeCert(servedBefore[i])})`).to.equal(describeCert(file));
        });
        expect(await keysUnder(etcdctlTlsFlags(outputs, scratch))).to.deep.equal(keysBefore);
        await routesNewHost("renewed");

        // 2. The CA rotated: trusted side by side, leaves re-issued, the old one dropped.
        const keysBeforeRotation = await keysUnder(etcdctlTlsFlags(outputs, scratch));
        const rotation = await upUnderLoad("tlsCaGeneration", "2");
        expect(rotation.failures, "failed requests during the CA rotation").to.deep.equal([]);
        expect(rotation.noQuorum, "samples without a healthy quorum during the CA rotation").to.deep.equal([]);
        expect(rotation.ok).to.be.greaterThan(20);
        expect(await rolled()).to.deep.equal(["trust-add", "leaves", "trust-drop"]);
        outputs = await cluster.outputs();
        const newCa = new crypto.X509Certificate(outputs.consumerCredentials.ca);
        expect(outputs.consumerCredentials.ca, "the trust bundle is the new CA alone").to.not.equal(caBefore);
        expect((outputs.consumerCredentials.ca as string).match(/BEGIN CERTIFICATE/g)).to.have.length(1);
        for (const m of members) {
            const pem = await served(m);
            expect(new crypto.X509Certificate(pem!).verify(newCa.publicKey), `${m.name} serves a leaf of the new CA`).to.equal(true);
        }
        const refused = await etcdctl(oldCreds, ["get", "--prefix", `${outputs.servicesPrefix}/`, "--keys-only"]);
        expect(refused.code, "a credential of the dropped CA is refused").to.not.equal(0);
        expect(await keysUnder(etcdctlTlsFlags(outputs, scratch))).to.deep.equal(keysBeforeRotation);
        await routesNewHost("rotated");
    });
});
