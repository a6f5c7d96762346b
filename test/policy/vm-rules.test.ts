import { expect } from "chai";
import { defaultServiceAccountViolations } from "../../policy/rules/default-service-account";
import { rebootWindowFindings, userDataRebootWindowProblem } from "../../policy/rules/reboot-window";
import { TYPES } from "../../policy/rules/resource-data";
import { GCE_USER_DATA_LIMIT_BYTES, userDataSizeViolations } from "../../policy/rules/user-data-size";
import { vmLabelViolations } from "../../policy/rules/vm-labels";
import { DEV, etcdMember, firewall, localMachine, resource, runResourcePolicy, runStackPolicy, workerTemplate } from "./policy-harness";

function cloudConfigOfSize(bytes: number): string {
    const head = "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: ";
    return head + "x".repeat(bytes - head.length);
}

describe("policy: user-data-within-gce-limit (mandatory)", () => {
    it("accepts user-data of exactly 256 KiB", async () => {
        const member = etcdMember(0, { props: { metadata: { "user-data": cloudConfigOfSize(GCE_USER_DATA_LIMIT_BYTES) } } });
        expect(userDataSizeViolations(member)).to.deep.equal([]);
        expect(await runResourcePolicy(DEV, "user-data-within-gce-limit", member)).to.deep.equal([]);
    });

    it("rejects user-data one byte over, on instances and templates, with the size", async () => {
        const big = { metadata: { "user-data": cloudConfigOfSize(GCE_USER_DATA_LIMIT_BYTES + 1) } };
        for (const vm of [etcdMember(0, { props: big }), workerTemplate(big)]) {
            const messages = await runResourcePolicy(DEV, "user-data-within-gce-limit", vm);
            expect(messages, vm.type).to.have.length(1);
            expect(messages[0]).to.contain(`${GCE_USER_DATA_LIMIT_BYTES + 1} bytes`).and.to.contain(vm.name);
        }
    });

    it("counts bytes, not characters (multi-byte UTF-8)", () => {
        const text = "#cloud-config\n# " + "é".repeat(GCE_USER_DATA_LIMIT_BYTES / 2);
        expect(text.length).to.be.below(GCE_USER_DATA_LIMIT_BYTES);
        expect(userDataSizeViolations(workerTemplate({ metadata: { "user-data": text } }))).to.have.length(1);
    });

    it("rejects metadata that totals more than 512 KiB even when each value fits", () => {
        const half = cloudConfigOfSize(200 * 1024);
        const vm = workerTemplate({ metadata: { "user-data": half, "extra-a": half, "extra-b": half } });
        const messages = userDataSizeViolations(vm);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("512 KiB");
    });
});

describe("policy: vm-cluster-labels (mandatory)", () => {
    it("accepts VMs and templates carrying cluster, environment and role", async () => {
        expect(await runResourcePolicy(DEV, "vm-cluster-labels", etcdMember(0))).to.deep.equal([]);
        expect(await runResourcePolicy(DEV, "vm-cluster-labels", workerTemplate())).to.deep.equal([]);
    });

    it("rejects a VM without labels, naming every missing one", async () => {
        const vm = resource(TYPES.instance, "stray", { machineType: "e2-small" });
        const messages = await runResourcePolicy(DEV, "vm-cluster-labels", vm);
        expect(messages).to.have.length(1);
        expect(messages[0]).to.contain("stray").and.to.contain("cluster, environment, role");
    });

    it("rejects a template with an empty role label", () => {
        const template = workerTemplate({ labels: { cluster: "coreos", environment: "dev", role: "" } });
        expect(vmLabelViolations(template)[0]).to.contain("label role");
    });

    it("does not apply to non-VM resources", () => {
        expect(vmLabelViolations(firewall("fw", { sourceTags: ["a"], allows: [] }))).to.deep.equal([]);
    });
});

describe("policy: no-default-compute-service-account (advisory)", () => {
    it("accepts the per-role service accounts and VMs with no account at all", async () => {
        expect(await runResourcePolicy(DEV, "no-default-compute-service-account", workerTemplate())).to.deep.equal([]);
        expect(defaultServiceAccountViolations(workerTemplate({ serviceAccount: undefined }))).to.deep.equal([]);
    });

    it("flags the default compute account by address, by 'default', or by omission of the email", async () => {
        for (const serviceAccount of [
            { email: "123456789012-compute@developer.gserviceaccount.com", scopes: ["cloud-platform"] },
            { email: "default", scopes: [] },
            { scopes: ["cloud-platform"] },
        ]) {
            const messages = await runResourcePolicy(DEV, "no-default-compute-service-account", workerTemplate({ serviceAccount }));
            expect(messages, JSON.stringify(serviceAccount)).to.have.length(1);
            expect(messages[0]).to.contain("default compute service account");
        }
    });
});

describe("policy: reboot-window-set (advisory, stack)", () => {
    const FLATCAR_WITH_WINDOW = [
        "#cloud-config",
        "coreos:",
        "  update:",
        "    reboot_strategy: etcd-lock",
        "  units:",
        "    - name: locksmithd.service",
        "      drop_ins:",
        "        - name: 40-window.conf",
        "          content: |",
        "            [Service]",
        '            Environment="REBOOT_WINDOW_START=Sun 04:00"',
        '            Environment="REBOOT_WINDOW_LENGTH=2h"',
        "",
    ].join("\n");
    const NO_WINDOW = "#cloud-config\ncoreos:\n  update:\n    reboot_strategy: etcd-lock\n";

    it("accepts a window in coreos.locksmith (Container Linux) or a locksmithd drop-in (Flatcar)", async () => {
        expect(userDataRebootWindowProblem(FLATCAR_WITH_WINDOW)).to.equal(undefined);
        expect(await runStackPolicy(DEV, "reboot-window-set", [etcdMember(0), workerTemplate()])).to.deep.equal([]);
        expect(rebootWindowFindings([workerTemplate({ metadata: { "user-data": FLATCAR_WITH_WINDOW } })], DEV)).to.deep.equal([]);
    });

    it("accepts reboot_strategy off without a window", () => {
        expect(userDataRebootWindowProblem("#cloud-config\ncoreos:\n  update:\n    reboot_strategy: \"off\"\n")).to.equal(undefined);
    });

    it("flags each VM whose user-data reboots with no window, by urn", async () => {
        const vm = workerTemplate({ metadata: { "user-data": NO_WINDOW } });
        const found = await runStackPolicy(DEV, "reboot-window-set", [etcdMember(0), vm]);
        expect(found).to.have.length(1);
        expect(found[0].urn).to.equal(vm.urn);
        expect(found[0].message).to.contain("reboot_strategy etcd-lock").and.to.contain("coreos-cluster:rebootWindowStart");
    });

    it("treats a missing strategy as the default etcd-lock", () => {
        expect(userDataRebootWindowProblem("#cloud-config\nhostname: a\n")).to.contain("etcd-lock (default)");
    });

    it("checks the user-data of the local platform's machines", async () => {
        const ctx = { stack: "local", config: {} };
        expect(await runStackPolicy(ctx, "reboot-window-set", [localMachine("coreos-local-etcd-0", "etcd", "10.213.10.10")])).to.deep.equal([]);
        const bare = localMachine("coreos-local-worker-0", "worker", "10.213.10.20", NO_WINDOW);
        const found = await runStackPolicy(ctx, "reboot-window-set", [bare]);
        expect(found).to.have.length(1);
        expect(found[0].urn).to.equal(bare.urn);
    });

    it("checks the stack config when no resource carries user-data", () => {
        const local = (config: Record<string, string>) => rebootWindowFindings([], { stack: "local", config });
        expect(local({ "coreos-cluster:rebootStrategy": "etcd-lock" })).to.have.length(1);
        expect(local({ "coreos-cluster:rebootStrategy": "off" })).to.deep.equal([]);
        expect(local({ "coreos-cluster:rebootWindowStart": "04:00", "coreos-cluster:rebootWindowLength": "1h" })).to.deep.equal([]);
        expect(local({})).to.deep.equal([], "no coreos-cluster config at all: not this project's stack");
    });
});
