// splitHost is hand-written (the providers and the router split tens of thousands of hosts): held
// here to HOST_GRAMMAR, the definition, on valid hosts and on near-misses of every part.
import { expect } from "chai";
import fc from "fast-check";
import { splitHost, splitHostByGrammar } from "../../model/service-hosts";
import { formatIpv4 } from "../../model/ipv4";

const agree = (host: string) => {
    const mine = splitHost(host);
    const grammar = splitHostByGrammar(host);
    expect(mine === undefined ? undefined : { address: mine.address, port: mine.port }, JSON.stringify(host)).to.deep.equal(grammar);
};

describe("splitHost", () => {
    it("splits every canonical ip:port as the grammar does", () => {
        fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 65535 }), (v, port) => {
            const host = `${formatIpv4(v)}:${port}`;
            agree(host);
            expect(splitHost(host)!.value).to.equal(v);
        }));
    });

    it("refuses what the grammar refuses: ports 0, 65536, 010, signs, spaces, newlines, IPv6, extra colons", () => {
        const address = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }).map(formatIpv4), fc.constantFrom("1.2.3", "01.2.3.4", "1.2.3.256", "::1", "[::1]", "a.b.c.d", " 1.2.3.4", "1.2.3.4\n", ""));
        const port = fc.oneof(fc.nat(70000).map(String), fc.constantFrom("0", "00", "010", "65535", "65536", "99999", "100000", "+1", "-1", " 80", "80 ", "80\n", "8a", ""));
        const sep = fc.constantFrom(":", ":", "::", ";", "");
        fc.assert(fc.property(address, sep, port, (a, s, p) => agree(`${a}${s}${p}`)), { numRuns: 5000 });
        for (const host of ["1.2.3.4:80:90", ":80", "1.2.3.4:", "1.2.3.4", "10.0.0.1:0080"]) agree(host);
    });
});
