// A dependency-free etcd v3 reader over the members' JSON gateway (`/v3/kv/range`, `/v3/watch`
// on 2379). Node's http/https only, so the bundle stays small. Over TLS it presents the router's
// client certificate; with etcd auth on it also authenticates with the router user's password
// (`/v3/auth/authenticate`) and sends the token: the JSON gateway ignores a certificate's name
// (etcd 3.4: "CommonName of client sending a request against gateway will be ignored").
import * as http from "http";
import * as https from "https";

/** How the router proves who it is: its client certificate (https endpoints) and, under auth, its password. */
export interface EtcdAccess {
    tls?: { ca: string; cert: string; key: string };
    user?: string;
    password?: string;
}

/** Cached tokens per endpoint and credential (simple tokens are per member; a new key is a new password). */
const tokens = new Map<string, string>();
const tokenKey = (endpoint: string, access: EtcdAccess | undefined) => `${endpoint}\n${access?.user ?? ""}\n${access?.password ?? ""}`;

function requestFn(url: string): typeof http.request {
    return (url.startsWith("https:") ? https.request : http.request) as typeof http.request;
}

function tlsOptions(url: string, access: EtcdAccess | undefined): https.RequestOptions {
    if (!url.startsWith("https:") || !access?.tls) return {};
    return { ca: access.tls.ca, cert: access.tls.cert, key: access.tls.key, agent: false };
}

/** True when the answer says the request lacked a valid token (the caller authenticates again). */
function authRefused(status: number | undefined, text: string): boolean {
    return status === 401 || /auth token|user name is empty/i.test(text);
}

export interface RangeResult {
    revision: number;
    /** A Map, not an object: a key is data and never reaches an object's built-in properties. */
    keys: Map<string, { value: string; createRevision: number }>;
}

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

/** The range end covering every key that starts with `prefix` (etcd's prefix convention). */
export function prefixRangeEnd(prefix: string): string {
    const bytes = Buffer.from(prefix, "utf8");
    for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] < 0xff) return Buffer.concat([bytes.subarray(0, i), Buffer.from([bytes[i] + 1])]).toString("base64");
    }
    return Buffer.from([0]).toString("base64");
}

class HttpError extends Error {
    constructor(message: string, readonly status: number | undefined, readonly text: string) {
        super(message);
    }
}

function postOnce(endpoint: string, path: string, body: unknown, timeoutMs: number, access: EtcdAccess | undefined, token: string | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...(token ? { authorization: token } : {}) };
        const req = requestFn(endpoint)(`${endpoint}${path}`, { method: "POST", timeout: timeoutMs, headers, ...tlsOptions(endpoint, access) }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (text += c));
            res.on("end", () => {
                if (res.statusCode !== 200) return reject(new HttpError(`${endpoint}${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`, res.statusCode, text));
                try {
                    resolve(JSON.parse(text));
                } catch (err) {
                    reject(new Error(`${endpoint}${path}: not JSON: ${(err as Error).message}`));
                }
            });
        });
        req.on("timeout", () => req.destroy(new Error(`${endpoint}${path}: no answer within ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(data);
    });
}

/** The token of `access`'s user on `endpoint`, authenticating when there is none yet; undefined without a password. */
export async function tokenFor(endpoint: string, access: EtcdAccess | undefined, timeoutMs: number, fresh = false): Promise<string | undefined> {
    if (!access?.user || !access.password) return undefined;
    const key = tokenKey(endpoint, access);
    if (!fresh && tokens.has(key)) return tokens.get(key);
    let res: { token?: string };
    try {
        res = (await postOnce(endpoint, "/v3/auth/authenticate", { name: access.user, password: access.password }, timeoutMs, access, undefined)) as { token?: string };
    } catch (err) {
        // Before the deploy turns auth on, etcd answers "authentication is not enabled": no token is needed yet.
        if (err instanceof HttpError && /authentication is not enabled/i.test(err.text)) return undefined;
        throw err;
    }
    if (!res.token) throw new Error(`${endpoint}: authenticate gave no token`);
    tokens.set(key, res.token);
    return res.token;
}

/** One JSON-gateway call; with a password, authenticated (again once when the token was refused). */
async function post(endpoint: string, path: string, body: unknown, timeoutMs: number, access?: EtcdAccess): Promise<unknown> {
    const token = await tokenFor(endpoint, access, timeoutMs);
    try {
        return await postOnce(endpoint, path, body, timeoutMs, access, token);
    } catch (err) {
        if (!(err instanceof HttpError) || token === undefined || !authRefused(err.status, err.text)) throw err;
        return postOnce(endpoint, path, body, timeoutMs, access, await tokenFor(endpoint, access, timeoutMs, true));
    }
}

/** Every key under `prefix/`, read from the first endpoint that answers. */
export async function rangePrefix(endpoints: string[], prefix: string, timeoutMs = 2000, access?: EtcdAccess): Promise<RangeResult & { endpoint: string }> {
    const errors: string[] = [];
    for (const endpoint of endpoints) {
        try {
            const res = (await post(endpoint, "/v3/kv/range", { key: b64(`${prefix}/`), range_end: prefixRangeEnd(`${prefix}/`) }, timeoutMs, access)) as {
                header?: { revision?: string };
                kvs?: Array<{ key?: string; value?: string; create_revision?: string }>;
            };
            const keys: RangeResult["keys"] = new Map();
            for (const kv of res.kvs ?? []) keys.set(unb64(kv.key), { value: unb64(kv.value), createRevision: Number(kv.create_revision ?? 0) });
            return { revision: Number(res.header?.revision ?? 0), keys, endpoint };
        } catch (err) {
            errors.push((err as Error).message);
        }
    }
    throw new Error(`no etcd member answered: ${errors.join("; ")}`);
}

export interface WatchHandle {
    close(): void;
}

/**
 * Watches `prefix/` from `fromRevision` on one endpoint; calls `onChange` for every batch of
 * events and `onEnd` once when the stream stops (the caller re-reads and watches again).
 */
export function watchPrefix(endpoint: string, prefix: string, fromRevision: number, onChange: (revision: number) => void, onEnd: (why: string) => void, access?: EtcdAccess): WatchHandle {
    let ended = false;
    const end = (why: string) => {
        if (!ended) {
            ended = true;
            onEnd(why);
        }
    };
    const body = JSON.stringify({ create_request: { key: b64(`${prefix}/`), range_end: prefixRangeEnd(`${prefix}/`), start_revision: String(fromRevision) } });
    // rangePrefix ran just before on this endpoint, so a token (under auth) is cached; a refused one ends the watch and the re-read authenticates again.
    const token = access?.password ? tokens.get(tokenKey(endpoint, access)) : undefined;
    const req = requestFn(endpoint)(`${endpoint}/v3/watch`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: token } : {}) }, ...tlsOptions(endpoint, access) }, (res) => {
        if (res.statusCode !== 200) {
            res.resume();
            if (res.statusCode === 401) tokens.delete(tokenKey(endpoint, access));
            return end(`watch on ${endpoint}: HTTP ${res.statusCode}`);
        }
        let buffer = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
            buffer += chunk;
            // The gateway streams one JSON object per line.
            let nl: number;
            while ((nl = buffer.indexOf("\n")) >= 0) {
                const line = buffer.slice(0, nl).trim();
                buffer = buffer.slice(nl + 1);
                if (line === "") continue;
                try {
                    const msg = JSON.parse(line) as { result?: { header?: { revision?: string }; events?: unknown[]; canceled?: boolean; cancel_reason?: string; compact_revision?: string }; error?: unknown };
                    if (/token|user name is empty/i.test(JSON.stringify(msg.error ?? msg.result?.cancel_reason ?? ""))) tokens.delete(tokenKey(endpoint, access));
                    if (msg.error || msg.result?.canceled) return end(`watch on ${endpoint} cancelled: ${JSON.stringify(msg.error ?? msg.result)}`);
                    if (msg.result?.events && msg.result.events.length > 0) onChange(Number(msg.result.header?.revision ?? 0));
                } catch {
                    return end(`watch on ${endpoint}: unreadable message`);
                }
            }
        });
        res.on("end", () => end(`watch on ${endpoint} ended`));
        res.on("error", (err) => end(`watch on ${endpoint}: ${err.message}`));
    });
    req.on("error", (err) => end(`watch on ${endpoint}: ${err.message}`));
    req.end(body);
    return {
        close() {
            ended = true;
            req.destroy();
        },
    };
}

/** True when a v2 read through the worker's own etcd proxy succeeds within `timeoutMs`. */
export function proxyAnswers(proxyUrl: string, timeoutMs = 1000, access?: EtcdAccess): Promise<boolean> {
    return new Promise((resolve) => {
        const req = requestFn(proxyUrl)(`${proxyUrl}/v2/keys/?quorum=false`, { timeout: timeoutMs, ...tlsOptions(proxyUrl, access) }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
        req.end();
    });
}
