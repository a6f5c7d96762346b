// Least privilege in etcd (issue 21, item 4), as data: which etcd users exist, which roles they
// hold and what each role may touch. Pure: components/etcd/etcd-auth.ts converges a real cluster
// to this plan, and docs/security.md's table says the same in words (model/pki-plan.ts
// CLIENT_IDENTITIES). With --client-cert-auth a gRPC client's certificate Common Name is its user
// name, so the user names are the client identities' Common Names.
//
// Facts this rests on, checked against Debian's etcd 3.4.23 (test/components/etcd/etcd-auth.test.ts):
// - `auth enable` needs a user named `root` holding the `root` role.
// - A certificate's CN authenticates gRPC requests only. The JSON gateway (`/v3/...` over HTTP on
//   the client port) logs "CommonName of client sending a request against gateway will be ignored"
//   and a request with no token is refused: a JSON-gateway client (the router) authenticates with a
//   password and sends the token `/v3/auth/authenticate` returns.
// - v3 roles cover the v3 keyspace only. The v2 API (fleet, locksmith, the providers' v2 mirror)
//   has its own auth, which is not turned on: there a valid client certificate is the whole check.
import { createHash } from "crypto";
import { OWNER_NAMESPACE } from "./service-naming";

export type Permission = "read" | "write" | "readwrite";

export interface Grant {
    /** A key prefix (always a prefix grant here), e.g. `/services/`. */
    prefix: string;
    permission: Permission;
}

export interface RolePlan {
    name: string;
    grants: Grant[];
}

export interface UserPlan {
    /** The client certificate's Common Name. */
    name: string;
    roles: string[];
    /** True when the user also has a password (derived from its key: etcdPasswordFromKey). */
    password: boolean;
    why: string;
}

export interface EtcdAuthPlan {
    users: UserPlan[];
    roles: RolePlan[];
}

/** etcd's built-in superuser role and user; `auth enable` refuses without them. */
export const ROOT = "root";

/** The prefix grant of a services prefix: `/services` -> `/services/` (its keys, not `/services-other`). */
export function underPrefix(prefix: string): string {
    return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** Where each machine reports the TLS bundle it holds (cloud-config/tls-refresh.ts), one key per machine with a lease. */
export const TLS_STATUS_PREFIX = "/coreos-cluster/tls-status";
/** The lock members take to restart etcd one at a time for a new CA file (`etcdctl lock`). */
export const TLS_RESTART_LOCK = "/coreos-cluster/tls-restart";

/** Users and roles for a cluster whose services live under `servicesPrefix`, with these members. */
export function planEtcdAuth(servicesPrefix: string, memberNames: readonly string[] = []): EtcdAuthPlan {
    const services = underPrefix(servicesPrefix);
    const owners = underPrefix(`${OWNER_NAMESPACE}${servicesPrefix}`);
    return {
        roles: [
            { name: "services-read", grants: [{ prefix: services, permission: "read" }] },
            { name: "services-owner", grants: [{ prefix: services, permission: "readwrite" }, { prefix: owners, permission: "readwrite" }] },
            { name: "tls-report", grants: [{ prefix: underPrefix(TLS_STATUS_PREFIX), permission: "readwrite" }] },
            { name: "tls-restart", grants: [{ prefix: underPrefix(TLS_RESTART_LOCK), permission: "readwrite" }] },
            { name: "tls-status-read", grants: [{ prefix: underPrefix(TLS_STATUS_PREFIX), permission: "read" }] },
        ],
        users: [
            { name: ROOT, roles: [ROOT], password: false, why: "etcd requires it to turn auth on; held only by the deploy step that converges these users and roles" },
            { name: "router", roles: ["services-read"], password: true, why: "routers only follow the service keys; the password is for the JSON gateway, which ignores certificate names" },
            {
                name: "sidekick",
                roles: ["services-owner", "tls-report"],
                password: false,
                why: "a sidekick writes its service's hosts and keeps fleet's ownership marker alive; every worker holds the same sidekick identity and any worker may run any service's sidekick, so no grant narrower than the prefix (and its markers) can tell services apart",
            },
            { name: "deployer", roles: ["services-owner", "tls-status-read"], password: false, why: "Pulumi's providers write the services and their ownership markers; a certificate rollout reads the machines' reports before its next phase" },
            { name: "consumer", roles: ["services-owner"], password: false, why: "other stacks register services the same way; they get no CA key and no other grant" },
            // A member's server certificate (CN = its name) as a client: its refresh reports and takes the restart lock.
            ...memberNames.map((name) => ({
                name,
                roles: ["tls-report", "tls-restart"],
                password: false,
                why: "a member's refresh reports the bundle it holds and takes the cluster's restart lock to restart etcd for a new CA file, one member at a time",
            })),
        ],
    };
}

/**
 * The password of a user that must also authenticate where certificate names are ignored (the JSON
 * gateway): derived from that identity's private key, so whoever holds the key (the router on every
 * worker, the deploy step that sets it) knows it, and nothing new has to be stored or delivered.
 * A new key (renewal) gives a new password, which the same `up` sets.
 */
export function etcdPasswordFromKey(user: string, keyPem: string): string {
    return createHash("sha256").update(`coreos-cluster etcd password v1\n${user}\n${keyPem.trim()}\n`).digest("hex");
}
