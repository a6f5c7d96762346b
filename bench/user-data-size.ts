// User-data size per role and OS flavor for dev, prod and the large stack, against GCE's limit of
// 256 KiB for one metadata value. Rendering is pure, so this needs nothing but the renderers.
import { GCE_USER_DATA_LIMIT_BYTES, renderMachines } from "../cloud-config";
import { ROUTER_SCRIPT, ROUTER_UNIT } from "../cloud-config/router";
import YAML from "yaml";
import { planCluster } from "../model/plan";
import { loadConfig } from "../model/validate";
import { largeStack, shippedStack, withFlavor } from "./configs";
import { Benchmark, figure, Figure, round } from "./support";

/** Bytes of the router's unit content and script content (the YAML around them is a few dozen bytes more). */
function routerShare(userData: string): number {
    const doc = YAML.parse(userData.replace(/^#cloud-config\n/, ""), { version: "1.1" }) as { write_files?: Array<{ path: string; content: string }>; coreos: { units: Array<{ name: string; content?: string }> } };
    const unit = doc.coreos.units.find((u) => u.name === ROUTER_UNIT)?.content ?? "";
    const script = doc.write_files?.find((f) => f.path === ROUTER_SCRIPT)?.content ?? "";
    return Buffer.byteLength(unit) + Buffer.byteLength(script);
}

export const userDataSize: Benchmark = {
    name: "user-data-size",
    title: "User-data size per role and flavor vs GCE's 256 KiB limit",
    async run(ctx) {
        const stacks: Array<[string, Record<string, unknown>]> = [
            ["dev", shippedStack(ctx.repoRoot, "dev")],
            ["prod", shippedStack(ctx.repoRoot, "prod")],
            ["large", largeStack()],
        ];
        const figures: Figure[] = [];
        const rows: Record<string, unknown>[] = [];
        for (const [stack, raw] of stacks) {
            for (const flavor of ["flatcar", "container-linux"] as const) {
                const config = loadConfig(withFlavor(raw, flavor), stack);
                const machines = renderMachines(config, planCluster(config));
                for (const role of ["etcd", "worker"] as const) {
                    const sizes = machines.filter((m) => m.role === role).map((m) => ({ file: m.fileName, bytes: Buffer.byteLength(m.userData, "utf8") }));
                    if (sizes.length === 0) continue;
                    const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
                    const routerBytes = role === "worker" ? routerShare(machines.find((m) => m.fileName === largest.file)!.userData) : 0;
                    rows.push({ stack, flavor, role, machines: sizes.length, largestFile: largest.file, bytes: largest.bytes, routerBytes });
                    if (role === "worker") {
                        figures.push(
                            figure({
                                id: `${stack}/${flavor}/worker-router-share`,
                                measured: `the router's share of ${stack}'s ${largest.file} (${flavor}): its unit text plus the gzip+base64 watcher`,
                                value: routerBytes,
                                unit: "bytes",
                                baseline: "the whole worker user-data",
                                baselineValue: largest.bytes,
                                digits: 0,
                            }),
                        );
                    }
                    figures.push(
                        figure({
                            id: `${stack}/${flavor}/${role}`,
                            measured: `largest ${role} user-data of ${stack} (${flavor}): ${largest.file}, of ${sizes.length} rendered`,
                            value: largest.bytes,
                            unit: "bytes",
                            baseline: "GCE limit for one metadata value (256 KiB)",
                            baselineValue: GCE_USER_DATA_LIMIT_BYTES,
                            digits: 0,
                            target: { text: "under the limit", pass: largest.bytes <= GCE_USER_DATA_LIMIT_BYTES },
                        }),
                    );
                }
            }
        }
        const largest = figures.filter((f) => !f.id.endsWith("router-share")).reduce((a, b) => (b.value > a.value ? b : a));
        const summary = `The largest user-data is ${largest.id} at ${largest.value} bytes, ${round(largest.ratio * 100, 2)} % of GCE's 256 KiB limit: services and fleet units are not in user-data (they go to etcd and fleet), so it does not grow with their number (Flatcar machines only gain a fixed fleet install step once fleet units exist).`;
        return { status: "ok", figures, details: { summary, rows } };
    },
};
