// Refuses a change of the deployed etcd member count that quorum cannot survive.
// Stack config alone cannot know what is deployed; the engine can: it hands this
// resource's `check` the inputs recorded at the last deployment. `check` runs while
// the engine generates steps, in registration order, and the guard is registered
// before the cluster, so a refused change stops the update before any member changes.
import * as pulumi from "@pulumi/pulumi";
import { memberCountChangeProblems } from "../../model/quorum";

export const MEMBER_COUNT_GUARD_VERSION = "1";

export interface MemberCountGuardState {
    memberCount: number;
    isDev: boolean;
    providerVersion: string;
}

export const memberCountGuardProvider: pulumi.dynamic.ResourceProvider = {
    async check(olds: Partial<MemberCountGuardState>, news: MemberCountGuardState) {
        const deployed = olds && typeof olds.memberCount === "number" ? olds.memberCount : undefined;
        const failures =
            deployed === undefined
                ? []
                : memberCountChangeProblems(deployed, news.memberCount, news.isDev).map((p) => ({
                      property: "memberCount",
                      reason: `${p.key}: ${p.message}`,
                  }));
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: MemberCountGuardState, news: MemberCountGuardState) {
        const changes =
            olds.memberCount !== news.memberCount || olds.isDev !== news.isDev || olds.providerVersion !== news.providerVersion;
        return { changes, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: MemberCountGuardState) {
        return { id: "etcd-member-count", outs: { ...inputs } };
    },
    async read(id: string, props: MemberCountGuardState) {
        return { id, props };
    },
    async update(_id: string, _olds: MemberCountGuardState, news: MemberCountGuardState) {
        return { outs: { ...news } };
    },
    async delete() {
        // Nothing outside the engine's state.
    },
};

export interface MemberCountGuardArgs {
    memberCount: pulumi.Input<number>;
    isDev: pulumi.Input<boolean>;
}

export class MemberCountGuard extends pulumi.dynamic.Resource {
    declare readonly memberCount: pulumi.Output<number>;

    constructor(name: string, args: MemberCountGuardArgs, opts?: pulumi.CustomResourceOptions) {
        super(memberCountGuardProvider, name, { ...args, providerVersion: MEMBER_COUNT_GUARD_VERSION }, opts, "coreos-cluster:MemberCountGuard");
    }
}
