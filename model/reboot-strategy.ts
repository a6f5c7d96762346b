// Which update reboot strategy each role renders (issue 23, item 7). locksmith's etcd-lock is a
// semaphore in etcd whose holders are machine ids, with no TTL: a holder releases it only after its
// own reboot. A worker the managed group deletes while holding it (autoheal, scale-in, a rolling
// replace) never comes back to release it, and no worker of its group reboots for an update again.
// So workers never take the lock: etcd-lock on a worker renders `off`, and workers take updates
// the way cattle do, through the group's surge-only rolling replace (a new template, new VMs first).
// Members keep etcd-lock: they are never deleted by automation (protected, ignoreChanges), and a
// member replaced by hand is released by hand (docs/gce.md).
// No imports beyond types: pure.
import type { MachineRole, RebootStrategy } from "./types";

export function rebootStrategyFor(role: MachineRole, configured: RebootStrategy): RebootStrategy {
    if (role === "worker" && configured === "etcd-lock") return "off";
    return configured;
}

/** Whether a role's machines take locksmith's etcd semaphore at all. */
export function takesRebootLock(role: MachineRole, configured: RebootStrategy): boolean {
    return rebootStrategyFor(role, configured) === "etcd-lock";
}
