"use strict";
// Native UTF-8 for the SDK's protobuf strings. google-protobuf (the JavaScript runtime of the SDK's
// generated gRPC messages) encodes every string field one character at a time into an array of
// numbers and decodes it one byte at a time; the engine's messages carry each dynamic resource's
// inputs and outputs (user-data, certificates, the provider's packed bundle) as strings, several
// times per resource in every `up`. Node's own UTF-8 coder does the same work 4-10x faster
// (docs/performance.md).
//
// The wire format is unchanged: a string field and a bytes field are both a tag, a varint length
// and the UTF-8 bytes, so writeString writes the bytes through writeBytes, and readString decodes
// the view readBytes returns. Two differences, both only for text that is not valid UTF-8, which
// protobuf forbids in strings and the engine (Go) refuses anyway: a lone surrogate is written as
// U+FFFD instead of an invalid 3-byte sequence, and invalid bytes read as U+FFFD instead of
// being skipped.
//
// Installed by program-preload.js (the program runner) and dynamic-provider.js (the provider
// process) before the SDK loads: every copy of google-protobuf loaded afterwards is patched when
// first required. COREOS_CLUSTER_FAST_PROTOBUF_STRINGS=0 turns it off (to compare).
const Module = require("module");

const PATCHED = Symbol.for("coreos-cluster.protobuf-strings");

/** Patches one google-protobuf module's reader and writer; returns whether it did. */
function patch(jspb) {
    const reader = jspb && jspb.BinaryReader && jspb.BinaryReader.prototype;
    const writer = jspb && jspb.BinaryWriter && jspb.BinaryWriter.prototype;
    if (!reader || !writer || reader[PATCHED]) return false;
    // Only over the public methods this relies on: another release without them stays as shipped.
    if (typeof reader.readBytes !== "function" || typeof writer.writeBytes !== "function") return false;
    reader.readString = function readString() {
        const bytes = this.readBytes();
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    };
    writer.writeString = function writeString(field, value) {
        if (value === null || value === undefined) return;
        this.writeBytes(field, Buffer.from(value, "utf8"));
    };
    reader[PATCHED] = true;
    return true;
}

let installed = false;

function install() {
    if (installed || process.env.COREOS_CLUSTER_FAST_PROTOBUF_STRINGS === "0") return;
    installed = true;
    const originalLoad = Module._load;
    Module._load = function (request) {
        const loaded = originalLoad.apply(this, arguments);
        // The package by name (the SDK's messages) or its file by path (the well-known types').
        if (request === "google-protobuf" || /(^|[\\/])google-protobuf\.js$/.test(request)) patch(loaded);
        return loaded;
    };
}

module.exports = { install, patch, PATCHED };
