"use strict";
// The dynamic-provider process's first check paid for google-protobuf's cold code: turning the
// inputs into a Struct, writing the CheckResponse, reading the CheckRequest. About 10 ms, on the
// engine's serial chain of checks and diffs of a no-op `up` (docs/performance.md), while the same
// work for the next resource took under a millisecond. So, while the process waits for its first
// call, one made-up request and response of each kind the provider answers in a no-op (check and
// diff) goes through the SDK's own message classes: written, read back, turned into plain values.
// Nothing is sent or kept. COREOS_CLUSTER_WARM_PROVIDERS=0 turns it off with the warm list.
const path = require("path");

/** A value of every kind a Struct holds. */
const SAMPLE = { text: "coreos-cluster", number: 2379, flag: true, nothing: null, list: ["a", 1, { nested: "b" }], object: { key: "value" } };

/**
 * Runs SAMPLE through the CheckRequest, CheckResponse, DiffRequest and DiffResponse of the SDK in
 * `sdkDir` (its proto/provider_pb.js and the struct_pb.js it loads) and returns what each read back.
 */
function warmProviderCodec(sdkDir) {
    const providerPb = require(path.join(sdkDir, "proto", "provider_pb.js"));
    const { Struct } = require(require.resolve("google-protobuf/google/protobuf/struct_pb.js", { paths: [path.join(sdkDir, "proto")] }));
    const urn = "urn:pulumi:stack::project::pulumi-nodejs:dynamic:Resource::warm-up";
    const roundTrip = (Message, fill) => {
        const message = new Message();
        fill(message);
        return Message.deserializeBinary(message.serializeBinary());
    };
    const checkRequest = roundTrip(providerPb.CheckRequest, (m) => {
        m.setUrn(urn);
        m.setOlds(Struct.fromJavaScript(SAMPLE));
        m.setNews(Struct.fromJavaScript(SAMPLE));
    });
    const checkResponse = roundTrip(providerPb.CheckResponse, (m) => m.setInputs(Struct.fromJavaScript(SAMPLE)));
    const diffRequest = roundTrip(providerPb.DiffRequest, (m) => {
        m.setId("warm-up");
        m.setUrn(urn);
        m.setOlds(Struct.fromJavaScript(SAMPLE));
        m.setNews(Struct.fromJavaScript(SAMPLE));
    });
    const diffResponse = roundTrip(providerPb.DiffResponse, (m) => {
        m.setChanges(providerPb.DiffResponse.DiffChanges.DIFF_NONE);
        m.setReplacesList([]);
        m.setDeletebeforereplace(false);
    });
    return {
        checkRequest: { urn: checkRequest.getUrn(), olds: checkRequest.getOlds().toJavaScript(), news: checkRequest.getNews().toJavaScript() },
        checkResponse: checkResponse.getInputs().toJavaScript(),
        diffRequest: { id: diffRequest.getId(), olds: diffRequest.getOlds().toJavaScript(), news: diffRequest.getNews().toJavaScript() },
        diffResponse: { changes: diffResponse.getChanges() },
    };
}

module.exports = { warmProviderCodec, SAMPLE };
