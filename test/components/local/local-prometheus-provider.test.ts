// The local Prometheus provider takes prometheus.yml as data and writes the text itself
// (model/prometheus-config.ts); the real process is tested on the local stack (test/engine/local-metrics.test.ts).
import { expect } from "chai";
import { changedInputs, provider, CheckedPrometheusInputs, LocalPrometheusInputs, LocalPrometheusState } from "../../../components/local/local-prometheus-provider";
import { prometheusConfigText } from "../../../model/prometheus-config";
import { LOCAL_PROMETHEUS_PROVIDER_VERSION } from "../../../components/provider-versions";

const inputs: LocalPrometheusInputs = {
    name: "unit-prometheus",
    namespace: "ccl-unit-prom",
    address: "10.213.9.3",
    port: 9090,
    scrape: { jobs: [{ job: "etcd", role: "etcd", port: 2381, path: "/metrics", what: "etcd", targets: [{ machine: "unit-etcd-0", address: "10.213.9.10:2381" }] }], settings: { cluster: "unit", scrapeIntervalSeconds: 5 } },
    root: "/nonexistent/unit-prometheus",
    readyTimeoutSeconds: 5,
    providerVersion: LOCAL_PROMETHEUS_PROVIDER_VERSION,
};

describe("local Prometheus provider: the scrape config as data", () => {
    it("accepts the scrape jobs and settings", async () => {
        expect((await provider.check({} as LocalPrometheusInputs, inputs)).failures).to.deep.equal([]);
    });

    it("refuses inputs without them, naming the property", async () => {
        const { scrape: _scrape, ...withoutScrape } = inputs;
        const checked = await provider.check({} as LocalPrometheusInputs, { ...withoutScrape, configText: "global: {}\n" } as unknown as LocalPrometheusInputs);
        expect(checked.failures).to.deep.equal([{ property: "scrape", reason: "scrape must hold the jobs and settings of prometheus.yml" }]);
    });

    describe("check: writes prometheus.yml once per change of its data, code or writer", () => {
        const code = { __provider: "packed provider text" };
        const checkedOnce = async () => (await provider.check(undefined, { ...inputs, ...code } as LocalPrometheusInputs)).inputs as CheckedPrometheusInputs;

        it("returns the inputs with the text they make and the yaml release that wrote it", async () => {
            const checked = await checkedOnce();
            expect(checked.configText).to.equal(prometheusConfigText(inputs.scrape.jobs, inputs.scrape.settings));
            expect(checked.configWriter).to.equal(`yaml@${require("yaml/package.json").version}`);
        });

        it("reuses the text it stored when the code, the scrape data and the writer are the same", async () => {
            const stored = { ...(await checkedOnce()), configText: "# the stored text\n" };
            const again = (await provider.check(stored, { ...inputs, ...code } as LocalPrometheusInputs)).inputs as CheckedPrometheusInputs;
            expect(again.configText, "not written again").to.equal("# the stored text\n");
        });

        it("writes it again when any of them differs, or the stored inputs predate it", async () => {
            const stored = { ...(await checkedOnce()), configText: "# the stored text\n" };
            const fresh = prometheusConfigText(inputs.scrape.jobs, inputs.scrape.settings);
            const moved = { ...inputs.scrape, settings: { ...inputs.scrape.settings, scrapeIntervalSeconds: 7 } };
            const cases: Array<[string, Partial<CheckedPrometheusInputs> | undefined, LocalPrometheusInputs]> = [
                ["other provider code", stored, { ...inputs, __provider: "another text" } as LocalPrometheusInputs],
                ["no provider code", stored, inputs],
                ["other yaml release", { ...stored, configWriter: "yaml@0.0.1" }, { ...inputs, ...code } as LocalPrometheusInputs],
                ["stored before the writer was recorded", { ...stored, configWriter: undefined }, { ...inputs, ...code } as LocalPrometheusInputs],
                ["no stored text", { ...stored, configText: undefined }, { ...inputs, ...code } as LocalPrometheusInputs],
                ["no stored inputs", undefined, { ...inputs, ...code } as LocalPrometheusInputs],
            ];
            for (const [why, olds, news] of cases) expect(((await provider.check(olds, news)).inputs as CheckedPrometheusInputs).configText, why).to.equal(fresh);
            const rescraped = (await provider.check(stored, { ...inputs, ...code, scrape: moved } as LocalPrometheusInputs)).inputs as CheckedPrometheusInputs;
            expect(rescraped.configText, "other scrape data").to.equal(prometheusConfigText(moved.jobs, moved.settings));
        });

        it("ignores a text handed in with the inputs", async () => {
            const checked = (await provider.check(undefined, { ...inputs, configText: "global: {}\n" } as unknown as LocalPrometheusInputs)).inputs as CheckedPrometheusInputs;
            expect(checked.configText).to.equal(prometheusConfigText(inputs.scrape.jobs, inputs.scrape.settings));
        });
    });

    describe("diff: the text it would write against the text it wrote", () => {
        const deployed: LocalPrometheusState = { ...inputs, configText: prometheusConfigText(inputs.scrape.jobs, inputs.scrape.settings), running: true, url: "http://10.213.9.3:9090" };

        it("finds nothing when the same prometheus.yml would be written, even if the jobs' descriptions changed", () => {
            expect(changedInputs(deployed, inputs)).to.deep.equal([]);
            const reworded = { ...inputs, scrape: { ...inputs.scrape, jobs: inputs.scrape.jobs.map((j) => ({ ...j, what: "reworded" })) } };
            expect(changedInputs(deployed, reworded)).to.deep.equal([]);
        });

        it("finds the config when the text differs: another target, or a text written otherwise (by an older writer or state)", () => {
            const moved = { ...inputs, scrape: { ...inputs.scrape, jobs: inputs.scrape.jobs.map((j) => ({ ...j, targets: [{ machine: "unit-etcd-0", address: "10.213.9.11:2381" }] })) } };
            expect(changedInputs(deployed, moved)).to.deep.equal(["configText"]);
            expect(changedInputs({ ...deployed, configText: "global: {}\n" }, inputs)).to.deep.equal(["configText"]);
        });

        it("compares check's text when the inputs were checked (no text written in diff)", () => {
            const checked: CheckedPrometheusInputs = { ...inputs, configText: "# another text\n", configWriter: "yaml@x" };
            expect(changedInputs(deployed, checked)).to.deep.equal(["configText"]);
            expect(changedInputs(deployed, { ...checked, configText: deployed.configText })).to.deep.equal([]);
        });

        it("finds the settings that changed", () => {
            expect(changedInputs(deployed, { ...inputs, port: 9091, providerVersion: "0" })).to.deep.equal(["port", "providerVersion"]);
        });
    });
});
