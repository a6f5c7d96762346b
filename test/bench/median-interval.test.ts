// The interval the benchmarks put around a median ratio (bench/support.ts medianInterval):
// order statistics chosen by the binomial distribution of samples below the median.
import { expect } from "chai";
import * as fc from "fast-check";
import { medianInterval, medianIntervalText } from "../../bench/support";

/** A small deterministic generator (mulberry32), so the coverage check gives the same answer every run. */
function seeded(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

describe("bench: an interval for a median (medianInterval)", () => {
    it("takes the order statistics the binomial distribution names, for the benchmarks' round counts", () => {
        const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
        // 15 rounds: P(X <= 3) = 0.0176 for X ~ Binomial(15, 1/2), so x(4)..x(12) holds the median with 96.5%.
        expect(medianInterval(ranks(15))).to.deep.equal({ low: 4, high: 12, coverage: 1 - (2 * (1 + 15 + 105 + 455)) / 2 ** 15 });
        // 5 rounds: only the extremes reach 90% (93.75%).
        expect(medianInterval(ranks(5))).to.deep.equal({ low: 1, high: 5, coverage: 0.9375 });
        // 9: x(2)..x(8), 96.1%; x(3)..x(7) would be only 82%.
        expect(medianInterval(ranks(9))).to.deep.equal({ low: 2, high: 8, coverage: 1 - (2 * (1 + 9)) / 512 });
        // The order of the samples does not matter.
        expect(medianInterval([12, 3, 8, 15, 1, 7, 9, 2, 14, 6, 4, 11, 5, 13, 10])).to.deep.equal(medianInterval(ranks(15)));
    });

    it("says when too few samples support any interval, and refuses none", () => {
        expect(medianInterval([1.3])).to.deep.equal({ low: 1.3, high: 1.3, coverage: 0 });
        expect(medianInterval([1, 2, 3]).coverage).to.be.below(0.9);
        expect(() => medianInterval([])).to.throw(/no values/);
    });

    it("always brackets the sample median, and reaches the asked confidence once there are 5 or more samples", () => {
        fc.assert(
            fc.property(fc.array(fc.double({ min: 0.5, max: 3, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.constantFrom(0.8, 0.9, 0.95), (values, confidence) => {
                const sorted = [...values].sort((a, b) => a - b);
                const mid = sorted.length >> 1;
                const sampleMedian = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
                const { low, high, coverage } = medianInterval(values, confidence);
                expect(low).to.be.at.most(sampleMedian);
                expect(high).to.be.at.least(sampleMedian);
                if (values.length >= 5 && confidence <= 0.9) expect(coverage).to.be.at.least(confidence);
            }),
        );
    });

    it("holds the true median of the distribution sampled as often as it claims", () => {
        // 4,000 sets of 15 samples of a skewed distribution whose median is 1.0 (e raised to a uniform
        // power around 0): the claimed 96.5% is met, within sampling error (the rate's standard error is 0.3%).
        const random = seeded(20261207);
        const draw = () => Math.exp((random() - 0.5) * 0.6);
        let held = 0;
        const trials = 4000;
        for (let t = 0; t < trials; t++) {
            const { low, high } = medianInterval(Array.from({ length: 15 }, draw));
            if (low <= 1 && high >= 1) held++;
        }
        expect(held / trials).to.be.within(0.95, 0.98);
    });

    it("words the interval as every benchmark's note does, or says the rounds are too few", () => {
        // 9 rounds (program evaluation): ranks 2 and 8, 96.1%.
        expect(medianIntervalText([1.9, 1.1, 1.5, 1.3, 2.4, 1.7, 1.6, 1.2, 1.8])).to.equal("the median lies in 1.2-1.9 with 96% confidence");
        // 5 pairs (the no-op): the extremes, 93.7%.
        expect(medianIntervalText([1.85, 1.65, 1.85, 1.37, 1.83])).to.equal("the median lies in 1.37-1.85 with 93.7% confidence");
        expect(medianIntervalText([1.1, 1.2, 1.3])).to.equal("too few rounds for a 90% interval around the median");
    });
});
