// Bad stack config stops the program before anything exists: it throws a
// ConfigValidationError naming the key, and the mocks received no registration at all.
import { expect } from "chai";
import { readStackFile } from "../../../model/stack-config";
import { FailedRun, REPO_ROOT, runFailingProgram } from "../../support/mocks";

interface BadCase {
    title: string;
    stack: "dev" | "prod";
    override: Record<string, unknown>;
    /** Every key the error must name. */
    keys: string[];
    /** Something the message must explain. */
    says?: RegExp;
}

const tcp = (name: string, port?: number) => ({ name, scheme: "tcp", hosts: ["10.10.0.20:5000"], ...(port === undefined ? {} : { host_port: port }) });

const CASES: BadCase[] = [
    { title: "an even etcd count", stack: "dev", override: { etcdCount: 4 }, keys: ["etcdCount"], says: /failure tolerance/i },
    { title: "a single member without isDev + allowSingleMember", stack: "prod", override: { etcdCount: 1 }, keys: ["etcdCount"], says: /tolerates 0 failures/ },
    { title: "an etcd count out of range", stack: "dev", override: { etcdCount: 9 }, keys: ["etcdCount"] },
    { title: "prod members crowded into one zone", stack: "prod", override: { etcdCount: 3, zones: ["europe-west1-b"] }, keys: ["zones"], says: /zone/ },
    { title: "a zone outside the region", stack: "dev", override: { zones: ["europe-west1-b"] }, keys: ["zones[0]"], says: /not a zone of region/ },
    { title: "a malformed subnet CIDR", stack: "dev", override: { subnetCidr: "10.10.0.0/33" }, keys: ["subnetCidr"] },
    { title: "a malformed SSH source CIDR", stack: "dev", override: { sshSourceRanges: ["10.0.0.300/24"] }, keys: ["sshSourceRanges[0]"] },
    { title: "SSH open to 0.0.0.0/0 without sshAllowWorld", stack: "dev", override: { sshSourceRanges: ["0.0.0.0/0"] }, keys: ["sshSourceRanges"], says: /sshAllowWorld/ },
    { title: "an invalid service name", stack: "dev", override: { services: [{ name: "Bad_Name", scheme: "http", hosts: ["10.0.0.1:80"] }] }, keys: ["services[0].name"] },
    { title: "a host entry that is not ip:port", stack: "dev", override: { services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1"] }] }, keys: ["services[0].hosts[0]"] },
    { title: "a host_port outside 1-65535", stack: "dev", override: { services: [tcp("db", 70000)] }, keys: ["services[0].host_port"] },
    { title: "a host_port used by two tcp services", stack: "dev", override: { services: [tcp("a", 7000), tcp("b", 7000)] }, keys: ["services[1].host_port"] },
    { title: "a tcp service without host_port", stack: "dev", override: { services: [tcp("db")] }, keys: ["services[0].host_port"] },
    { title: "duplicate service names", stack: "dev", override: { services: [tcp("a", 7000), tcp("a", 7001)] }, keys: ["services[1].name"] },
    { title: "a unit name fleet would refuse", stack: "dev", override: { fleetUnits: [{ name: "bad unit", content: "[Service]\nExecStart=/bin/true\n" }] }, keys: ["fleetUnits[0].name"] },
    { title: "external IPs in prod", stack: "prod", override: { externalIps: true }, keys: ["externalIps"], says: /Cloud NAT/ },
    { title: "unprotected members in prod", stack: "prod", override: { protectMembers: false }, keys: ["protectMembers"] },
    { title: "an invalid cluster name", stack: "dev", override: { clusterName: "Bad" }, keys: ["clusterName"] },
    { title: "a misspelt key", stack: "dev", override: { etcdCuont: 3 }, keys: ["etcdCuont"], says: /did you mean "etcdCount"/ },
    { title: "a value of the wrong type", stack: "dev", override: { etcdCount: "three" }, keys: ["etcdCount"], says: /integer/ },
    {
        title: "several problems at once (all reported)",
        stack: "dev",
        override: { etcdCount: 4, subnetCidr: "nonsense", services: [tcp("db")] },
        keys: ["etcdCount", "subnetCidr", "services[0].host_port"],
    },
];

describe("program on GCE under mocks: bad input stops it before any resource", function () {
    // The first case loads the whole project; the control runs the whole program.
    this.timeout(300_000);
    const base = { dev: {} as Record<string, unknown>, prod: {} as Record<string, unknown> };
    before(() => {
        base.dev = readStackFile("dev", REPO_ROOT);
        base.prod = readStackFile("prod", REPO_ROOT);
    });

    for (const c of CASES) {
        it(`refuses ${c.title}, naming ${c.keys.join(", ")}`, async () => {
            const run: FailedRun = await runFailingProgram({ stack: c.stack, config: { ...base[c.stack], ...c.override }, fresh: "program" });
            const error = run.error as { name?: string; message?: string; problems?: { key: string; message: string }[] };
            expect(error, "the program must throw").to.not.equal(undefined);
            expect(error.name, String(error)).to.equal("ConfigValidationError");
            const problemKeys = (error.problems ?? []).map((p) => p.key);
            for (const key of c.keys) {
                expect(problemKeys).to.include(`coreos-cluster:${key}`);
                expect(error.message).to.contain(`coreos-cluster:${key}`);
            }
            if (c.says) expect(error.message).to.match(c.says);
            expect(run.registered.map((r) => `${r.type} ${r.name}`), "resources registered").to.deep.equal([]);
        });
    }

    // Last, so its registrations cannot reach a later case's mocks.
    it("control: the same harness does see the registrations of a valid config", async () => {
        const run = await runFailingProgram({ stack: "dev", config: base.dev, fresh: "program" });
        expect(run.error, String(run.error)).to.equal(undefined);
        // `registered` is live: give the asynchronous registrations a bounded while to arrive.
        for (let i = 0; i < 500 && run.registered.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(run.registered.length).to.be.greaterThan(0);
    });
});
