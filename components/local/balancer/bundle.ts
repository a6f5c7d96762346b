// The load balancer process as one self-contained script (balancer/main.ts and its imports),
// built with esbuild as router/bundle.ts builds the router. The provider builds it where it
// starts the process; the program only hashes it, so the state holds a digest, not 140 KB.
// Runtime modules are required inside functions: provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import { bundleNodeScript } from "../../../router/node-script";

/** The bundle's entry point (absolute, resolved where the program runs). */
export function balancerEntry(): string {
    return require("path").join(__dirname, "main.ts");
}

export function bundleBalancer(entry: string): string {
    return bundleNodeScript(entry, "coreos-cluster local load balancer (bundled from components/local/balancer by bundle.ts)");
}

let cachedDigest: string | undefined;
/** sha256 of the bundle: a changed balancer source restarts the balancer. */
export function balancerDigest(): string {
    if (cachedDigest === undefined) {
        const crypto: typeof import("crypto") = require("crypto");
        cachedDigest = crypto.createHash("sha256").update(bundleBalancer(balancerEntry())).digest("hex");
    }
    return cachedDigest;
}
