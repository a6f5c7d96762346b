// The <service>.local answers, byte for byte (the end-to-end resolution is in router.test.ts).
import { expect } from "chai";
import { dnsAnswer } from "../../router/dns";

function query(name: string, type = 1, id = 0x1234): Buffer {
    const labels = name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
    const tail = Buffer.alloc(5);
    tail.writeUInt16BE(type, 1);
    tail.writeUInt16BE(1, 3);
    const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    return Buffer.concat([header, ...labels, tail]);
}

const isService = (n: string) => n === "web";

describe("router DNS answers (pure)", () => {
    it("A record for a registered <service>.local, any case, same id", () => {
        const reply = dnsAnswer(query("WEB.local"), isService, "10.0.0.5")!;
        expect(reply.readUInt16BE(0)).to.equal(0x1234);
        expect(reply.readUInt16BE(2) & 0x000f, "rcode").to.equal(0);
        expect(reply.readUInt16BE(6), "answers").to.equal(1);
        expect([...reply.subarray(reply.length - 4)]).to.deep.equal([10, 0, 0, 5]);
    });
    it("NXDOMAIN for other .local names, REFUSED for the rest, no answer for AAAA", () => {
        expect(dnsAnswer(query("api.local"), isService, "10.0.0.5")!.readUInt16BE(2) & 0x000f).to.equal(3);
        expect(dnsAnswer(query("a.web.local"), isService, "10.0.0.5")!.readUInt16BE(2) & 0x000f).to.equal(3);
        expect(dnsAnswer(query("example.com"), isService, "10.0.0.5")!.readUInt16BE(2) & 0x000f).to.equal(5);
        const aaaa = dnsAnswer(query("web.local", 28), isService, "10.0.0.5")!;
        expect(aaaa.readUInt16BE(2) & 0x000f).to.equal(0);
        expect(aaaa.readUInt16BE(6)).to.equal(0);
    });
    it("ignores garbage", () => {
        expect(dnsAnswer(Buffer.from([1, 2, 3]), isService, "10.0.0.5")).to.equal(undefined);
    });
});
