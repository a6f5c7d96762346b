// The seeding benchmark runs: a tiny size over the real setup (3 etcd members with mutual TLS and
// auth as the deployer, and the plaintext pair), so a change that breaks it fails here and not
// first in `npm run bench`. Speed is not judged (2 rounds of 20 services say nothing about it).
import { expect } from "chai";
import { seedingBenchmark, seedingOptionsFrom } from "../../bench/service-seeding";
import { seedingFigures, SizeRun } from "../../bench/seeding-figures";

describe("bench: service seeding over mutual TLS runs without error (real etcd, 127.0.41.21-23 and .31-33)", function () {
    this.timeout(180000);

    it("measures the set, both floors and the cost of TLS at two tiny sizes", async () => {
        const logs: string[] = [];
        const bench = seedingBenchmark(() => ({ sizes: [20, 40], rounds: 2, firstAddress: "127.0.41.21" }));
        const outcome = await bench.run({ repoRoot: process.cwd(), log: (m) => logs.push(m) });
        expect(outcome.status, logs.join("\n")).to.equal("ok");
        const ids = outcome.figures.map((f) => f.id);
        for (const n of [20, 40]) {
            for (const id of ["set-vs-tls-floor", "tls-floor-vs-plaintext-floor", "same-writes-floor-vs-tls-floor", "set-vs-same-writes-floor", "per-service-resources-vs-tls-floor"]) expect(ids).to.include(`${id}-${n}`);
        }
        for (const f of outcome.figures) expect(Number.isFinite(f.ratio) && f.ratio > 0, `${f.id} ratio ${f.ratio}`).to.equal(true);
        expect(outcome.figures.find((f) => f.id === "set-vs-tls-floor-20")!.target!.text).to.equal("provider <= 1.2x TLS floor");
    });
});

describe("bench: seeding options and figures (pure)", () => {
    it("reads sizes, rounds and address from the environment, and refuses nonsense", () => {
        expect(seedingOptionsFrom({})).to.deep.equal({ sizes: [1000, 10000], rounds: undefined, firstAddress: "127.0.12.1" });
        expect(seedingOptionsFrom({ BENCH_SEEDING_SERVICES: "100, 300", BENCH_SEEDING_ROUNDS: "3", BENCH_SEEDING_ADDRESS: "127.0.41.1" })).to.deep.equal({ sizes: [100, 300], rounds: 3, firstAddress: "127.0.41.1" });
        expect(() => seedingOptionsFrom({ BENCH_SEEDING_SERVICES: "100,x" })).to.throw(/not a positive integer/);
    });

    it("judges the set by the median of its per-round ratios to the TLS floor, against 1.2x", () => {
        const run: SizeRun = {
            count: 10, schemaKeys: 50, parallel: 8, rounds: 3, coldSetCreateMs: 5, oneAtATimeMs: 100,
            calibration: { tls: { 1: [30], 16: [10] }, plaintext: { 1: [30], 16: [9] } },
            floorInFlight: { tls: 16, plaintext: 16 },
            samples: { plaintextFloorMs: [9, 9, 9], tlsFloorBeforeMs: [10, 10, 10], setCreateMs: [11, 13, 20], tlsFloorAfterMs: [10, 10, 10], tlsSameWritesFloorMs: [11, 11, 11] },
            setToTlsFloor: [1.1, 1.3, 2], sameWritesToTlsFloor: [1.1, 1.1, 1.1], setToSameWritesFloor: [1, 1.18, 1.8], tlsToPlaintextFloor: [1.11, 1.11, 1.11],
            setWriteTransactions: 1, floorTransactions: 1, perServiceMs: 50, perServiceServicesPerBatch: 2,
        };
        const { figures, summary } = seedingFigures([run]);
        const set = figures.find((f) => f.id === "set-vs-tls-floor-10")!;
        expect(set.ratio).to.equal(1.3);
        expect(set.target).to.deep.equal({ text: "provider <= 1.2x TLS floor", pass: false });
        expect(figures.find((f) => f.id === "tls-floor-vs-plaintext-floor-10")!.ratio).to.equal(1.11);
        // Three rounds support no interval around the median: the summary says nothing about one.
        expect(summary).to.match(/1\.3x the TLS floor at 10 services \(FAIL\)/);
        expect(set.note).to.match(/too few rounds for a 90% interval around the median/);
    });

    it("puts a 90% interval around the median ratio and says which side of the target it falls", () => {
        const rounds = (ratios: number[]): SizeRun => ({
            count: 10, schemaKeys: 50, parallel: 8, rounds: ratios.length, coldSetCreateMs: 5, oneAtATimeMs: 100,
            calibration: { tls: { 16: [10] }, plaintext: { 16: [9] } },
            floorInFlight: { tls: 16, plaintext: 16 },
            samples: { plaintextFloorMs: ratios.map(() => 9), tlsFloorBeforeMs: ratios.map(() => 10), setCreateMs: ratios.map((r) => 10 * r), tlsFloorAfterMs: ratios.map(() => 10), tlsSameWritesFloorMs: ratios.map(() => 11) },
            setToTlsFloor: ratios, sameWritesToTlsFloor: ratios.map(() => 1.1), setToSameWritesFloor: ratios.map((r) => r / 1.1), tlsToPlaintextFloor: ratios.map(() => 1.11),
            setWriteTransactions: 1, floorTransactions: 1, perServiceMs: 50, perServiceServicesPerBatch: 2,
        });
        // 15 rounds: x(4)..x(12) of the sorted ratios, 96.4% (x(5)..x(11) would be 88%).
        const straddling = seedingFigures([rounds([1.05, 1.3, 1.1, 1.22, 1.12, 1.18, 1.25, 1.08, 1.15, 1.16, 1.28, 1.02, 1.19, 1.21, 1.14])]);
        const set = straddling.figures.find((f) => f.id === "set-vs-tls-floor-10")!;
        expect(set.ratio).to.equal(1.16);
        expect(set.target!.pass).to.equal(true);
        expect(set.note).to.match(/the median lies in 1\.1-1\.22 with 96\.4% confidence/);
        expect(straddling.summary).to.match(/1\.16x the TLS floor at 10 services \(PASS, its interval 1\.1-1\.22 on both sides of the target\)/);
        const clear = seedingFigures([rounds([1.05, 1.1, 1.08, 1.12, 1.02, 1.15, 1.11, 1.09, 1.04, 1.13, 1.06, 1.07, 1.1, 1.03, 1.14])]);
        expect(clear.summary).to.match(/\(PASS, within the target across its interval\)/);
    });
});
