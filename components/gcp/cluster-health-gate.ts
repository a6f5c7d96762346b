// A gate between "the VMs exist" and "the cluster serves": over SSH (to a member or a
// bastion in the VPC) it waits, for a bounded time, until `etcdctl endpoint health`
// passes on every member. The providers that write into etcd and fleet depend on it, so
// they never race a cluster that is still bootstrapping.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { SshTunnelSpec } from "../../model/types";

export interface ClusterHealthGateArgs {
    /** Client URLs of every member (e.g. `http://10.10.0.2:2379`). */
    clientUrls: pulumi.Input<string[]>;
    sshTunnel: SshTunnelSpec;
    /** Attempts before giving up; with `intervalSeconds` this bounds the wait. */
    attempts?: number;
    intervalSeconds?: number;
    /** Resources that must exist before the check can succeed (the members). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /**
     * Seconds the SSH dial may keep retrying while the member boots, its cloud-config installs the
     * key and the IAP tunnel comes up (coreos-cluster:clusterWaitSeconds); default 600.
     */
    dialWaitSeconds?: number;
}

/** pulumi-command's dial loop (its provider's remote/connection.go): the SDK's retry.Until, 100 ms growing 1.5x to 5 s. */
const DIAL_FIRST_DELAY_S = 0.1;
const DIAL_BACKOFF = 1.5;
const DIAL_MAX_DELAY_S = 5;
/** Each dial gives up after this long (a blackholed address), so the worst case stays bounded too. */
export const PER_DIAL_TIMEOUT_S = 10;

/**
 * How many failed dials fit in `waitSeconds` in the worst case (every dial waits out its timeout):
 * pulumi-command's own default of 10 gives up after ~16 s, while a first `up` waits minutes for the
 * member to boot. At least the default, so a short wait never dials less than before.
 */
export function dialErrorLimit(waitSeconds: number): number {
    let elapsed = 0;
    let delay = DIAL_FIRST_DELAY_S;
    let dials = 0;
    while (elapsed + PER_DIAL_TIMEOUT_S + delay <= waitSeconds) {
        elapsed += PER_DIAL_TIMEOUT_S + delay;
        delay = Math.min(delay * DIAL_BACKOFF, DIAL_MAX_DELAY_S);
        dials++;
    }
    return Math.max(10, dials);
}

const SHELL_SAFE = /^[A-Za-z0-9.:/_-]+$/;

/**
 * The gate's shell script (pure, so it is tested as text). Every endpoint must answer
 * healthy in the same attempt; after the last attempt it exits 1 naming the endpoints.
 */
export function healthGateScript(clientUrls: string[], attempts: number, intervalSeconds: number): string {
    for (const url of clientUrls) {
        // The URLs come from the address plan; refuse anything a shell would interpret.
        if (!SHELL_SAFE.test(url)) throw new Error(`refusing to put ${JSON.stringify(url)} in a shell command`);
    }
    if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`attempts must be a positive integer`);
    if (!Number.isInteger(intervalSeconds) || intervalSeconds < 1) throw new Error(`intervalSeconds must be a positive integer`);
    const endpoints = clientUrls.join(" ");
    return [
        "set -u",
        `endpoints="${endpoints}"`,
        `i=1`,
        `while [ "$i" -le ${attempts} ]; do`,
        `  failed=""`,
        `  for ep in $endpoints; do`,
        `    ETCDCTL_API=3 etcdctl --endpoints="$ep" --command-timeout=5s endpoint health >/dev/null 2>&1 || failed="$failed $ep"`,
        `  done`,
        `  if [ -z "$failed" ]; then echo "etcd healthy on all members: $endpoints"; exit 0; fi`,
        `  sleep ${intervalSeconds}`,
        `  i=$((i + 1))`,
        `done`,
        `echo "etcd not healthy after ${attempts} attempts ${intervalSeconds}s apart; unhealthy:$failed" >&2`,
        `exit 1`,
    ].join("\n");
}

export class ClusterHealthGate extends pulumi.ComponentResource {
    public readonly check: command.remote.Command;
    /** True once every member answered healthy. */
    public readonly ready: pulumi.Output<boolean>;

    constructor(name: string, args: ClusterHealthGateArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:ClusterHealthGate", name, {}, opts);
        const attempts = args.attempts ?? 60;
        const intervalSeconds = args.intervalSeconds ?? 10;
        const tunnel = args.sshTunnel;

        this.check = new command.remote.Command(
            name,
            {
                connection: {
                    host: tunnel.host,
                    port: tunnel.port,
                    user: tunnel.username,
                    // A key from the environment stays out of state: the deploy job loads it into an
                    // ssh-agent, which pulumi-command uses through SSH_AUTH_SOCK (docs/delivery.md).
                    ...(tunnel.privateKeyEnv === undefined ? { privateKey: pulumi.secret(tunnel.privateKey!) } : {}),
                    dialErrorLimit: dialErrorLimit(args.dialWaitSeconds ?? 600),
                    perDialTimeout: PER_DIAL_TIMEOUT_S,
                },
                create: pulumi.output(args.clientUrls).apply((urls) => healthGateScript(urls, attempts, intervalSeconds)),
                // Re-check whenever the member set changes.
                triggers: [args.clientUrls],
            },
            { parent: this, dependsOn: args.dependsOn },
        );

        this.ready = this.check.stdout.apply(() => true);
        this.registerOutputs({ ready: this.ready });
    }
}
