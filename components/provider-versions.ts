// The version input of every dynamic provider, one line each. Bump a provider's version when its code
// changes what it stores or how it behaves: the engine runs delete and read with the code stored with a
// resource (pulumi#6238), and a changed version makes the next `up` update each resource, storing the new
// code. Kept apart from the providers' modules so that a component passing its provider's version does not
// load that provider's code into the program (each provider reaches the engine as its own bundle).

/** etcd-access-provider.ts */
export const ETCD_ACCESS_PROVIDER_VERSION = "2";
/** fleet-service-provider.ts. 1.1.0: instances carry MachineMetadata=role=worker (a changed template, so a deployed service rolls once). */
export const FLEET_SERVICE_PROVIDER_VERSION = "1.1.0";
/** fleet-unit-provider.ts. 1.1.0: waits for the pushed unit file's hash; 1.2.0: bounded wait for a booting cluster. */
export const FLEET_UNIT_PROVIDER_VERSION = "1.2.0";
/** tls-phase-wait-provider.ts */
export const TLS_PHASE_WAIT_PROVIDER_VERSION = "1";
/** cluster-readiness-provider.ts */
export const CLUSTER_READINESS_PROVIDER_VERSION = "2";
/** local-fleet-unit-provider.ts */
export const LOCAL_FLEET_UNIT_PROVIDER_VERSION = "1";
/** local-load-balancer-provider.ts */
export const LOCAL_LOAD_BALANCER_PROVIDER_VERSION = "1";
/** local-machine-provider.ts */
export const LOCAL_MACHINE_PROVIDER_VERSION = "2";
/** local-network-provider.ts */
export const LOCAL_NETWORK_PROVIDER_VERSION = "1";
/** local-prometheus-provider.ts. 2: takes the scrape config as data and writes prometheus.yml itself (a deployed Prometheus restarts once). */
export const LOCAL_PROMETHEUS_PROVIDER_VERSION = "2";
/** local-sshd-provider.ts */
export const LOCAL_SSHD_PROVIDER_VERSION = "1";
/** local-tls-store-provider.ts */
export const LOCAL_TLS_STORE_PROVIDER_VERSION = "1";
/** tls-rollout-provider.ts */
export const LOCAL_TLS_ROLLOUT_PROVIDER_VERSION = "1";
/** cluster-pki-provider.ts */
export const CLUSTER_PKI_PROVIDER_VERSION = "1.0.0";
/** tls-rollout-plan-provider.ts */
export const TLS_ROLLOUT_PLAN_PROVIDER_VERSION = "1";
/** service-registration-provider.ts */
export const SERVICE_REGISTRATION_PROVIDER_VERSION = "1.5.0";
/** service-registration-set-provider.ts */
export const SERVICE_REGISTRATION_SET_PROVIDER_VERSION = "1.3.0";
