// LocalPrometheus: a real Prometheus (Debian's package) standing for the operator's monitoring on the
// local stack. One detached process in its own namespace of the local VPC (host .3, the monitoring
// range's stand-in), scraping every member's etcd metrics listener and every worker's HAProxy
// exporter through the VPC's firewall, with the scrape config of model/prometheus-config.ts. Its UI
// and API answer on its own address, admitted from this machine only. Destroy stops it and removes
// its folder; a killed run's leftovers go with its namespace (components/local/vpc/netns.ts).
// Runtime modules are required inside functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
//
// The provider's side of LocalPrometheus (local-prometheus.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import { prometheusConfigText, PrometheusJob, PrometheusSettings } from "../../model/prometheus-config";
import { checkedBefore } from "../services/checked-before";
import { removeIfEmpty } from "./processes";
import { processPaths, runningProcessPid, spawnMachineProcess, stopMachineProcess } from "./machine-process";

const PROCESS = "prometheus";
/** Debian's package puts it here (scripts/install-system-deps.sh). */
export const PROMETHEUS_BINARY = "/usr/bin/prometheus";

export interface LocalPrometheusInputs {
    name: string;
    namespace: string;
    address: string;
    port: number;
    /**
     * What prometheus.yml holds, as data: the provider writes the text (model/prometheus-config.ts),
     * so the program loads no YAML writer for it.
     */
    scrape: { jobs: PrometheusJob[]; settings: PrometheusSettings };
    /** Absolute folder of its config, data, log and pid. */
    root: string;
    /** How long `up` waits for Prometheus to be ready. */
    readyTimeoutSeconds: number;
    providerVersion: string;
}

/** The inputs as check returns them: with the prometheus.yml they make, and the `yaml` release that wrote it. */
export interface CheckedPrometheusInputs extends LocalPrometheusInputs {
    /** The prometheus.yml these inputs make: what diff compares with the one written (a new writer or `yaml` release counts, a reworded job does not). */
    configText: string;
    configWriter: string;
}

export interface LocalPrometheusState extends LocalPrometheusInputs {
    /** The prometheus.yml it wrote. */
    configText: string;
    pid?: number;
    running: boolean;
    url: string;
}

function urlOf(inputs: Pick<LocalPrometheusInputs, "address" | "port">): string {
    return `http://${inputs.address}:${inputs.port}`;
}

/** GET from this machine (the deployer, whom the Prometheus namespace admits): the status code, or undefined. */
function statusOf(url: string): Promise<number | undefined> {
    const http: typeof import("http") = require("http");
    return new Promise((resolve) => {
        const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(undefined));
    });
}

function configTextOf(inputs: LocalPrometheusInputs | CheckedPrometheusInputs): string {
    return "configText" in inputs && typeof inputs.configText === "string" ? inputs.configText : prometheusConfigText(inputs.scrape.jobs, inputs.scrape.settings);
}

/** The `yaml` release that writes prometheus.yml: outside the provider's bundle, so not in its code. */
function configWriter(): string {
    return `yaml@${(require("yaml/package.json") as { version: string }).version}`;
}

/** What check writes the config from, besides the provider code. */
const CONFIG_INPUTS = ["scrape", "configWriter"] as const;

async function start(inputs: LocalPrometheusInputs | CheckedPrometheusInputs): Promise<number> {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    if (!fs.existsSync(PROMETHEUS_BINARY)) throw new Error(`local Prometheus: ${PROMETHEUS_BINARY} not found; run scripts/install-system-deps.sh (Debian's prometheus)`);
    fs.mkdirSync(path.join(inputs.root, "data"), { recursive: true });
    const config = path.join(inputs.root, "prometheus.yml");
    fs.writeFileSync(config, configTextOf(inputs));
    // Flags and values as separate arguments: the supervisor is recognised by an argument under its root.
    const argv = [PROMETHEUS_BINARY, "--config.file", config, "--storage.tsdb.path", path.join(inputs.root, "data"), "--storage.tsdb.retention.time", "1d", "--web.listen-address", `${inputs.address}:${inputs.port}`];
    const pid = spawnMachineProcess({ machine: inputs.name, root: inputs.root, name: PROCESS, argv, env: {}, namespace: inputs.namespace });
    const deadline = Date.now() + inputs.readyTimeoutSeconds * 1000;
    while ((await statusOf(`${urlOf(inputs)}/-/ready`)) !== 200) {
        if (Date.now() > deadline) {
            await stopMachineProcess(pid, inputs.root, PROCESS, 2000);
            throw new Error(`local Prometheus ${inputs.name}: not ready at ${urlOf(inputs)}/-/ready within ${inputs.readyTimeoutSeconds} s; log ${processPaths(inputs.root, PROCESS).logFile}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return pid;
}

/** What differs between the deployed Prometheus and `news`: its settings, and the prometheus.yml it would write (check's, when checked) against the one it wrote. */
export function changedInputs(olds: LocalPrometheusState, news: LocalPrometheusInputs | CheckedPrometheusInputs): string[] {
    const keys = ["name", "namespace", "address", "port", "root", "providerVersion"] as const;
    return [...keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])), ...(olds.configText === configTextOf(news) ? [] : ["configText"])];
}

export const provider: ProviderOperations = {
    async check(olds: Partial<CheckedPrometheusInputs> | undefined, news: LocalPrometheusInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.root === "string" && !news.root.startsWith("/")) failures.push({ property: "root", reason: "root must be absolute" });
        if (!Array.isArray(news.scrape?.jobs) || typeof news.scrape?.settings?.cluster !== "string") failures.push({ property: "scrape", reason: "scrape must hold the jobs and settings of prometheus.yml" });
        if (failures.length > 0) return { inputs: news, failures };
        // The text once per change: the same code and writer made it from the same scrape data before.
        const { configText: _given, ...rest } = news as Partial<CheckedPrometheusInputs> & LocalPrometheusInputs;
        const next = { ...rest, configWriter: configWriter() };
        const configText = checkedBefore(olds, next, CONFIG_INPUTS) && typeof olds?.configText === "string" ? olds.configText : prometheusConfigText(news.scrape.jobs, news.scrape.settings);
        return { inputs: { ...next, configText }, failures };
    },
    async diff(_id: string, olds: LocalPrometheusState, news: CheckedPrometheusInputs) {
        const changed = changedInputs(olds, news);
        const gone = runningProcessPid(olds.root, PROCESS, olds.pid) === undefined;
        return { changes: changed.length > 0 || gone, replaces: changed.includes("root") ? ["root"] : [], deleteBeforeReplace: true };
    },
    async create(inputs: CheckedPrometheusInputs) {
        const pid = await start(inputs);
        return { id: inputs.name, outs: { ...inputs, configText: configTextOf(inputs), pid, running: true, url: urlOf(inputs) } };
    },
    async read(id: string, props: LocalPrometheusState) {
        const pid = runningProcessPid(props.root, PROCESS, props.pid);
        const { pid: _old, ...rest } = props;
        return { id, props: { ...rest, ...(pid ? { pid } : {}), running: pid !== undefined } };
    },
    async update(_id: string, olds: LocalPrometheusState, news: CheckedPrometheusInputs) {
        await stopMachineProcess(runningProcessPid(olds.root, PROCESS, olds.pid), olds.root, PROCESS, 5000);
        const pid = await start(news);
        return { outs: { ...news, configText: configTextOf(news), pid, running: true, url: urlOf(news) } };
    },
    async delete(_id: string, props: LocalPrometheusState) {
        const fs: typeof import("fs") = require("fs");
        await stopMachineProcess(runningProcessPid(props.root, PROCESS, props.pid), props.root, PROCESS, 5000);
        fs.rmSync(props.root, { recursive: true, force: true });
        removeIfEmpty(require("path").dirname(props.root));
    },
};
