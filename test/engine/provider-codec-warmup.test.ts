// scripts/engine/provider-codec-warmup.js: the dynamic-provider process runs one check and one diff
// message through the SDK's own codec before its first call; what it writes must read back the same.
import { expect } from "chai";
import * as path from "path";

const { warmProviderCodec, SAMPLE } = require("../../scripts/engine/provider-codec-warmup.js") as {
    warmProviderCodec(sdkDir: string): Record<string, any>;
    SAMPLE: Record<string, unknown>;
};

describe("provider codec warm-up", () => {
    it("writes and reads back a check's and a diff's request and response with the installed SDK's message classes", () => {
        const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
        const read = warmProviderCodec(sdkDir);
        expect(read.checkRequest.olds).to.deep.equal(SAMPLE);
        expect(read.checkRequest.news).to.deep.equal(SAMPLE);
        expect(read.checkRequest.urn).to.match(/^urn:pulumi:/);
        expect(read.checkResponse).to.deep.equal(SAMPLE);
        expect(read.diffRequest).to.deep.equal({ id: "warm-up", olds: SAMPLE, news: SAMPLE });
        expect(read.diffResponse).to.deep.equal({ changes: 1 });
    });
});
