// LocalTlsStore: the local platform's Secret Manager (components/local/tls-store.ts). One resource
// holds every bundle of the cluster (one per member, one for the workers) as files of a root-only
// folder under the stack's data dir; the machines' boot reads its own from there (the simulated
// coreos-tls-fetch.service). Once written, a bundle's content is changed by LocalTlsRollout
// (tls-rollout-provider.ts), which rolls it onto the running machines. The payloads (private keys) are secret inputs: they are in state only
// as secrets, never in a plain output. Destroy removes the bundles and, once empty, the folder.
//
// The provider's side of LocalTlsStore (local-tls-store.ts is the resource). It reaches the engine as one bundle
// of its modules (components/services/bundled-provider.ts), exported as `provider`.
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderOperations } from "../services/bundled-provider";
import { bundlePath, removeBundle, writeBundle } from "./tls-store";

export interface LocalTlsStoreInputs {
    /** The store folder (storeDir of the stack's data dir). */
    dir: string;
    /** Payload (encodeBundle) by secret id. Secret. */
    bundles: Record<string, string>;
    providerVersion: string;
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export const provider: ProviderOperations = {
    async check(_olds: LocalTlsStoreInputs, news: LocalTlsStoreInputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const unknown = (v: unknown) => v === UNKNOWN; // values a preview does not know yet
        if (!unknown(news.dir) && (typeof news.dir !== "string" || !news.dir.startsWith("/"))) failures.push({ property: "dir", reason: "LocalTlsStore: dir must be an absolute path" });
        const bundles = news.bundles as unknown;
        if (!unknown(bundles)) {
            if (typeof bundles !== "object" || bundles === null || Array.isArray(bundles)) failures.push({ property: "bundles", reason: "LocalTlsStore: bundles must map secret ids to payloads" });
            else {
                for (const [secretId, payload] of Object.entries(bundles)) {
                    try {
                        bundlePath("/", secretId); // the store's own rule for a secret id
                    } catch (err) {
                        failures.push({ property: "bundles", reason: `LocalTlsStore: ${(err as Error).message}` });
                    }
                    if (!unknown(payload) && typeof payload !== "string") failures.push({ property: "bundles", reason: `LocalTlsStore: the payload of "${secretId}" must be text` });
                }
            }
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: LocalTlsStoreInputs, news: LocalTlsStoreInputs) {
        const changes = olds.dir !== news.dir || JSON.stringify(olds.bundles) !== JSON.stringify(news.bundles) || olds.providerVersion !== news.providerVersion;
        return { changes, replaces: olds.dir !== news.dir ? ["dir"] : [], deleteBeforeReplace: false };
    },
    async create(inputs: LocalTlsStoreInputs) {
        for (const [secretId, payload] of Object.entries(inputs.bundles)) writeBundle(inputs.dir, secretId, payload);
        return { id: inputs.dir, outs: inputs };
    },
    async read(id: string, props: LocalTlsStoreInputs) {
        // A bundle removed by hand is written again by the next up (the diff sees the state, read sees the files).
        const fs: typeof import("fs") = require("fs");
        const path: typeof import("path") = require("path");
        const present = Object.fromEntries(Object.entries(props.bundles ?? {}).filter(([secretId]) => fs.existsSync(path.join(props.dir, `${secretId}.bundle`))));
        return { id, props: { ...props, bundles: present } };
    },
    async update(_id: string, olds: LocalTlsStoreInputs, news: LocalTlsStoreInputs) {
        // A bundle machines already hold changes only through the rollout (LocalTlsRollout), in
        // phases no handshake fails in; here only bundles no machine has read yet are written.
        for (const [secretId, payload] of Object.entries(news.bundles)) if (olds.dir !== news.dir || !(secretId in (olds.bundles ?? {}))) writeBundle(news.dir, secretId, payload);
        for (const secretId of Object.keys(olds.bundles ?? {})) if (!(secretId in news.bundles)) removeBundle(olds.dir, secretId);
        return { outs: news };
    },
    async delete(_id: string, props: LocalTlsStoreInputs) {
        for (const secretId of Object.keys(props.bundles ?? {})) removeBundle(props.dir, secretId);
    },
};
