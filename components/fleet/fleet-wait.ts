// The bounded wait for a booting cluster's fleet API, shared by FleetUnit and FleetService: on a
// fresh GCE stack the machines are still booting (fleetd answers 503 while it cannot reach etcd)
// when Pulumi reaches the providers. Pulumi-free: the bundled FleetService provider imports it.
import { FleetApiError, FleetConnectionArgs, describeFleet, makeRedactor, withFleetClient } from "./fleet-client";
import { PermanentProbeError, waitUntil } from "../services/cluster-wait";

/**
 * Until fleet's API answers, for at most `clusterWaitSeconds` (0 or undefined: no wait); each probe
 * opens its own connection (and tunnel). fleetd away from etcd (503, or the 500s with no message it
 * gives first) and unreachable are waited out; any other answer ends the wait at once, since waiting
 * does not change a refusal or a real error. Errors never carry the tunnelled endpoint or the key.
 */
export async function waitForFleetApi(connection: FleetConnectionArgs, clusterWaitSeconds: number | undefined): Promise<void> {
    if (!clusterWaitSeconds) return;
    const args = { ...connection, retries: 0 };
    const probe = () => withFleetClient(args, (client) => client.listMachines()).catch((e) => {
        if (e instanceof FleetApiError && e.status !== undefined && !e.transient) throw new PermanentProbeError(e.message);
        throw e;
    });
    await waitUntil(describeFleet(args), { timeoutSeconds: clusterWaitSeconds }, probe).catch((e) => {
        throw new Error(makeRedactor(args)((e as Error).message));
    });
}
