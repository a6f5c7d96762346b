// Unified logs on GCE (issue 24, item 3): the shipper unit and its Fluent Bit config as text, and,
// under the SDK's mocks, every machine's user-data (each member's instance and the workers'
// template) carrying it, its image pulled by digest through the stack's mirror, the VMs' accounts
// holding nothing more than writing logs and metrics.
import { expect } from "chai";
import * as YAML from "yaml";
import { FLUENT_BIT_IMAGE, imageReference } from "../../model/images";
import { serviceEnvironment } from "../../components/local/systemd-env";
import { LOG_LABELS, LOG_SHIPPER_CONFIG, LOG_SHIPPER_UNIT, logShipperParts } from "../../cloud-config/log-shipper";
import { IMAGE_PULL_SCRIPT } from "../../cloud-config/image-pull";
import { VM_ROLES } from "../../components/gcp/labels";
import { readStackFile } from "../../model/stack-config";
import { GCE, ProgramRun, REPO_ROOT, byType, runProgram } from "../support/mocks";

const MIRROR = "europe-west1-docker.pkg.dev/demo-project/demo-dockerhub";

describe("cloud-config/log-shipper: every machine's journal to Cloud Logging", () => {
    it("runs Fluent Bit pinned by digest through the mirror, pulled once, the journal read-only, values only as Environment=", () => {
        const { unit, config, pullScript } = logShipperParts({ cluster: "demo", role: "worker", registry: MIRROR });
        const env = Object.fromEntries(serviceEnvironment(unit.content!, "demo-worker-x").assignments.map((a) => [a.name, a.value]));
        expect(env).to.include({ LOG_CLUSTER: "demo", LOG_ROLE: "worker", LOG_SHIPPER_IMAGE: imageReference(FLUENT_BIT_IMAGE, MIRROR), COREOS_REGISTRY_LOGIN: "europe-west1-docker.pkg.dev" });
        expect(env.LOG_SHIPPER_IMAGE).to.match(/@sha256:[0-9a-f]{64}$/);
        expect(unit.content).to.include(`ExecStartPre=${IMAGE_PULL_SCRIPT} \${COREOS_REGISTRY_LOGIN} \${LOG_SHIPPER_IMAGE}`);
        expect(unit.content).to.match(/^ExecStart=\/usr\/bin\/docker run .* -v \/var\/log\/journal:\/var\/log\/journal:ro .*\$\{LOG_SHIPPER_IMAGE\}$/m);
        expect(unit.content).to.include("-e LOG_MACHINE=%H");
        expect(unit.content).to.include("StartLimitIntervalSec=0");
        expect(pullScript.path).to.equal(IMAGE_PULL_SCRIPT);
        expect(config.path).to.equal(LOG_SHIPPER_CONFIG);
        expect(config.content).to.match(/Name\s+systemd/).and.match(/Name\s+stackdriver/).and.match(/resource\s+gce_instance/);
        expect(config.content).to.include("labels      cluster=${LOG_CLUSTER},role=${LOG_ROLE},machine=${LOG_MACHINE}");
        expect(config.content).to.match(/Rename\s+SYSTEMD_UNIT unit/).and.match(/Nest_under\s+logging\.googleapis\.com\/labels/);
        expect([...LOG_LABELS]).to.deep.equal(["cluster", "role", "machine", "unit"]);
        // The config is one constant text: nothing of the cluster is in it.
        expect(logShipperParts({ cluster: "other", role: "etcd", registry: "docker.io" }).config.content).to.equal(config.content);
        expect(() => logShipperParts({ cluster: "x;reboot", role: "etcd", registry: MIRROR })).to.throw(/not a plain name/);
    });

    for (const stack of ["dev", "prod"]) {
        describe(`under mocks: the ${stack} stack`, function () {
            this.timeout(300_000);
            let run: ProgramRun;
            before(async () => {
                run = await runProgram({ stack, config: readStackFile(stack, REPO_ROOT) });
            });

            it("every machine's user-data starts the shipper and writes its config and the pull script", () => {
                const vms = [...byType(run.resources, GCE.instance), ...byType(run.resources, GCE.template)];
                expect(vms.length).to.be.greaterThan(1);
                for (const vm of vms) {
                    const doc = YAML.parse(String(vm.inputs.metadata["user-data"]));
                    const unit = (doc.coreos.units as Array<{ name: string; command?: string }>).find((u) => u.name === LOG_SHIPPER_UNIT);
                    expect(unit, `${vm.name}`).to.include({ command: "start" });
                    const paths = (doc.write_files as Array<{ path: string }>).map((f) => f.path);
                    expect(paths, vm.name).to.include.members([LOG_SHIPPER_CONFIG, IMAGE_PULL_SCRIPT]);
                    expect(paths.filter((p) => p === IMAGE_PULL_SCRIPT), `${vm.name}: one pull script`).to.have.length(1);
                }
            });

            it("the VMs' accounts may write logs and metrics on the project and nothing else there", () => {
                const roles = new Set(byType(run.resources, GCE.iamMember).map((m) => m.inputs.role));
                expect([...roles].sort()).to.deep.equal([...VM_ROLES].sort());
                expect(VM_ROLES).to.include("roles/logging.logWriter");
            });
        });
    }
});
