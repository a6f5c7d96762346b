/** One reason a local machine cannot boot its user-data, naming the cloud-config key. */
export interface BootProblem {
    key: string;
    message: string;
}

/** The user-data of a machine cannot be booted; the message names the machine and every offending key. */
export interface BootError extends Error {
    name: "BootError";
    machine: string;
    problems: BootProblem[];
}

// A plain Error with fields, not a subclass: callers in other bundles (the provider's, the balancer's)
// and the program see the same shape, whichever copy of this module made it.
export function bootError(machine: string, problems: BootProblem[]): BootError {
    const message =
        `machine ${machine}: cannot boot its user-data: ` +
        problems.map((p) => (p.key ? `${p.key}: ${p.message}` : p.message)).join("; ");
    return Object.assign(new Error(message), { name: "BootError" as const, machine, problems });
}

export function isBootError(err: unknown): err is BootError {
    return err instanceof Error && err.name === "BootError" && Array.isArray((err as BootError).problems);
}
