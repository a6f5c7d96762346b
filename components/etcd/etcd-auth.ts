// Converges a running etcd's v3 auth store to model/etcd-auth.ts's plan: the roles with exactly
// their grants, the users with exactly their roles (and the password of those that need one), then
// auth on. Idempotent: a second run on a converged cluster changes nothing but the passwords it
// sets again (a password hash cannot be read back to compare). Runs with the `root` identity (its
// client certificate's CN is `root`). Users and roles the plan does not name are left alone and
// reported (an operator's own users keep working). npm modules are required inside functions:
// provider bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import type { Etcd3 } from "etcd3";
import { EtcdAuthPlan, Grant, Permission, ROOT } from "../../model/etcd-auth";

export interface AuthConvergence {
    /** What was changed, in words (`role services-read: grant read /services/`). */
    changes: string[];
    /** Users and roles present in etcd that the plan does not manage. */
    unmanaged: string[];
}

const PERM_TYPE: Record<Permission, "Read" | "Write" | "Readwrite"> = { read: "Read", write: "Write", readwrite: "Readwrite" };

/** The end of the range a prefix covers (etcd's prefix convention). */
function prefixEnd(prefix: string): Buffer {
    const bytes = Buffer.from(prefix, "utf8");
    for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] < 0xff) return Buffer.concat([bytes.subarray(0, i), Buffer.from([bytes[i] + 1])]);
    }
    return Buffer.from([0]);
}

function permTypeName(t: unknown): string {
    // The gRPC loader gives the enum's name ("Read") or its number (0).
    if (typeof t === "number") return ["Read", "Write", "Readwrite"][t] ?? String(t);
    return String(t);
}

function sameGrant(perm: { permType: unknown; key: Buffer; range_end: Buffer }, grant: Grant): boolean {
    return (
        permTypeName(perm.permType) === PERM_TYPE[grant.permission] &&
        Buffer.from(perm.key).equals(Buffer.from(grant.prefix, "utf8")) &&
        Buffer.from(perm.range_end ?? Buffer.alloc(0)).equals(prefixEnd(grant.prefix))
    );
}

function describePerm(perm: { permType: unknown; key: Buffer; range_end: Buffer }): string {
    return `${permTypeName(perm.permType).toLowerCase()} ${Buffer.from(perm.key).toString("utf8")}..${Buffer.from(perm.range_end ?? Buffer.alloc(0)).toString("utf8")}`;
}

/**
 * Whether auth is on. etcd 3.4 has no AuthStatus call (3.5 added it); its Authenticate answers
 * "authentication is not enabled" while auth is off, and refuses a bad password once it is on.
 */
export async function authEnabled(client: Etcd3): Promise<boolean> {
    try {
        return (await client.auth.authStatus()).enabled;
    } catch (err) {
        if (!/UNIMPLEMENTED|unknown method/i.test(String((err as Error).message))) throw err;
    }
    try {
        await client.auth.authenticate({ name: ROOT, password: "" });
        return true;
    } catch (err) {
        if (/not enabled/i.test(String((err as Error).message))) return false;
        return true;
    }
}

/**
 * Brings users, roles and grants to `plan` and turns auth on. `passwords` holds the password of
 * every planned user with `password: true` (etcdPasswordFromKey). Never logs a password.
 */
export async function convergeEtcdAuth(client: Etcd3, plan: EtcdAuthPlan, passwords: Readonly<Record<string, string>>): Promise<AuthConvergence> {
    const auth = client.auth;
    const changes: string[] = [];
    for (const user of plan.users) {
        if (user.password && !passwords[user.name]) throw new Error(`etcd auth: no password for user ${user.name}`);
    }
    const roles = new Set((await auth.roleList()).roles ?? []);
    const wantedRoles = [ROOT, ...plan.roles.map((r) => r.name)];
    for (const name of wantedRoles) {
        if (!roles.has(name)) {
            await auth.roleAdd({ name });
            changes.push(`role ${name}: created`);
        }
    }
    for (const role of plan.roles) {
        const perms = ((await auth.roleGet({ role: role.name } as never)).perm ?? []) as unknown as Array<{ permType: unknown; key: Buffer; range_end: Buffer }>;
        for (const perm of perms) {
            if (!role.grants.some((g) => sameGrant(perm, g))) {
                await auth.roleRevokePermission({ role: role.name, key: Buffer.from(perm.key), range_end: Buffer.from(perm.range_end ?? Buffer.alloc(0)) });
                changes.push(`role ${role.name}: revoked ${describePerm(perm)}`);
            }
        }
        for (const grant of role.grants) {
            if (!perms.some((p) => sameGrant(p, grant))) {
                await auth.roleGrantPermission({ name: role.name, perm: { permType: PERM_TYPE[grant.permission], key: Buffer.from(grant.prefix, "utf8"), range_end: prefixEnd(grant.prefix) } });
                changes.push(`role ${role.name}: granted ${grant.permission} ${grant.prefix}`);
            }
        }
    }
    const users = new Set((await auth.userList()).users ?? []);
    for (const user of plan.users) {
        if (!users.has(user.name)) {
            await auth.userAdd(user.password ? { name: user.name, password: passwords[user.name] } : { name: user.name, options: { no_password: true } });
            changes.push(`user ${user.name}: created`);
        } else if (user.password) {
            await auth.userChangePassword({ name: user.name, password: passwords[user.name] });
        }
        const has = new Set((await auth.userGet({ name: user.name })).roles ?? []);
        for (const role of user.roles) {
            if (!has.has(role)) {
                await auth.userGrantRole({ user: user.name, role });
                changes.push(`user ${user.name}: granted role ${role}`);
            }
        }
        for (const role of has) {
            if (!user.roles.includes(role)) {
                await auth.userRevokeRole({ name: user.name, role });
                changes.push(`user ${user.name}: revoked role ${role}`);
            }
        }
    }
    if (!(await authEnabled(client))) {
        await auth.authEnable();
        changes.push("auth enabled");
    }
    const unmanaged = [
        ...[...users].filter((u) => !plan.users.some((p) => p.name === u)).map((u) => `user ${u}`),
        ...[...roles].filter((r) => !wantedRoles.includes(r)).map((r) => `role ${r}`),
    ];
    return { changes, unmanaged };
}
