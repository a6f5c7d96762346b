// TlsRolloutPlan: remembers which bundles the machines were last given and turns a change into the
// slots of a rollout (model/tls-rollout.ts), for a platform that rolls each slot with resources of
// its own (GCE: a Secret Manager version and a phase wait per slot). Its state is the only memory of
// "what the machines hold": read returns it as it is. Bundled (bundled-provider.ts): nothing captured.
import type * as pulumi from "@pulumi/pulumi";
import { planRollout, rolloutSlots, RolloutSlot } from "../../model/tls-rollout";

export interface TlsRolloutPlanInputs {
    providerVersion: string;
    /** Target payload by secret id (the machines' bundles and the deployer's own). Secret. */
    bundles: Record<string, string>;
}

export interface TlsRolloutPlanState extends TlsRolloutPlanInputs {
    /** Secret: the phases of the last change, padded with the target (model/tls-rollout.ts rolloutSlots). */
    slots: RolloutSlot[];
}

export const provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">> = {
    async check(_olds, news) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const bundles = news.bundles;
        if (bundles === null || typeof bundles !== "object" || Object.values(bundles).some((b) => typeof b !== "string")) failures.push({ property: "bundles", reason: "must map secret ids to payloads" });
        return { inputs: news, failures };
    },
    async diff(_id, olds: TlsRolloutPlanState, news: TlsRolloutPlanInputs) {
        const changes = JSON.stringify(olds.bundles) !== JSON.stringify(news.bundles) || olds.providerVersion !== news.providerVersion;
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: TlsRolloutPlanInputs) {
        // New machines fetch the target at boot: nothing to roll.
        return { id: "tls-rollout-plan", outs: { ...inputs, slots: rolloutSlots([], inputs.bundles) } };
    },
    async read(id, props: TlsRolloutPlanState) {
        return { id, props };
    },
    async update(_id, olds: TlsRolloutPlanState, news: TlsRolloutPlanInputs) {
        return { outs: { ...news, slots: rolloutSlots(planRollout(olds.bundles ?? {}, news.bundles), news.bundles) } };
    },
    async delete() {
        /* Only state. */
    },
};
