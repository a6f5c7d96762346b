// Rotation in place on GCE (issue 21, item 5): new certificates reach running VMs in the phases of
// model/tls-rollout.ts. Per phase slot, each secret gets a version with that phase's bundle (a
// machine reads `latest`, the version created last), then a wait until every machine reports it
// holds the phase (its refresh timer fetched it; members that needed it restarted etcd one at a
// time under the cluster's lock: cloud-config/tls-refresh.ts). The next slot's versions are created
// only after that wait. A renewal is one phase, a CA rotation three; the slots left hold the target
// again and wait for nothing. A VM created mid-rollout (autohealing at 3 a.m.) fetches `latest`,
// the phase in progress, which every other machine already trusts.
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { decodeBundle, SecretBundle } from "../../model/pki-delivery";
import { phaseExpectations, ROLLOUT_SLOTS, RolloutSlot } from "../../model/tls-rollout";
import { TLS_REFRESH_PERIOD_S } from "../../cloud-config/tls-refresh";
import { TlsRolloutPlan } from "../pki/tls-rollout-plan";
import type { EtcdConnectionArgs } from "../etcd/etcd-client";
import { bundlePayload, TlsSecretsPki } from "./tls-secrets";
import { TlsPhaseWait } from "./tls-phase-wait";

/** The deployer's own certificate travels through the plan beside the machines' bundles (never to a machine). */
export const DEPLOYER_BUNDLE = "deployer";
/** A phase that has not reached every machine within this is reported, naming the machines. */
export const PHASE_TIMEOUT_S = 15 * 60;

export interface GceTlsRolloutArgs {
    bundles: SecretBundle[];
    pki: TlsSecretsPki;
    /** The Secret Manager secret of each bundle, by holder (TlsSecrets.secrets). */
    secrets: Record<string, gcp.secretmanager.Secret>;
    /** How the deployer reaches etcd (endpoints and the SSH tunnel); absent: the waits cannot observe and wait by the clock. */
    deployerAccess?: Pick<EtcdConnectionArgs, "endpoints" | "sshTunnel">;
}

export class GceTlsRollout extends pulumi.ComponentResource {
    /** By slot, then by holder. */
    public readonly versions: Array<Record<string, gcp.secretmanager.SecretVersion>>;
    public readonly waits: TlsPhaseWait[];

    constructor(name: string, args: GceTlsRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:GceTlsRollout", name, {}, opts);
        const { bundles, pki } = args;
        const target = pulumi.all([pki.trustBundle, pki.issued, pki.keys]).apply(([trust, issued, keys]) => ({
            ...Object.fromEntries(bundles.map((b) => [b.secretId, bundlePayload(b, trust, issued, keys)])),
            [DEPLOYER_BUNDLE]: bundlePayload({ secretId: DEPLOYER_BUNDLE, holder: DEPLOYER_BUNDLE, certificateIds: ["deployer"] }, trust, issued, keys),
        }));
        const plan = new TlsRolloutPlan(`${name}-plan`, { bundles: target }, { parent: this });
        const memberSecrets = Object.fromEntries(bundles.filter((b) => b.holder !== "worker").map((b) => [b.holder, b.secretId]));
        const workerSecret = bundles.find((b) => b.holder === "worker")!.secretId;
        const members = Object.keys(memberSecrets).length;

        this.versions = [];
        this.waits = [];
        for (let k = 0; k < ROLLOUT_SLOTS; k++) {
            const slot = plan.slots.apply((slots) => slots[k]);
            const after = k > 0 ? [this.waits[k - 1]] : [];
            const versions: Record<string, gcp.secretmanager.SecretVersion> = {};
            for (const bundle of bundles) {
                // The last slot keeps the name the single version had: a stack's final version is the same resource.
                const versionName = k === ROLLOUT_SLOTS - 1 ? bundle.secretId : `${bundle.secretId}-phase-${k + 1}`;
                versions[bundle.holder] = new gcp.secretmanager.SecretVersion(
                    versionName,
                    { secret: args.secrets[bundle.holder].id, secretData: pulumi.secret(slot.apply((s) => s.bundles[bundle.secretId])) },
                    { parent: this, dependsOn: after },
                );
            }
            this.versions.push(versions);
            const connection = args.deployerAccess
                ? pulumi.secret(slot.apply((s): EtcdConnectionArgs => ({ ...args.deployerAccess!, tls: deployerTls(s) })))
                : undefined;
            this.waits.push(
                new TlsPhaseWait(
                    `${name}-phase-${k + 1}`,
                    {
                        phase: slot.apply((s) => s.name),
                        roll: slot.apply((s) => s.roll),
                        expected: slot.apply((s) => phaseExpectations(s, memberSecrets, workerSecret)),
                        ...(connection ? { connection } : {}),
                        timeoutSeconds: PHASE_TIMEOUT_S,
                        // Every machine's timer has run twice, and each member had a minute to restart.
                        blindWaitSeconds: 2 * TLS_REFRESH_PERIOD_S + 60 * members,
                    },
                    { parent: this, dependsOn: Object.values(versions) },
                ),
            );
        }
        this.registerOutputs({});
    }
}

/** The deployer's TLS in a slot: the CA file and its own certificate as of that phase. */
function deployerTls(slot: RolloutSlot): EtcdConnectionArgs["tls"] {
    const files = decodeBundle(slot.bundles[DEPLOYER_BUNDLE]);
    return { ca: files["ca.pem"], cert: files["deployer.pem"], key: files["deployer-key.pem"] };
}
