// The router's watcher: etcd service keys -> renderHaproxyConfig -> either runtime commands on
// HAProxy's admin socket (hosts changed: no reload, no new process) or `haproxy -c` and a hitless
// reload (services changed), plus the worker health check and `<service>.local` DNS. One program,
// run by a pinned node runtime inside the pinned HAProxy image on GCE and by this machine's node locally.
import * as fs from "fs";
import * as path from "path";
import { EtcdAccess, rangePrefix, watchPrefix, WatchHandle } from "./etcd-gateway";
import { etcdPasswordFromKey } from "../model/etcd-auth";
import { addressesOfUrls } from "../model/service-hosts";
import { renderHaproxyConfig, RouterConfigResult, RoutedService, ServiceKeys, SkippedService } from "./haproxy-config";
import { checkConfig, HaproxyMaster, servingConfigId } from "./haproxy-process";
import { serveHealth } from "./health";
import { oneLine, skipLogLines, skipReasons } from "./skip-log";
import { sendRuntimeCommands } from "./runtime-api";
import { changedBackends, runtimeCommands, SlotLayout } from "./slots";
import { serveDns } from "./dns";

export interface RouterSettings {
    prefix: string;
    /** Members' client URLs (v3 JSON gateway). */
    etcdEndpoints: string[];
    /** This worker's etcd proxy (the health check reads through it). */
    etcdProxy: string;
    bindAddress: string;
    httpPorts: number[];
    healthBind: string;
    healthPort: number;
    healthPath: string;
    /** HAProxy's Prometheus exporter, on bindAddress; absent: none. */
    metricsPort?: number;
    /** Where `<service>.local` is answered (the worker's own address); port 0 turns DNS off. */
    dnsAddress: string;
    dnsPort: number;
    configDir: string;
    runDir: string;
    haproxyBinary: string;
    /** Quiet time after the last etcd event before a reload (one deploy can be two commits); host changes do not wait. */
    settleMs: number;
    /** A burst of events never delays a reload longer than this. */
    maxSettleMs: number;
    /** The router's etcd identity: files of the trust bundle, its certificate and key; `user` under etcd auth. */
    etcdTls?: { caFile: string; certFile: string; keyFile: string; user?: string };
}

/**
 * The router's credentials, read from its files at every (re)connection: a renewed certificate on
 * disk is used from the next read on. Under etcd auth the password is derived from the key
 * (model/etcd-auth.ts), so nothing else is stored on the worker.
 */
export function loadEtcdAccess(tls: RouterSettings["etcdTls"]): EtcdAccess | undefined {
    if (!tls) return undefined;
    const key = fs.readFileSync(tls.keyFile, "utf8");
    return {
        tls: { ca: fs.readFileSync(tls.caFile, "utf8"), cert: fs.readFileSync(tls.certFile, "utf8"), key },
        ...(tls.user ? { user: tls.user, password: etcdPasswordFromKey(tls.user, key) } : {}),
    };
}

interface Loaded {
    text: string;
    id: string;
    /** HAProxy's workers serve this config (a reload whose new workers cannot bind leaves the old ones). */
    taken: boolean;
    /** The hosts in each backend's slots, as HAProxy serves them and the file says. */
    layout: SlotLayout;
    revision: number;
    services: RoutedService[];
    /** Services in etcd this config does not route, with the reasons (health JSON, log). */
    skipped: SkippedService[];
    at: string;
}

/** A read after a watch event that failed is tried again after this, doubling up to SYNC_RETRY_MAX_MS. */
const SYNC_RETRY_FIRST_MS = 250;
const SYNC_RETRY_MAX_MS = 4000;

/** The health JSON lists at most this many skipped services (and says how many there are). */
export const MAX_SKIPPED_SHOWN = 100;

export class Router {
    private haproxy: HaproxyMaster;
    private loaded: Loaded | undefined;
    private problem: { message: string; revision?: number; at: string } | undefined;
    private watch: WatchHandle | undefined;
    private settleTimer: NodeJS.Timeout | undefined;
    private firstEventAt: number | undefined;
    /** When the oldest watch event not yet read arrived (the log says how long a host change took here). */
    private unreadEventAt: number | undefined;
    private syncing = false;
    /** Reads failed in a row after watch events (each is retried, backing off). */
    private failedReads = 0;
    /** The read scheduled after a failed one, and the mode the requests that joined it ask for. */
    private retry: { mode: "fast" | "full"; timer: NodeJS.Timeout } | undefined;
    /** A read asked for while one ran: "full" (settled, may reload) wins over "fast" (host changes only). */
    private pending: "fast" | "full" | undefined;
    /** How changes were applied since the watcher started (health JSON): reloads vs runtime batches. */
    private applied = { reloads: 0, runtimeBatches: 0 };
    private stopped = false;
    /** The last applied config was not taken by HAProxy (cleared by the next one that is). */
    private takeFailed = false;
    private everTaken = false;
    private timers: NodeJS.Timeout[] = [];
    /** What the log last said about each skipped service (service -> reasons): a skip is logged once per change, not on every read. */
    private loggedSkips = new Map<string, string>();
    private servers: Array<{ close(): void }> = [];
    readonly configFile: string;

    constructor(private readonly s: RouterSettings, private readonly log: (line: string) => void = (l) => console.log(`${new Date().toISOString()} router: ${l}`)) {
        this.configFile = path.join(s.configDir, "haproxy.cfg");
        this.haproxy = new HaproxyMaster(
            { binary: s.haproxyBinary, configFile: this.configFile, pidFile: path.join(s.runDir, "haproxy.pid"), masterSocket: path.join(s.runDir, "master.sock") },
            log,
        );
    }

    async start(): Promise<void> {
        fs.mkdirSync(this.s.configDir, { recursive: true });
        fs.mkdirSync(this.s.runDir, { recursive: true, mode: 0o700 });
        // The admin socket in it is mode 600 already; the folder is the router's alone too.
        fs.chmodSync(this.s.runDir, 0o700);
        this.haproxy.adopt();
        this.servers.push(serveHealth(this.s, () => this.status(), () => loadEtcdAccess(this.s.etcdTls), this.log));
        if (this.s.dnsPort > 0) this.servers.push(serveDns(this.s.dnsAddress, this.s.dnsPort, (name) => this.isService(name), this.log));
        // The watcher supervises HAProxy: a killed master comes back with the last good config.
        this.timers.push(setInterval(() => this.supervise(), 500));
        await this.resync("start");
    }

    stop(): void {
        this.stopped = true;
        this.watch?.close();
        for (const t of this.timers) clearInterval(t);
        if (this.settleTimer) clearTimeout(this.settleTimer);
        if (this.retry) clearTimeout(this.retry.timer);
        for (const server of this.servers) server.close();
        this.haproxy.stop();
    }

    isService(name: string): boolean {
        return (this.loaded?.services ?? []).some((s) => s.name === name);
    }

    status() {
        return {
            config: this.loaded
                ? {
                      loaded: !this.takeFailed && (this.loaded.taken || this.everTaken),
                      revision: this.loaded.revision,
                      since: this.loaded.at,
                      services: this.loaded.services.map((s) => s.name),
                      // Bad data costs only its own service: listed here, never a reason for 503.
                      skipped: this.loaded.skipped.slice(0, MAX_SKIPPED_SHOWN),
                      skippedCount: this.loaded.skipped.length,
                  }
                : { loaded: false },
            haproxy: { pid: this.haproxy.pid, running: this.haproxy.alive(), ...this.applied, ...(this.haproxy.lastExit ? { lastExit: this.haproxy.lastExit } : {}) },
            ...(this.problem ? { problem: this.problem } : {}),
        };
    }

    private supervise(): void {
        if (this.stopped || !this.loaded || this.haproxy.alive()) return;
        this.log("haproxy is not running: starting it with the last good config");
        this.haproxy.start();
        void this.confirmRestart();
    }

    /** Reads everything under the prefix, applies it, and watches from the revision read. */
    private async resync(why: string): Promise<void> {
        if (this.stopped) return;
        this.watch?.close();
        try {
            const access = loadEtcdAccess(this.s.etcdTls);
            const read = await rangePrefix(this.s.etcdEndpoints, this.s.prefix, 2000, access);
            await this.apply(read.keys, read.revision);
            this.watch = watchPrefix(read.endpoint, this.s.prefix, read.revision + 1, () => this.changed(), (end) => {
                this.log(`${end}; reading again`);
                this.later(() => this.resync("watch ended"), 500);
            }, access);
        } catch (err) {
            this.report(`etcd (${why}): ${(err as Error).message}`);
            this.later(() => this.resync("retry"), 1000);
        }
    }

    /** Runs `fn` once after `ms` unless stopped; a fired timer is forgotten (an outage of days retries without growing). */
    private later(fn: () => void, ms: number): void {
        if (this.stopped) return;
        const timer = setTimeout(() => {
            this.timers = this.timers.filter((t) => t !== timer);
            fn();
        }, ms);
        this.timers.push(timer);
    }

    /** Every watch event is read at once: host changes go out now, a change that needs a reload settles first. */
    private changed(): void {
        this.unreadEventAt ??= Date.now();
        void this.sync("fast");
    }

    /** Debounce for reloads: once the keys have been quiet for settleMs (bounded by maxSettleMs). */
    private settle(): void {
        const now = Date.now();
        this.firstEventAt ??= now;
        if (this.settleTimer) clearTimeout(this.settleTimer);
        const wait = Math.max(0, Math.min(this.s.settleMs, this.firstEventAt + this.s.maxSettleMs - now));
        this.settleTimer = setTimeout(() => {
            this.firstEventAt = undefined;
            void this.sync("full");
        }, wait);
    }

    private async sync(mode: "fast" | "full"): Promise<void> {
        if (this.stopped) return;
        if (this.syncing || this.retry) {
            // A read runs, or one is scheduled after a failed one: this request joins it.
            if (this.retry) this.retry.mode = this.retry.mode === "full" ? "full" : mode;
            else if (this.pending !== "full") this.pending = mode;
            return;
        }
        this.syncing = true;
        const eventAt = this.unreadEventAt;
        this.unreadEventAt = undefined;
        try {
            let read: Awaited<ReturnType<typeof rangePrefix>>;
            try {
                read = await rangePrefix(this.s.etcdEndpoints, this.s.prefix, 2000, loadEtcdAccess(this.s.etcdTls));
            } catch (err) {
                this.report(`etcd: ${(err as Error).message}`);
                this.retryRead(mode, eventAt);
                return;
            }
            this.failedReads = 0;
            await this.apply(read.keys, read.revision, mode, eventAt).catch((err) => this.report(`etcd revision ${read.revision} not applied: ${(err as Error).message}`, read.revision));
        } finally {
            this.syncing = false;
            const next = this.pending;
            this.pending = undefined;
            if (next) void this.sync(next);
        }
    }

    /**
     * The watch event that asked for a failed read has been consumed: without another read, its
     * change would wait for the next event, which may never come. One retry is scheduled at a time,
     * backing off; reads asked for meanwhile join it, so an outage costs one read per interval.
     */
    private retryRead(mode: "fast" | "full", eventAt: number | undefined): void {
        // Reads never overlap (sync), and one scheduled joins later requests: none is scheduled here.
        this.unreadEventAt ??= eventAt;
        const delay = Math.min(SYNC_RETRY_FIRST_MS * 2 ** this.failedReads++, SYNC_RETRY_MAX_MS);
        const timer = setTimeout(() => {
            const joined = this.retry?.mode ?? mode;
            this.retry = undefined;
            void this.sync(joined);
        }, delay);
        this.retry = { mode, timer };
    }

    private report(message: string, revision?: number): void {
        this.problem = { message, ...(revision !== undefined ? { revision } : {}), at: new Date().toISOString() };
        this.log(message);
    }

    /** Logs each skipped service when it starts being skipped or its reasons change, and when it stops. */
    private logSkips(skipped: SkippedService[], revision: number, mode: "fast" | "full"): void {
        const now = skipReasons(skipped);
        const lines = skipLogLines(this.loggedSkips, now, revision);
        // Logged from settled reads only: a service written key by key passes through states that
        // are skipped for one reason, then another; the log says where it settled, once.
        if (mode === "fast") {
            if (lines.length > 0) this.settle();
            return;
        }
        for (const line of lines) this.log(line);
        this.loggedSkips = now;
    }

    /**
     * Applies one etcd revision as a whole: by runtime commands when only hosts changed ("fast" or
     * "full"), else (only when "full", i.e. settled) by a checked config and a hitless reload.
     */
    private async apply(keys: ServiceKeys, revision: number, mode: "fast" | "full" = "full", eventAt?: number): Promise<void> {
        const result = renderHaproxyConfig(keys, {
            prefix: this.s.prefix,
            bindAddress: this.s.bindAddress,
            httpPorts: this.s.httpPorts,
            healthPort: this.s.healthPort,
            ...(this.s.metricsPort !== undefined ? { metricsPort: this.s.metricsPort } : {}),
            // No service host may be an etcd member: services never route into the control plane.
            memberAddresses: addressesOfUrls(this.s.etcdEndpoints),
            runDir: this.s.runDir,
        }, this.loaded?.layout);
        this.logSkips(result.skipped, revision, mode);
        if (!result.ok) {
            return this.report(`etcd revision ${revision} not applied, keeping the last good config: ${result.problems.join("; ")}`, revision);
        }
        const serving = this.loaded && this.loaded.taken && this.haproxy.alive() ? this.loaded : undefined;
        if (serving && serving.text === result.text) {
            this.loaded = { ...serving, revision, services: result.services, skipped: result.skipped };
            this.problem = undefined;
            return;
        }
        if (serving && serving.id === result.id) {
            if (await this.applyRuntime(serving, result, revision, eventAt)) return;
        } else if (mode === "fast") {
            return this.settle();
        }
        const candidate = `${this.configFile}.candidate`;
        fs.writeFileSync(candidate, result.text);
        const invalid = await checkConfig(this.s.haproxyBinary, candidate);
        if (invalid) return this.report(`etcd revision ${revision}: haproxy -c refused the config, keeping the last good one: ${invalid}`, revision);
        fs.renameSync(candidate, this.configFile);
        this.loaded = { text: result.text, id: result.id, taken: false, layout: result.layout, revision, services: result.services, skipped: result.skipped, at: new Date().toISOString() };
        this.problem = undefined;
        this.applied.reloads++;
        if (this.haproxy.alive()) this.haproxy.reload();
        else this.haproxy.start();
        await this.confirm(this.loaded, revision);
    }

    /**
     * Same structure, other hosts: one batch of runtime commands to the serving workers, no reload.
     * The file is written first, so a master restarted meanwhile (supervision) or any later reload
     * serves exactly these hosts. False when the batch failed: the caller reloads from that file.
     */
    private async applyRuntime(serving: Loaded, result: RouterConfigResult & { ok: true }, revision: number, eventAt?: number): Promise<boolean> {
        const commands = runtimeCommands(serving.layout, result.layout);
        if (commands === undefined) return false;
        const next = `${this.configFile}.next`;
        fs.writeFileSync(next, result.text);
        fs.renameSync(next, this.configFile);
        const sent = await sendRuntimeCommands(path.join(this.s.runDir, "haproxy.sock"), commands);
        if (!sent.ok) {
            this.log(oneLine(`etcd revision ${revision}: runtime commands failed (${sent.errors.slice(0, 3).join(" | ")}); reloading from the config file instead`));
            return false;
        }
        this.loaded = { ...serving, text: result.text, layout: result.layout, revision, services: result.services, skipped: result.skipped, at: new Date().toISOString() };
        this.problem = undefined;
        this.applied.runtimeBatches++;
        this.log(`etcd revision ${revision}: hosts of ${changedBackends(serving.layout, result.layout).join(", ")} changed by ${commands.length} runtime commands, no reload${eventAt !== undefined ? ` (${Date.now() - eventAt} ms after the watch event)` : ""}`);
        return true;
    }

    /** Waits until HAProxy's workers report the new config's id; otherwise says so (health then answers 503). */
    private async confirm(loaded: Loaded, revision: number): Promise<void> {
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && !this.stopped) {
            if ((await servingConfigId(path.join(this.s.runDir, "haproxy.sock"))) === loaded.id) {
                loaded.taken = true;
                this.everTaken = true;
                this.takeFailed = false;
                this.log(`etcd revision ${revision}: serving (${loaded.services.map((s) => s.name).join(", ") || "no services"})`);
                return;
            }
            await new Promise((r) => setTimeout(r, 20));
        }
        this.takeFailed = true;
        this.report(`etcd revision ${revision}: HAProxy did not take the new config (its new workers failed to start, e.g. a port already in use; see the router log)`, revision);
    }

    /** Supervision: a restarted master serves the last good config; confirm it again. */
    private async confirmRestart(): Promise<void> {
        if (this.loaded) await this.confirm(this.loaded, this.loaded.revision);
    }
}
