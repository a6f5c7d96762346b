// The bounded wait for a booting cluster's fleet API, shared by FleetUnit and FleetService: on a
// fresh GCE stack the machines are still booting (fleetd answers 503 while it cannot reach etcd)
// when Pulumi reaches the providers. Pulumi-free: the bundled FleetService provider imports it.
import { FleetConnectionArgs, describeFleet, makeRedactor, withFleetClient } from "./fleet-client";
import { waitUntil } from "../services/cluster-wait";

/**
 * Until fleet's API answers (any HTTP answer but a 503), for at most `clusterWaitSeconds` (0 or
 * undefined: no wait); each probe opens its own connection (and tunnel). Errors never carry the
 * tunnelled endpoint or the key.
 */
export async function waitForFleetApi(connection: FleetConnectionArgs, clusterWaitSeconds: number | undefined): Promise<void> {
    if (!clusterWaitSeconds) return;
    const args = { ...connection, retries: 0 };
    await waitUntil(describeFleet(args), { timeoutSeconds: clusterWaitSeconds }, () => withFleetClient(args, (client) => client.listMachines())).catch((e) => {
        throw new Error(makeRedactor(args)((e as Error).message));
    });
}
