"use strict";
// Preloaded (`node -r`) by language-host.js into the program runner (@pulumi/pulumi/cmd/run),
// before the SDK loads: defers SDK modules the program never calls (lazy-sdk-modules.js) and,
// for TypeScript programs, reuses ts-node's transpile-only output from earlier runs
// (ts-transpile-cache.js), and shortens the SDK's debug text of each registration's answer
// (register-response-text.js). None changes what runs: see each file.
const path = require("path");

require("./lazy-sdk-modules").install({ typescript: false });
require("./protobuf-strings").install();
require("./register-response-text").install();
require("./provider-warm-list").recordForThisRun(process.cwd());
if (process.env.PULUMI_NODEJS_TYPESCRIPT === "true") {
    // argv[1] is the runner; it resolves ts-node from its own folder, so the cache does too.
    const runner = process.argv[1] || "";
    require("./ts-transpile-cache").install(path.dirname(runner));
}
