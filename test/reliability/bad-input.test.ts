// Bad input, data-driven (issue 7): the cases live in test/reliability/cases/*.yaml.
//   - config-cases.yaml / stack-file-cases.yaml: invalid stack configs. The pure validator must name
//     every key, and the whole program run under the SDK's mocks must throw naming them and
//     register nothing at all.
//   - resource-cases.yaml: invalid inputs given straight to the providers. check() must refuse
//     naming the resource and the input, create() must refuse too, and the real etcd keyspace
//     (127.0.13.20) / the fleet conformance server (127.0.13.30) must be exactly as before. The etcd
//     is secured as in production (test/support/secure-etcd.ts): every connection carries the
//     deployer's client certificate, so a case's own defect is the only thing wrong with it.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { Etcd3 } from "etcd3";
import { readStackFile } from "../../model/stack-config";
import { validateConfig } from "../../model/validate";
import { runFailingProgram, REPO_ROOT } from "../support/mocks";
import { startSecureEtcdCluster, SecureEtcdTestCluster } from "../support/secure-etcd";
import { FleetConformanceServer } from "../support/fleet-conformance-server";
import { serviceRegistrationSetProvider, SERVICE_REGISTRATION_SET_PROVIDER_VERSION } from "../../components/services/service-registration-set";
import { serviceRegistrationProvider, SERVICE_REGISTRATION_PROVIDER_VERSION } from "../../components/services/service-registration";
import { checkFleetUnit, createFleetUnit } from "../../components/fleet/fleet-unit";

const CASES = path.join(__dirname, "cases");

interface ConfigCase {
    title: string;
    base?: "dev" | "prod" | "local";
    set?: Record<string, unknown>;
    stack?: string;
    stackFile?: string;
    keys: string[];
    says?: string;
    mocks?: boolean;
    programSays?: boolean;
    secretsAbsent?: string[];
}

interface ResourceCase {
    title: string;
    inputs: Record<string, any>;
    property: string;
    field?: string;
    createTrustsCheck?: boolean;
}

function load<T>(file: string): T {
    return YAML.parse(fs.readFileSync(path.join(CASES, file), "utf8")) as T;
}

/** Stand-ins for values too large to keep readable in the case files. */
function expand(value: unknown): unknown {
    if (value === "@LONG2100") return `/bin/echo ${"x".repeat(2100)}`;
    const sshKeys = typeof value === "string" ? /^@SSH_KEYS_BYTES:(\d+)$/.exec(value) : null;
    if (sshKeys) {
        // Distinct, well-formed key lines of ~430 bytes, as many as fit in the given total (one newline each).
        const keys: string[] = [];
        let total = 0;
        for (let i = 0; ; i++) {
            const key = `ssh-rsa AAAAB3NzaC1yc2E${String(i).padStart(4, "0")}${"Q".repeat(390)} user${i}@example.com`;
            if (total + key.length + 1 > Number(sshKeys[1])) return keys;
            keys.push(key);
            total += key.length + 1;
        }
    }
    if (Array.isArray(value)) return value.map(expand);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
    return value;
}

const qualified = (key: string) => `coreos-cluster:${key}`;

describe("reliability: bad stack config is refused naming the key, before any resource exists", function () {
    // The first program run loads the whole project under ts-node.
    this.timeout(300_000);
    const configCases = load<ConfigCase[]>("config-cases.yaml");
    const fileCases = load<ConfigCase[]>("stack-file-cases.yaml");
    const bases: Record<string, Record<string, unknown>> = {};
    let scratch: string;

    before(() => {
        for (const stack of ["dev", "prod", "local"]) bases[stack] = readStackFile(stack, REPO_ROOT);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-reliability-stackfiles-"));
    });
    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    it("has at least 40 config and resource cases in the data files", () => {
        const resources = load<{ services: ResourceCase[]; fleetUnits: ResourceCase[] }>("resource-cases.yaml");
        const total = configCases.length + fileCases.length + resources.services.length + resources.fleetUnits.length;
        expect(total).to.be.at.least(40);
    });

    async function expectRefused(c: ConfigCase, stack: string, raw: Record<string, unknown>): Promise<void> {
        const { config, problems } = validateConfig(raw, stack);
        const rendered = problems.map((p) => `${p.key}: ${p.message}`).join("\n");
        const secrets = c.secretsAbsent ?? [];
        if (c.mocks === false || problems.length > 0 || !config) {
            expect(config, "the validator must refuse").to.equal(undefined);
            for (const key of c.keys) expect(problems.map((p) => p.key), rendered).to.include(qualified(key));
            if (c.says) expect(rendered).to.match(new RegExp(c.says));
            for (const secret of secrets) expect(rendered).to.not.contain(secret);
        }
        if (c.mocks === false) return;
        const run = await runFailingProgram({ stack, config: raw, fresh: "program" });
        const error = run.error as Error | undefined;
        expect(error, "the program must throw").to.be.instanceOf(Error);
        for (const key of c.keys) expect(error!.message, "the error names the key").to.contain(qualified(key));
        if (c.says && c.programSays !== false) expect(error!.message).to.match(new RegExp(c.says));
        for (const secret of secrets) expect(error!.message).to.not.contain(secret);
        expect(run.registered.map((r) => `${r.type} ${r.name}`), "resources registered").to.deep.equal([]);
    }

    for (const c of configCases) {
        it(`refuses ${c.title}, naming ${c.keys.join(", ")}`, async () => {
            const raw = { ...bases[c.base ?? "dev"], ...(expand(c.set ?? {}) as Record<string, unknown>) };
            await expectRefused(c, c.base ?? "dev", raw);
        });
    }

    for (const c of fileCases) {
        it(`refuses a stack file with ${c.title}, naming ${c.keys.join(", ")}`, async () => {
            const dir = fs.mkdtempSync(path.join(scratch, "case-"));
            fs.writeFileSync(path.join(dir, `Pulumi.${c.stack}.yaml`), c.stackFile!);
            await expectRefused(c, c.stack!, readStackFile(c.stack!, dir));
        });
    }
});

describe("reliability: bad resource inputs are refused by the providers, changing nothing (127.0.13.20, 127.0.13.30)", function () {
    this.timeout(120_000);
    const cases = load<{ services: ResourceCase[]; fleetUnits: ResourceCase[] }>("resource-cases.yaml");
    let cluster: SecureEtcdTestCluster;
    let etcd: Etcd3;
    let fleet: FleetConformanceServer;
    /** A case's connection: the deployer's good one with the case's fields over it, "@CLUSTER" the member. */
    const connectionOf = (given: Record<string, any> | undefined) =>
        given
            ? { ...cluster.connection("deployer"), ...given, endpoints: given.endpoints.map((e: string) => (e === "@CLUSTER" ? cluster.endpoints[0] : e)) }
            : cluster.connection("deployer", { timeoutMs: 2000, retries: 0 });

    before(async () => {
        cluster = await startSecureEtcdCluster({ size: 1, firstAddress: "127.0.13.20" });
        // root: writes the registration to keep and sees the whole keyspace.
        etcd = cluster.client("root");
        // Something to lose: an existing registration and a unit the bad inputs must not touch.
        await etcd.put("/services/web/scheme").value("http");
        await etcd.put("/services/web/hosts/0").value("10.9.9.9:80");
        fleet = await FleetConformanceServer.start({ host: "127.0.13.30" });
        fleet.putByHand("existing.service", [{ section: "Service", name: "ExecStart", value: "/bin/true" }]);
    });
    after(async () => {
        etcd?.close();
        await cluster?.stop();
        await fleet?.close();
    });

    for (const c of cases.services) {
        it(`ServiceRegistration refuses ${c.title} (${c.field ?? c.property})`, async () => {
            const before = await etcd.getAll().prefix("/").strings();
            const connection = connectionOf(c.inputs.connection);
            const news = { resourceName: "bad-input", providerVersion: SERVICE_REGISTRATION_PROVIDER_VERSION, ...expand(c.inputs) as object, connection };
            const checked = await serviceRegistrationProvider.check!({}, news);
            const failures = checked.failures ?? [];
            expect(failures.map((f) => f.property), JSON.stringify(failures)).to.include(c.property);
            const reason = failures.find((f) => f.property === c.property)!.reason;
            expect(reason).to.contain('ServiceRegistration "bad-input"');
            expect(reason).to.contain(c.field ?? c.property);

            let err: Error | undefined;
            await serviceRegistrationProvider.create(checked.inputs).catch((e) => (err = e));
            expect(err, "create must refuse too").to.be.instanceOf(Error);
            expect(err!.message).to.contain(c.field ?? c.property);
            expect(await etcd.getAll().prefix("/").strings(), "etcd is unchanged").to.deep.equal(before);
        });
    }

    // The same cases as one entry of a ServiceRegistrationSet (how the program registers its config's services).
    for (const c of cases.services) {
        const perService = !["prefix", "connection"].includes(c.property);
        const property = perService ? "services" : c.property;
        const field = perService ? `services[0].${c.field ?? c.property}` : c.field ?? c.property;
        it(`ServiceRegistrationSet refuses ${c.title} (${field})`, async () => {
            const before = await etcd.getAll().prefix("/").strings();
            const { service, scheme, hosts, hostPort, prefix, connection: given } = expand(c.inputs) as Record<string, any>;
            const connection = connectionOf(given);
            const news = { resourceName: "bad-input", providerVersion: SERVICE_REGISTRATION_SET_PROVIDER_VERSION, services: [{ service, scheme, hosts, hostPort }], prefix, connection };
            const checked = await serviceRegistrationSetProvider.check!({}, news);
            const failures = checked.failures ?? [];
            expect(failures.map((f) => f.property), JSON.stringify(failures)).to.include(property);
            const reason = failures.find((f) => f.property === property)!.reason;
            expect(reason).to.contain('ServiceRegistrationSet "bad-input"');
            expect(reason).to.contain(field);

            let err: Error | undefined;
            await serviceRegistrationSetProvider.create(checked.inputs).catch((e) => (err = e));
            expect(err, "create must refuse too").to.be.instanceOf(Error);
            expect(err!.message).to.contain(field);
            expect(await etcd.getAll().prefix("/").strings(), "etcd is unchanged").to.deep.equal(before);
        });
    }

    for (const c of cases.fleetUnits) {
        it(`FleetUnit refuses ${c.title} (${c.property})`, async () => {
            const unitsBefore = fleet.unitNames().map((n) => fleet.unit(n));
            const news = { endpoint: fleet.endpoint, requestTimeoutMs: 2000, retries: 0, ...(expand(c.inputs) as object) };
            const checked = checkFleetUnit({}, news);
            const failures = checked.failures ?? [];
            expect(failures.map((f) => f.property), JSON.stringify(failures)).to.include(c.property);
            expect(failures.find((f) => f.property === c.property)!.reason).to.contain(`fleet unit "${c.inputs.name}"`);

            if (!c.createTrustsCheck) {
                let err: Error | undefined;
                await createFleetUnit(checked.inputs as any).catch((e) => (err = e));
                expect(err, "create must refuse too").to.be.instanceOf(Error);
            }
            expect(fleet.unitNames().map((n) => fleet.unit(n)), "fleet is unchanged").to.deep.equal(unitsBefore);
        });
    }
});
