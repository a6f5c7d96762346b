"use strict";
// Has the engine start the dynamic-provider plugin (package pulumi-nodejs) while the program runner
// starts, rather than when the program registers its first dynamic resource: the plugin is a node
// process loading the SDK (~0.25 s), which then overlaps the runner's and the program's own start
// instead of following them (docs/performance.md, no-op up). The language host calls it on Run
// when the project sets the runtime option startDynamicProviders (docs/engine.md).
//
// How: an Invoke on the engine's resource monitor, as a program's invoke. The engine registers the
// package's default provider for it and starts its plugin: the very provider the program's dynamic
// resources then use (both ask with no version, so the engine resolves one default provider). The
// plugin answers that it has no such function; that answer is expected and dropped.
//
// What it changes besides the timing:
// - the default provider is registered as the program starts: a first `up` whose program then fails
//   (an invalid config) leaves it in state beside the Stack resource, where it was absent before;
// - if the plugin cannot start, the engine reports that as the deployment's error, as it would at
//   the first dynamic resource (here possibly before the program's own error is printed);
// - a program that registers no dynamic resource would start a plugin for nothing: it is opt-in.

/** What startDynamicProviderPlugin invokes: a function no provider has (the plugin answers "unknown function"). */
const START_PROVIDER_TOKEN = "pulumi-nodejs:dynamic:startProvider";

/** How long the call may wait for the engine; the engine answers within a plugin start. */
const DEADLINE_MS = 120_000;

/**
 * Sends the Invoke and returns at once; the answer only closes the client. `grpc` and `sdkRoot` are
 * the language host's (@grpc/grpc-js and the SDK whose generated protos it speaks).
 */
function startDynamicProviderPlugin(monitorAddress, { grpc, sdkRoot }) {
    if (!monitorAddress) return;
    const path = require("path");
    try {
        const resourceProto = require(path.join(sdkRoot, "proto", "resource_pb.js"));
        const resourceGrpc = require(path.join(sdkRoot, "proto", "resource_grpc_pb.js"));
        const client = new resourceGrpc.ResourceMonitorClient(monitorAddress, grpc.credentials.createInsecure());
        const request = new resourceProto.ResourceInvokeRequest();
        request.setTok(START_PROVIDER_TOKEN);
        client.invoke(request, { deadline: Date.now() + DEADLINE_MS }, () => client.close());
    } catch (_) {
        // A start-up shortcut only: without it the plugin starts at the first dynamic resource.
    }
}

module.exports = { startDynamicProviderPlugin, START_PROVIDER_TOKEN };
