// What the local platform runs for a worker's router unit, read from the unit TEXT of the
// user-data like everything else the local boot does: the unit's ROUTER_* environment, with its
// paths under the machine's root. GCE runs the same router.js in the pinned HAProxy image; here it
// runs with this machine's node and Debian's haproxy. The unit's name and variables come from the
// contract both sides share (model/router-contract.ts). Pure.
import type { BootProblem } from "./boot-error";
import { ROUTER_CAPABILITIES, ROUTER_ENV, ROUTER_PATH_VARIABLES, ROUTER_REQUIRED, ROUTER_UNIT, ROUTER_VARIABLES } from "../../model/router-contract";
import { serviceEnvironment } from "./systemd-env";
import { underRoot } from "./write-files";

/** The unit cloud-config renders (model/router-contract.ts's ROUTER_UNIT). */
export const LOCAL_ROUTER_UNIT = ROUTER_UNIT;

/**
 * The local stand-in for the container's `--cap-drop ALL`, `--cap-add` of each ROUTER_CAPABILITIES and
 * `--security-opt no-new-privileges`: util-linux's setpriv as an argv prefix. Root keeps only those
 * capabilities (bounding set), and so does HAProxy, its child.
 */
export function routerPrivilegeArgv(): string[] {
    const caps = ROUTER_CAPABILITIES.map((c) => `+${c.name.toLowerCase()}`).join(",");
    return ["setpriv", "--no-new-privs", "--inh-caps=-all", `--bounding-set=-all,${caps}`];
}

/**
 * The longest unix socket path HAProxy binds: sun_path is 108 bytes with its NUL, but HAProxy binds
 * `<path>.<pid>.tmp` first and renames it, and refuses a path over 97 bytes ("too long (max 97)",
 * seen with Debian's 2.6): test/components/local/router-run-dir.test.ts binds each length for real.
 */
export const MAX_SOCKET_PATH_BYTES = 97;
/** The longest socket name the router puts in its run dir (router/haproxy-config.ts, router/watcher.ts). */
const LONGEST_SOCKET_NAME = "haproxy.sock";

/** The run dir the router of the machine at `root` gets: its own, or a short one when a socket there would be too long. */
export function routerRunDir(root: string, runDir: string): string {
    return Buffer.byteLength(`${runDir}/${LONGEST_SOCKET_NAME}`) > MAX_SOCKET_PATH_BYTES ? shortRunDir(root) : runDir;
}

/** A run dir for the router of the machine at `root`, short enough for any socket name it uses. */
export function shortRunDir(root: string): string {
    const crypto: typeof import("crypto") = require("crypto");
    return `/tmp/coreos-router-${crypto.createHash("sha256").update(root).digest("hex").slice(0, 16)}`;
}

export interface RouterBootPlan {
    /** The bundled watcher, under the machine's root (written by write_files). */
    script: string;
    /** The exact ROUTER_* environment the watcher is started with. */
    env: Record<string, string>;
    /** Where the local boot waits for the router to report healthy. */
    healthUrl: string;
    /** The argv prefix that starts the watcher with only the container's capabilities (routerPrivilegeArgv). */
    privileges: string[];
}

export function routerBootPlan(
    unit: Record<string, unknown>,
    where: string,
    root: string,
    hostname: string,
    problems: BootProblem[],
    ignored: string[],
): RouterBootPlan | undefined {
    if (typeof unit.content !== "string") {
        problems.push({ key: `${where}.content`, message: `${LOCAL_ROUTER_UNIT} has no unit text` });
        return undefined;
    }
    let parsed;
    try {
        parsed = serviceEnvironment(unit.content, hostname);
    } catch (err) {
        problems.push({ key: `${where}.content`, message: (err as Error).message });
        return undefined;
    }
    const env: Record<string, string> = {};
    const known: readonly string[] = ROUTER_VARIABLES;
    for (const { name, value } of parsed.assignments) {
        if (known.includes(name)) env[name] = value;
        else if (name.startsWith("ROUTER_")) ignored.push(`${where}: ${name} (not a variable of the router's contract, model/router-contract.ts)`);
    }
    // The watcher's own required variables, and the script the unit runs.
    const missing = [ROUTER_ENV.script, ...ROUTER_REQUIRED].filter((name) => !env[name]);
    if (missing.length > 0) {
        problems.push({ key: `${where}.content`, message: `${LOCAL_ROUTER_UNIT} does not set ${missing.join(", ")}` });
        return undefined;
    }
    for (const name of ROUTER_PATH_VARIABLES) if (env[name]) env[name] = underRoot(root, env[name]);
    // HAProxy's sockets live in the run dir, and HAProxy binds a socket path of at most 97 bytes: a
    // root deep in a checkout or a temp folder gets a short run dir of its own instead (removed with the root).
    if (env[ROUTER_ENV.runDir]) env[ROUTER_ENV.runDir] = routerRunDir(root, env[ROUTER_ENV.runDir]);
    for (const line of parsed.otherServiceLines) {
        if (/^Exec/.test(line)) ignored.push(`${where}: ${line.split(" --")[0]} (the container; locally router.js runs with this machine's node and Debian's haproxy)`);
    }
    const host = env[ROUTER_ENV.healthBind] || env[ROUTER_ENV.bind];
    return { script: env[ROUTER_ENV.script], env, healthUrl: `http://${host}:${env[ROUTER_ENV.healthPort]}${env[ROUTER_ENV.healthPath]}`, privileges: routerPrivilegeArgv() };
}
