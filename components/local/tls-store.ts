// The local platform's stand-in for Secret Manager (issue 21, item 2). On GCE each secret bundle
// (model/pki-delivery.ts) is a Secret Manager secret whose accessor is the holder's service
// account, and a machine's coreos-tls-fetch.service reads it at every boot with its own token.
// Here the bundles are files of a root-only store under the stack's data dir (`<dataDir>/tls-store`,
// mode 0700; each bundle `<secretId>.bundle`, mode 0600), and the local boot performs the fetch
// step itself: it reads the ONE bundle the machine's inputs name (the stand-in for the IAM binding
// "this machine's service account may read this secret") and unpacks it under the machine's root,
// as the GCE script unpacks it under /etc/coreos-cluster/tls. A worker the autohealer recreates
// boots from its template and fetches again. What is simulated: the store is a folder only root can
// read, and the binding is which bundle path a machine's inputs carry; there is no token, no IAM
// and no network call. Runtime modules are required inside functions: this module is bundled into
// the LocalMachine provider and the balancer (autohealing), and bundles load no module until an operation needs one (components/services/bundled-provider.ts).
import { decodeBundle, TLS_DIR } from "../../model/pki-delivery";
import { TLS_FILE_RULES, TLS_MANIFEST, TLS_PAYLOAD_DIGEST, tlsFilesOf } from "../../cloud-config/tls-fetch";

export const STORE_DIR_MODE = 0o700;
export const BUNDLE_FILE_MODE = 0o600;

/** The store of a stack: `<dataDir>/tls-store`. */
export function storeDir(dataDir: string): string {
    return require("path").join(dataDir, "tls-store");
}

/** One bundle's file in a store folder (storeDir). */
export function bundlePath(store: string, secretId: string): string {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(secretId)) throw new Error(`TLS store: "${secretId}" is not a secret id (letters, digits, - and _)`);
    return require("path").join(store, `${secretId}.bundle`);
}

/** Why `file` is not a private file of root's (owner root, no group or other bits), or undefined. */
export function notPrivate(file: string, wantedMode: number): string | undefined {
    const fs: typeof import("fs") = require("fs");
    const st = fs.lstatSync(file);
    if (st.isSymbolicLink()) return `${file} is a symbolic link`;
    if ((st.mode & 0o077) !== 0) return `${file} has mode ${(st.mode & 0o777).toString(8)}, not ${wantedMode.toString(8)} (group or others could read it)`;
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) return `${file} belongs to uid ${st.uid}, not to the deployer (uid ${process.getuid()})`;
    return undefined;
}

/** Writes (or replaces, atomically) one bundle; the store folder is created 0700 and must stay private. */
export function writeBundle(store: string, secretId: string, payload: string): string {
    const fs: typeof import("fs") = require("fs");
    const dir = store;
    fs.mkdirSync(dir, { recursive: true, mode: STORE_DIR_MODE });
    fs.chmodSync(dir, STORE_DIR_MODE);
    const problem = notPrivate(dir, STORE_DIR_MODE);
    if (problem) throw new Error(`TLS store: ${problem}`);
    decodeBundle(payload); // refuses a payload the machines could not unpack
    const file = bundlePath(store, secretId);
    const temp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, payload, { mode: BUNDLE_FILE_MODE });
    fs.chmodSync(temp, BUNDLE_FILE_MODE);
    fs.renameSync(temp, file);
    return file;
}

/** Removes one bundle (destroy); the store folder goes once empty. */
export function removeBundle(store: string, secretId: string): void {
    const fs: typeof import("fs") = require("fs");
    fs.rmSync(bundlePath(store, secretId), { force: true });
    try {
        fs.rmdirSync(store);
    } catch {
        // not empty, or already gone
    }
}

/**
 * The fetch step of one machine, as cloud-config/tls-fetch.ts's script does it (TLS_FETCH_CONTRACT):
 * reads its bundle from the store (refusing one others could have read or replaced), writes each
 * file under `<root><dir>` with tlsFilesOf's mode (ca.pem 0644, everything else 0600; owners are not
 * applied, etcd runs as root here), each staged then renamed into place, removes `*.pem` files the
 * bundle no longer names, then writes the payload's digest and the manifest. Returns the files written.
 */
export function fetchBundle(bundleFile: string, root: string, dir: string = TLS_DIR, etcdUserIds: readonly string[] = []): string[] {
    const fs: typeof import("fs") = require("fs");
    const path: typeof import("path") = require("path");
    if (!fs.existsSync(bundleFile)) throw new Error(`its TLS bundle ${bundleFile} is not in the local secret store (on GCE: no secret version to read)`);
    const problem = notPrivate(bundleFile, BUNDLE_FILE_MODE);
    if (problem) throw new Error(`its TLS bundle is not private: ${problem}`);
    const payload = fs.readFileSync(bundleFile, "utf8");
    const files = tlsFilesOf(payload, etcdUserIds, dir);
    const target = path.posix.join(root, dir);
    fs.mkdirSync(target, { recursive: true, mode: parseInt(TLS_FILE_RULES.dirMode, 8) });
    fs.chmodSync(target, parseInt(TLS_FILE_RULES.dirMode, 8));
    const written: string[] = [];
    for (const file of files) {
        const local = path.join(target, file.name);
        const mode = parseInt(file.mode, 8);
        const temp = path.join(target, `.stage.${file.name}`);
        fs.writeFileSync(temp, file.content, { mode });
        fs.chmodSync(temp, mode);
        fs.renameSync(temp, local);
        written.push(local);
    }
    const names = files.map((f) => f.name);
    for (const name of fs.readdirSync(target)) if (name.endsWith(".pem") && !names.includes(name)) fs.rmSync(path.join(target, name), { force: true });
    fs.writeFileSync(path.join(target, TLS_PAYLOAD_DIGEST), `${(require("crypto") as typeof import("crypto")).createHash("sha256").update(payload).digest("hex")}\n`, { mode: 0o644 });
    fs.writeFileSync(path.join(target, TLS_MANIFEST), names.map((n) => `${n}\n`).join(""), { mode: 0o644 });
    return written;
}
