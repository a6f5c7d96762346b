// An application stack next to the cluster: it reads the cluster stack's outputs through a
// StackReference and registers its own service in the cluster's etcd with ServiceRegistration.
// The cluster stack is not modified; deleting this stack removes exactly the keys it wrote.
import * as pulumi from "@pulumi/pulumi";
import { ServiceRegistration } from "../../components/services/service-registration";

const config = new pulumi.Config();
const clusterStack = config.get("clusterStack") ?? "organization/coreos-cluster/local";
const clusterRef = new pulumi.StackReference(clusterStack);

const endpoints = clusterRef.requireOutput("etcdClientUrls") as pulumi.Output<string[]>;
const servicesPrefix = clusterRef.requireOutput("servicesPrefix") as pulumi.Output<string>;
const scheme = config.get("scheme") ?? "http";
if (scheme !== "http" && scheme !== "tcp") throw new Error(`coreos-app-example:scheme must be http or tcp, got "${scheme}"`);
const hostPort = config.getNumber("hostPort") || undefined;
const service = config.get("service") ?? "hello";

const registration = new ServiceRegistration(`app-${service}`, {
    connection: endpoints.apply((urls) => ({ endpoints: urls, timeoutMs: 5000, retries: 2 })),
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
