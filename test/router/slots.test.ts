// The runtime-command planner (router/slots.ts) and the config's id: a host change keeps the
// structure (same id: runtime commands, no reload), a service change or a full backend does not.
// Property-tested with a model of HAProxy's slots: applying the planned batch command by command
// ends at the new layout, never serves fewer hosts than both the old and the new set while it runs,
// and every command is one of the runtime grammar's, whatever etcd holds.
import { expect } from "chai";
import * as fc from "fast-check";
import { renderHaproxyConfig, RouterConfigOptions, RouterConfigResult } from "../../router/haproxy-config";
import { assignLayout, assignSlots, MIN_SLOTS, RUNTIME_COMMAND, runtimeCommands, slotCapacity, SlotLayout, Slots } from "../../router/slots";

const OPTIONS: RouterConfigOptions = { prefix: "/services", bindAddress: "0.0.0.0", httpPorts: [80], healthPort: 10256, memberAddresses: ["10.0.0.2"], runDir: "/run/coreos-router" };

/** HAProxy's view of a backend's slots: an address and whether it takes traffic. */
type Model = Map<string, Array<{ addr: string | null; ready: boolean }>>;

function modelOf(layout: SlotLayout): Model {
    return new Map([...layout].map(([b, slots]) => [b, slots.map((h) => ({ addr: h, ready: h !== null }))]));
}

/** Applies one command the way HAProxy does (for what the planner sends). */
function run(model: Model, command: string): void {
    expect(command).to.match(RUNTIME_COMMAND);
    const m = /^set server ([^/]+)\/s(\d+) (.*)$/.exec(command)!;
    const slot = model.get(m[1])![Number(m[2]) - 1];
    expect(slot, command).to.not.equal(undefined);
    const addr = /^addr (\S+) port (\d+)$/.exec(m[3]);
    if (addr) slot.addr = `${addr[1]}:${addr[2]}`;
    else if (m[3] === "state ready") slot.ready = true;
    else if (m[3] === "state maint") slot.ready = false;
}

/** What each backend serves: the addresses of its ready slots (a multiset, sorted). */
function served(model: Model): Map<string, string[]> {
    return new Map([...model].map(([b, slots]) => [b, slots.filter((s) => s.ready).map((s) => s.addr!).sort()]));
}

const hostsOf = (slots: Slots) => slots.filter((h): h is string => h !== null).sort();

const host = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 })).map(([a, p]) => `10.0.${a}.${a * 10}:${8080 + p}`);
const hostList = fc.array(host, { maxLength: 12 });

describe("server slots: host changes as runtime commands (router/slots.ts)", () => {
    it("a fresh backend gets at least MIN_SLOTS, a power of two, at least twice its hosts", () => {
        expect(slotCapacity(0)).to.equal(MIN_SLOTS);
        expect(slotCapacity(4)).to.equal(8);
        expect(slotCapacity(5)).to.equal(16);
        expect(assignSlots(undefined, ["10.0.0.5:80", "10.0.0.6:80"])).to.deep.equal(["10.0.0.5:80", "10.0.0.6:80", null, null, null, null, null, null]);
    });

    it("a replaced host: the new one fills a free slot and is up before the old slot is freed", () => {
        const before: SlotLayout = new Map([["http_web", assignSlots(undefined, ["10.0.0.5:80"])]]);
        const after = assignLayout(before, [{ backend: "http_web", hosts: ["10.0.0.6:80"] }]);
        expect(after.get("http_web")!.slice(0, 2)).to.deep.equal([null, "10.0.0.6:80"]);
        expect(runtimeCommands(before, after)).to.deep.equal([
            "set server http_web/s2 addr 10.0.0.6 port 80",
            "set server http_web/s2 state ready",
            "set server http_web/s2 health up",
            "set server http_web/s1 state maint",
        ]);
    });

    it("property: assignSlots places exactly the hosts, keeps the ones that stay, fills only slots free before, never shrinks", () => {
        fc.assert(
            fc.property(hostList, hostList, (first, second) => {
                const before = assignSlots(undefined, first);
                const after = assignSlots(before, second);
                expect(hostsOf(after)).to.deep.equal([...second].sort());
                expect(after.length).to.be.at.least(before.length);
                if (after.length === before.length) {
                    after.forEach((h, i) => {
                        if (h !== null && h !== before[i]) expect(before[i], `slot ${i} was free before`).to.equal(null);
                    });
                } else {
                    expect(after.length).to.equal(slotCapacity(second.length));
                }
                // A host that stays keeps its slot (as many times as it stays).
                const kept = new Map<string, number>();
                for (const h of second) kept.set(h, (kept.get(h) ?? 0) + 1);
                before.forEach((h, i) => {
                    if (h !== null && (kept.get(h) ?? 0) > 0) {
                        kept.set(h, kept.get(h)! - 1);
                        expect(after[i], `host ${h} keeps slot ${i}`).to.equal(h);
                    }
                });
            }),
            { numRuns: 500 },
        );
    });

    it("property: the batch ends at the new layout, and while it runs each backend serves its kept hosts and never fewer than min(old, new)", () => {
        const backends = fc.uniqueArray(fc.constantFrom("http_web", "tcp_redis", "http_api", "http_a-b"), { minLength: 1, maxLength: 4 });
        fc.assert(
            fc.property(backends, fc.array(fc.tuple(hostList, hostList), { minLength: 4, maxLength: 4 }), (names, lists) => {
                const before = assignLayout(undefined, names.map((b, i) => ({ backend: b, hosts: lists[i][0] })));
                const after = assignLayout(before, names.map((b, i) => ({ backend: b, hosts: lists[i][1] })));
                const commands = runtimeCommands(before, after);
                const grew = names.some((b) => after.get(b)!.length !== before.get(b)!.length);
                if (grew) {
                    expect(commands, "a backend out of free slots is a reload").to.equal(undefined);
                    return;
                }
                const model = modelOf(before);
                for (const command of commands!) {
                    run(model, command);
                    for (const b of names) {
                        const now = served(model).get(b)!;
                        const [old, next] = [hostsOf(before.get(b)!), hostsOf(after.get(b)!)];
                        expect(now.length, `${b} after "${command}"`).to.be.at.least(Math.min(old.length, next.length));
                        for (const h of now) expect(old.includes(h) || next.includes(h), `${b} serves only old or new hosts`).to.equal(true);
                    }
                }
                for (const b of names) expect(served(model).get(b)).to.deep.equal(hostsOf(after.get(b)!));
            }),
            { numRuns: 300 },
        );
    });

    it("property: whatever etcd holds, every planned command is in the runtime grammar (no value from etcd adds a command)", () => {
        const hostile = fc.oneof(
            fc.string(),
            fc.constantFrom("10.0.0.9:80; shutdown sessions server http_web/s1", "10.0.0.9:80\nset server http_web/s1 addr 169.254.169.254", "10.0.0.9 port 1:80", "10.0.0.9:80 ", "10.0.0.9:080", "10.0.0.9:80#"),
            host,
        );
        const keys = fc.array(fc.record({ service: fc.constantFrom("web", "api", "Bad", "a;b"), id: fc.constantFrom("0", "1", "2", "x y"), value: hostile }), { maxLength: 8 });
        fc.assert(
            fc.property(keys, keys, (a, b) => {
                const toKeys = (entries: typeof a) => {
                    const m = new Map<string, string>([["/services/web/scheme", "http"], ["/services/api/scheme", "http"]]);
                    for (const e of entries) m.set(`/services/${e.service}/hosts/${e.id}`, e.value);
                    return m;
                };
                const first = renderHaproxyConfig(toKeys(a), OPTIONS) as RouterConfigResult & { ok: true };
                const second = renderHaproxyConfig(toKeys(b), OPTIONS, first.layout) as RouterConfigResult & { ok: true };
                const commands = first.id === second.id ? runtimeCommands(first.layout, second.layout) : undefined;
                for (const c of commands ?? []) expect(c).to.match(RUNTIME_COMMAND);
                for (const line of second.text.split("\n")) expect(line).to.match(/^[\x20-\x7e]*$/);
            }),
            { numRuns: 400 },
        );
    });

    it("the config id: same for a host change (runtime), new for a service, a scheme, a host_port or a full backend (reload); the file keeps hosts in their slots", () => {
        const render = (keys: Record<string, string>, previous?: SlotLayout) => renderHaproxyConfig(keys, OPTIONS, previous) as RouterConfigResult & { ok: true };
        const base = { "/services/web/scheme": "http", "/services/web/hosts/0": "10.0.0.5:8080", "/services/web/hosts/1": "10.0.0.6:8080" };
        const one = render(base);
        const moved = render({ ...base, "/services/web/hosts/0": "10.0.0.7:8080" }, one.layout);
        expect(moved.id, "host replaced: same structure").to.equal(one.id);
        expect(moved.text).to.not.equal(one.text);
        expect(moved.text).to.contain("server s1 0.0.0.0:1 disabled").and.contain("server s2 10.0.0.6:8080 check").and.contain("server s3 10.0.0.7:8080 check");
        expect(render({ "/services/web/scheme": "http" }, one.layout).id, "every host removed: same structure").to.equal(one.id);
        expect(render({ ...base, "/services/api/scheme": "http" }, one.layout).id, "a service added").to.not.equal(one.id);
        expect(render({ ...base, "/services/web/host_port": "16000" }, one.layout).id, "a host_port added").to.not.equal(one.id);
        expect(render({ ...base, "/services/web/scheme": "tcp", "/services/web/host_port": "16000" }, one.layout).id, "a scheme changed").to.not.equal(one.id);
        const many: Record<string, string> = { "/services/web/scheme": "http" };
        for (let i = 0; i < 9; i++) many[`/services/web/hosts/${i}`] = i === 0 ? "10.0.0.6:8080" : `10.0.1.${i + 1}:8080`;
        const full = render(many, one.layout);
        expect(full.id, "out of free slots: a reload with more").to.not.equal(one.id);
        expect(full.layout.get("http_web")).to.have.length(32);
        expect(full.layout.get("http_web")![1], "a host that stays keeps its slot").to.equal("10.0.0.6:8080");
    });
});
