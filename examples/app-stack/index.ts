// An application stack next to the cluster: it reads the cluster stack's outputs through a
// StackReference and registers its own service in the cluster's etcd with ServiceRegistration.
// The cluster stack is not modified; deleting this stack removes exactly the keys it wrote.
// The members answer only inside the cluster's network: like the cluster stack, this one reaches
// them through the SSH tunnel the cluster exports (`sshTunnel`), with a key from its environment,
// and over mutual TLS as the cluster's `consumer` identity (the secret output `consumerCredentials`:
// the CA certificate, the consumer's certificate and key; its etcd user may write the services
// prefix and the ownership markers, nothing else; never the CA key).
import * as pulumi from "@pulumi/pulumi";
import { ServiceRegistration } from "../../components/services/service-registration";

const config = new pulumi.Config();
const clusterStack = config.get("clusterStack") ?? "organization/coreos-cluster/local";
const clusterRef = new pulumi.StackReference(clusterStack);

const endpoints = clusterRef.requireOutput("etcdClientUrls") as pulumi.Output<string[]>;
const servicesPrefix = clusterRef.requireOutput("servicesPrefix") as pulumi.Output<string>;
const consumer = clusterRef.requireOutput("consumerCredentials") as pulumi.Output<{ ca: string; cert: string; key: string }>;
const scheme = config.get("scheme") ?? "http";
if (scheme !== "http" && scheme !== "tcp") throw new Error(`coreos-app-example:scheme must be http or tcp, got "${scheme}"`);
const hostPort = config.getNumber("hostPort") || undefined;
const service = config.get("service") ?? "hello";

interface TunnelOutput {
    host: string;
    port: number;
    username: string;
    /** The local stack's VPC: the tunnel then dials only through that VPC's bridge. */
    localVpc?: string;
}
const tunnel = clusterRef.getOutput("sshTunnel") as pulumi.Output<TunnelOutput | null | undefined>;
const keyEnv = config.get("sshKeyEnv") ?? "COREOS_LOCAL_SSH_KEY";

function tunnelKey(): string {
    const key = process.env[keyEnv];
    if (!key) throw new Error(`coreos-app-example:sshKeyEnv: environment variable ${keyEnv} holds no key; the cluster exports an sshTunnel, so this stack needs the private key that tunnel accepts (scripts/local.sh writes it to <localDataDir>/deployer/id_ed25519)`);
    return key;
}

const registration = new ServiceRegistration(`app-${service}`, {
    connection: pulumi.all([endpoints, tunnel, consumer]).apply(([urls, t, tls]) => ({
        endpoints: urls,
        tls,
        timeoutMs: 5000,
        retries: 2,
        ...(t ? { sshTunnel: { host: t.host, port: t.port, username: t.username, privateKey: tunnelKey(), ...(t.localVpc ? { localVpc: t.localVpc } : {}) } } : {}),
    })),
    service,
    scheme,
    hosts: config.getObject<string[]>("hosts") ?? [],
    hostPort,
    prefix: servicesPrefix,
    mirrorToV2: config.getBoolean("mirrorToV2") ?? true,
});

export const cluster = clusterStack;
export const etcdClientUrls = endpoints;
export const serviceKeyPrefix = pulumi.interpolate`${registration.prefix}/${registration.service}`;
export const ownedKeys = registration.ownedKeys;
