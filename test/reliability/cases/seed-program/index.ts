// Reliability test program: `count` ServiceRegistrations against the etcd cluster the test runs.
// Config (namespace reliability-seed): endpoints (list), count, prefix, hostsVariant (changes every
// host), timeoutMs, retries; etcdTls (object: ca, cert, and key set with --secret), the client
// identity the connection presents, as the stack's providers present `deployer`'s (index.ts
// etcdConnection); optional etcdUsername + etcdPassword (secret) and sshTunnel (secret object).
import * as pulumi from "@pulumi/pulumi";
import { ServiceRegistration } from "../../../../components/services/service-registration";
import type { EtcdConnectionArgs } from "../../../../components/etcd/etcd-client";
import type { SshTunnelSpec } from "../../../../model/types";

const config = new pulumi.Config();
const count = config.requireNumber("count");
const variant = config.getNumber("hostsVariant") ?? 0;
const password = config.getSecret("etcdPassword");
const tunnel = config.getSecretObject<SshTunnelSpec>("sshTunnel");
// Secret as a whole: it holds a private key (the CLI keeps `key` encrypted in the stack file).
const tls = config.getSecretObject<{ ca: string; cert: string; key: string }>("etcdTls");

const connection: pulumi.Output<EtcdConnectionArgs> = pulumi
    .all([password, tunnel, tls])
    .apply(([pw, sshTunnel, etcdTls]) => ({
        endpoints: config.requireObject<string[]>("endpoints"),
        timeoutMs: config.getNumber("timeoutMs") ?? 3000,
        retries: config.getNumber("retries") ?? 1,
        ...(pw !== undefined ? { username: config.require("etcdUsername"), password: pw } : {}),
        ...(sshTunnel !== undefined ? { sshTunnel } : {}),
        ...(etcdTls !== undefined ? { tls: etcdTls } : {}),
    }));

const registrations: ServiceRegistration[] = [];
for (let i = 0; i < count; i++) {
    registrations.push(
        new ServiceRegistration(`svc-${i}`, {
            connection,
            service: `svc-${i}`,
            scheme: i % 2 === 0 ? "http" : "tcp",
            hosts: [`10.${variant}.${Math.floor(i / 250)}.${(i % 250) + 1}:8080`],
            hostPort: i % 2 === 0 ? undefined : 9000 + i,
            prefix: config.get("prefix") ?? "/services",
        }),
    );
}

export const registered = registrations.length;
export const ownedKeyCount = pulumi.all(registrations.map((r) => r.ownedKeys)).apply((lists) => lists.reduce((n, l) => n + l.length, 0));
