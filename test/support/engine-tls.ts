// The engine tests' etcd credential: the stack's secret output `consumerCredentials` (the identity
// other stacks get: it may write the services prefix and the ownership markers) written as private
// files in the test's scratch folder, and etcdctl's flags for it. etcd answers nothing without a
// client certificate of the cluster's CA (docs/security.md).
import * as fs from "fs";
import * as path from "path";

export function etcdctlTlsFlags(outputs: Record<string, any>, scratch: string): string[] {
    const creds = outputs.consumerCredentials as { ca: string; cert: string; key: string } | undefined;
    if (!creds?.ca || !creds.cert || !creds.key) throw new Error("the stack has no consumerCredentials output (pulumi stack output --show-secrets)");
    const dir = path.join(scratch, "consumer-credentials");
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "cert.pem"), key: path.join(dir, "key.pem") };
    for (const [k, file] of Object.entries(files)) fs.writeFileSync(file, creds[k as keyof typeof creds], { mode: 0o600 });
    return [`--cacert=${files.ca}`, `--cert=${files.cert}`, `--key=${files.key}`];
}
