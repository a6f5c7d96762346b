// The local Prometheus provider takes prometheus.yml as data and writes the text itself
// (model/prometheus-config.ts); the real process is tested on the local stack (test/engine/local-metrics.test.ts).
import { expect } from "chai";
import { provider, LocalPrometheusInputs } from "../../../components/local/local-prometheus-provider";
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
});
