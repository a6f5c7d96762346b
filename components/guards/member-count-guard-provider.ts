// The member-count guard's operations, bundled with what they import (components/services/bundled-provider.ts):
// the engine stores this bundle as the guard's provider. Pure: no I/O.
import type { ProviderOperations } from "../services/bundled-provider";
import { memberCountChangeProblems } from "../../model/quorum";
import type { MemberCountGuardState } from "./member-count-guard";

export const provider: ProviderOperations = {
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
