// Raw HTTP to a fleet API (the conformance server): what a client sees, headers and all, with
// any Content-Type header list, so the server's own rules can be checked without the product's client.
import * as http from "http";

export interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string; json: any }

/** `contentType`: one value, a list (several headers), or null (none). */
export function request(endpoint: string, method: string, urlPath: string, body?: unknown, contentType: string | string[] | null = "application/json", timeoutMs = 2000): Promise<Answer> {
    const target = endpoint.startsWith("unix://") ? { socketPath: endpoint.slice("unix://".length) } : { host: new URL(endpoint).hostname, port: Number(new URL(endpoint).port) };
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string | string[]> = payload !== undefined && contentType !== null ? { "Content-Type": contentType } : {};
    return new Promise((resolve, reject) => {
        const req = http.request({ ...target, method, path: urlPath, timeout: timeoutMs, headers }, (res) => {
            let text = "";
            res.on("data", (c) => (text += c));
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text, json: text ? JSON.parse(text) : undefined }));
        });
        req.on("timeout", () => req.destroy(new Error("timed out")));
        req.on("error", reject);
        req.end(payload);
    });
}
