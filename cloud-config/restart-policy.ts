// How the long-running container units restart (issue 23, item 4). systemd's default start limit is
// 5 starts in 10 s, and a unit with Restart= that reaches it is never restarted again: with
// RestartSec=1 a failing image pull ended the router failed for good, and autohealing then
// recreated the VM, which pulled again. Here the unit never ends failed (StartLimitIntervalSec=0
// turns the start limit off) and the retries back off instead: RestartSec grows in RestartSteps
// exponential steps to RestartMaxDelaySec (systemd 254 and later, which Flatcar ships; an older
// systemd ignores the two keys with a warning and retries every RestartSec). The cap stays short
// because systemd does not reset the step count after a good start: a router that crashes weeks
// later still comes back within the cap. Pure.

export interface RestartPolicy {
    /** [Unit]: 0 = no start limit, so automatic restarts never end in a failed unit. */
    startLimitIntervalSec: number;
    /** [Service] */
    restartSec: number;
    restartSteps: number;
    restartMaxDelaySec: number;
    /** [Service]: a first pull of the images may take minutes on a slow link. */
    timeoutStartSec: number;
}

export const CONTAINER_RESTART_POLICY: RestartPolicy = {
    startLimitIntervalSec: 0,
    restartSec: 2,
    restartSteps: 5,
    restartMaxDelaySec: 60,
    timeoutStartSec: 300,
};

/** The [Unit] line(s): start limiting lives in [Unit] since systemd 230. */
export function unitStartLimitLines(p: RestartPolicy = CONTAINER_RESTART_POLICY): string[] {
    return [`StartLimitIntervalSec=${p.startLimitIntervalSec}`];
}

/** The [Service] lines. */
export function serviceRestartLines(p: RestartPolicy = CONTAINER_RESTART_POLICY): string[] {
    return ["Restart=always", `RestartSec=${p.restartSec}`, `RestartSteps=${p.restartSteps}`, `RestartMaxDelaySec=${p.restartMaxDelaySec}`, `TimeoutStartSec=${p.timeoutStartSec}`];
}

/**
 * The restart delays systemd uses, in seconds (its service_restart_usec_next: r_i = r_0 * (r_n / r_0)^(i / n),
 * the cap after n steps). For the docs and the tests: the retries back off and never stop.
 */
export function restartDelays(p: RestartPolicy, count: number): number[] {
    return Array.from({ length: count }, (_, i) => (i >= p.restartSteps ? p.restartMaxDelaySec : p.restartSec * Math.pow(p.restartMaxDelaySec / p.restartSec, i / p.restartSteps)));
}
