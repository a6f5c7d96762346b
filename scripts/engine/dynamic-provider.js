"use strict";
// The dynamic-provider plugin (`pulumi-resource-pulumi-nodejs <engine-address>`): runs
// @pulumi/pulumi/cmd/dynamic-provider from the program's own SDK (the engine starts plugins in the
// program directory), or from this repo's when the program has none, in this same node process.
// This process only deserializes providers and runs their check/diff/create/read/update/delete,
// so the SDK modules it would load at start for serializing and packaging functions are deferred
// until used (lazy-sdk-modules.js): about half of its start-up time.
const path = require("path");

const ENTRY = "@pulumi/pulumi/cmd/dynamic-provider";
let script;
try {
    script = require.resolve(ENTRY, { paths: [process.cwd()] });
} catch {
    script = require.resolve(ENTRY, { paths: [path.resolve(__dirname, "..", "..")] });
}
require("./lazy-sdk-modules").install({ typescript: true });
require("./protobuf-strings").install();
// The provider reads its arguments from process.argv.slice(2), which are this script's.
require(script);
// While the engine and the program start: compile the bundles the program's last run used
// (provider-warm-list.js), then run one message of each kind through the SDK's codec (provider-codec-warmup.js).
const warmList = require("./provider-warm-list");
void warmList.warmListedProviders(process.cwd()).then(() => {
    if (!warmList.warmingEnabled()) return;
    try {
        require("./provider-codec-warmup").warmProviderCodec(path.resolve(path.dirname(script), "..", ".."));
    } catch {
        // the first call pays for it, as without
    }
});
