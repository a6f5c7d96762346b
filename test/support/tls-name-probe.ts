// One etcd session in a Node process of its own, reporting the process warnings it caused
// (test/components/etcd/ssh-tunnel-tls.test.ts). Node emits each deprecation once per process, so
// in a test runner's process an earlier TLS connection to an IP would hide this one's DEP0123
// ("Setting the TLS ServerName to an IP address"): only a fresh process can show it is absent.
// Input on stdin (JSON, so no key is on a command line): { connection, key, value }.
// Output on stdout: { got: { v3, v2 }, during: [warnings of the session], control: [warnings of a
// deliberate IP server name afterwards, which prove the listener hears DEP0123 in this process] }.
import * as fs from "fs";
import * as tls from "tls";
import { withEtcd, type EtcdConnectionArgs } from "../../components/etcd/etcd-client";

const nextTick = () => new Promise((r) => setImmediate(r));

async function main(): Promise<void> {
    const input = JSON.parse(fs.readFileSync(0, "utf8")) as { connection: EtcdConnectionArgs; key: string; value: string };
    const warnings: string[] = [];
    process.on("warning", (w) => warnings.push(`${(w as Error & { code?: string }).code ?? w.name}: ${w.message}`));

    const got = await withEtcd(input.connection, async (session) => {
        await session.run("put", (c) => c.put(input.key).value(input.value).exec());
        const v3 = await session.run("get", (c) => c.get(input.key).string());
        await session.v2("PUT", input.key, { value: input.value });
        const v2 = (await session.v2("GET", input.key)).body?.node?.value;
        return { v3, v2 };
    });
    await nextTick(); // process.emitWarning delivers on a later tick
    const during = [...warnings];

    // Nothing listens on port 9: only tls.connect's own handling of the server name matters here.
    const control = tls.connect({ host: "127.0.0.1", port: 9, servername: "127.0.0.1" });
    control.on("error", () => undefined);
    control.destroy();
    await nextTick();
    process.stdout.write(JSON.stringify({ got, during, control: warnings.slice(during.length) }));
}

main().then(
    () => process.exit(0),
    (err) => {
        process.stderr.write(String((err as Error)?.message ?? err));
        process.exit(1);
    },
);
