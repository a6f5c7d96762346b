// parseIpv4 is a hand-written one-pass parser (the providers parse tens of thousands of hosts per
// write): held here to its definition, four canonical octets joined by dots.
import { expect } from "chai";
import fc from "fast-check";
import { formatIpv4, parseIpv4 } from "../../model/ipv4";

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
function byDefinition(text: string): number | undefined {
    const parts = text.split(".");
    if (parts.length !== 4 || parts.some((p) => !OCTET.test(p) || Number(p) > 255)) return undefined;
    return parts.reduce((v, p) => v * 256 + Number(p), 0);
}

describe("parseIpv4", () => {
    it("reads every address as formatIpv4 writes it", () => {
        fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => parseIpv4(formatIpv4(v)) === v));
    });

    it("agrees with the definition on near-misses: leading zeros, big octets, signs, spaces, missing or extra parts", () => {
        const piece = fc.oneof(fc.constantFrom("0", "00", "01", "1", "9", "10", "99", "100", "255", "256", "999", "1000", "0255", "", " 1", "+1", "-1", "1e1", "0x1", "1 ", "a"), fc.nat(300).map(String));
        fc.assert(
            fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.constantFrom(".", ".", ".", ",", ".."), (pieces, dot) => {
                const text = pieces.join(dot);
                expect(parseIpv4(text), JSON.stringify(text)).to.equal(byDefinition(text));
            }),
            { numRuns: 3000 },
        );
        for (const text of ["", ".", "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "01.2.3.4", "1.2.3.256", "1.2.3.4 ", "255.255.255.255", "0.0.0.0"]) {
            expect(parseIpv4(text), JSON.stringify(text)).to.equal(byDefinition(text));
        }
    });
});
