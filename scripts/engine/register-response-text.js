"use strict";
// What the SDK's debug line for each registration says about the engine's answer. The SDK logs
// `RegisterResource RPC finished: <resource>; err: null, resp: ${response}` for every resource, and a
// generated protobuf message turns into text through its internal array: every output value, nested
// arrays flattened with commas, the provider's packed bundle included. For the local stack that was
// about 0.6 MB of unreadable text per `up`, built in the program, sent to the engine as 23 debug log
// calls and dropped there unless `--debug` (docs/performance.md, no-op `up`). Here the response reads
// as what a person debugging wants from that line: the URN, the id and the names of the outputs.
// Only the text changes: nothing reads a response through toString. COREOS_CLUSTER_SHORT_RESPONSE_TEXT=0
// turns it off (to compare).
const Module = require("module");

const PATCHED = Symbol.for("coreos-cluster.register-response-text");

/** The response as one short line: `urn=<urn> id=<id> outputs=[a, b]`. */
function responseText() {
    const fields = this.getObject ? this.getObject() : undefined;
    const names = fields && fields.getFieldsMap ? [...fields.getFieldsMap().keys()] : [];
    return `urn=${this.getUrn()} id=${this.getId()} outputs=[${names.join(", ")}]`;
}

/** Gives one copy of the SDK's resource_pb.js the short text; returns whether it did. */
function patch(resourcePb) {
    const proto = resourcePb && resourcePb.RegisterResourceResponse && resourcePb.RegisterResourceResponse.prototype;
    if (!proto || proto[PATCHED] || typeof proto.getUrn !== "function" || typeof proto.getId !== "function") return false;
    proto.toString = responseText;
    proto[PATCHED] = true;
    return true;
}

let installed = false;

function install() {
    if (installed || process.env.COREOS_CLUSTER_SHORT_RESPONSE_TEXT === "0") return;
    installed = true;
    const originalLoad = Module._load;
    Module._load = function (request) {
        const loaded = originalLoad.apply(this, arguments);
        if (/(^|[\\/])resource_pb(\.js)?$/.test(request)) patch(loaded);
        return loaded;
    };
}

module.exports = { install, patch, responseText };
