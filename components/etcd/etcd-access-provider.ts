// The provider of EtcdAccess (components/etcd/etcd-access.ts): converges etcd's users, roles and
// grants to model/etcd-auth.ts's plan and turns auth on, with the root identity, through the same
// connection (and SSH tunnel) the service providers use. Shipped as a bundle (bundled-provider.ts).
import type * as pulumi from "@pulumi/pulumi";
import { EtcdConnectionArgs, withEtcd } from "./etcd-client";
import { convergeEtcdAuth } from "./etcd-auth";
import { etcdPasswordFromKey, planEtcdAuth } from "../../model/etcd-auth";
import { waitForEtcd } from "../services/cluster-wait";

export interface EtcdAccessInputs {
    /** The root identity's connection (tls: CA, root certificate and key). Secret. */
    connection: EtcdConnectionArgs;
    servicesPrefix: string;
    /** The members' names: each is a user (its server certificate's CN) that reports its TLS bundle and takes the restart lock. */
    memberNames?: string[];
    /** Private keys of the users that also need a password (the router): the password is derived. Secret. */
    passwordKeys: Record<string, string>;
    clusterWaitSeconds?: number;
    providerVersion: string;
}

export interface EtcdAccessState extends EtcdAccessInputs {
    /** What the last convergence changed, and what etcd holds that the plan does not manage. */
    changes: string[];
    unmanaged: string[];
}

async function converge(inputs: EtcdAccessInputs): Promise<EtcdAccessState> {
    const plan = planEtcdAuth(inputs.servicesPrefix, inputs.memberNames ?? []);
    const passwords = Object.fromEntries(Object.entries(inputs.passwordKeys).map(([user, key]) => [user, etcdPasswordFromKey(user, key)]));
    if (inputs.clusterWaitSeconds) await waitForEtcd(inputs.connection, { timeoutSeconds: inputs.clusterWaitSeconds });
    const result = await withEtcd(inputs.connection, (session) => session.run("converge etcd auth", (client) => convergeEtcdAuth(client, plan, passwords)));
    return { ...inputs, changes: result.changes, unmanaged: result.unmanaged };
}

export const provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">> = {
    async check(_olds, news) {
        return { inputs: news, failures: [] };
    },
    async diff(_id, olds: EtcdAccessState, news: EtcdAccessInputs) {
        const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
        const changes = !same(olds.connection, news.connection) || olds.servicesPrefix !== news.servicesPrefix || !same(olds.memberNames ?? [], news.memberNames ?? []) || !same(olds.passwordKeys, news.passwordKeys) || olds.providerVersion !== news.providerVersion;
        return { changes };
    },
    async create(inputs: EtcdAccessInputs) {
        return { id: "etcd-access", outs: await converge(inputs) };
    },
    async read(id, props) {
        return { id, props };
    },
    async update(_id, _olds, news: EtcdAccessInputs) {
        return { outs: await converge(news) };
    },
    async delete() {
        // Auth stays on: turning it off would open the cluster; the cluster's own destroy removes it all.
    },
};
