// A dependency-free etcd v3 reader over the members' JSON gateway (`/v3/kv/range`, `/v3/watch`
// on 2379). Not through the worker's proxy: that is a v2 proxy, and v3 through it fails
// ("http2: frame too large"). Node's http only, so the bundle stays small.
import * as http from "http";

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

function post(endpoint: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request(`${endpoint}${path}`, { method: "POST", timeout: timeoutMs, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c) => (text += c));
            res.on("end", () => {
                if (res.statusCode !== 200) return reject(new Error(`${endpoint}${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
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

/** Every key under `prefix/`, read from the first endpoint that answers. */
export async function rangePrefix(endpoints: string[], prefix: string, timeoutMs = 2000): Promise<RangeResult & { endpoint: string }> {
    const errors: string[] = [];
    for (const endpoint of endpoints) {
        try {
            const res = (await post(endpoint, "/v3/kv/range", { key: b64(`${prefix}/`), range_end: prefixRangeEnd(`${prefix}/`) }, timeoutMs)) as {
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
export function watchPrefix(endpoint: string, prefix: string, fromRevision: number, onChange: (revision: number) => void, onEnd: (why: string) => void): WatchHandle {
    let ended = false;
    const end = (why: string) => {
        if (!ended) {
            ended = true;
            onEnd(why);
        }
    };
    const body = JSON.stringify({ create_request: { key: b64(`${prefix}/`), range_end: prefixRangeEnd(`${prefix}/`), start_revision: String(fromRevision) } });
    const req = http.request(`${endpoint}/v3/watch`, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        if (res.statusCode !== 200) {
            res.resume();
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
                    const msg = JSON.parse(line) as { result?: { header?: { revision?: string }; events?: unknown[]; canceled?: boolean; compact_revision?: string }; error?: unknown };
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
export function proxyAnswers(proxyUrl: string, timeoutMs = 1000): Promise<boolean> {
    return new Promise((resolve) => {
        const req = http.get(`${proxyUrl}/v2/keys/?quorum=false`, { timeout: timeoutMs }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(false));
    });
}
