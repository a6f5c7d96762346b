"use strict";
// Defers heavy modules that @pulumi/pulumi loads when it starts but that a no-op deployment never
// calls, until the first time they are actually used:
//
//   ./automation       the Automation API (driving the CLI from a program: execa, the workspace,
//                      the stack), required by the SDK's index.js for `pulumi.automation`; ~50 ms
//                      of every program that imports "@pulumi/pulumi" (docs/performance.md).
//   @npmcli/arborist   required by runtime/closure/codePaths.js for runtime.computeCodePaths()
//                      (packaging a function with its node_modules, e.g. for a cloud function);
//                      ~0.3-0.5 s of module loading in every program and dynamic-provider process.
//   normalize-package-data, fdir
//                      required by the same file for the same function only; ~25 ms (its
//                      license-name tables are sorted when it loads).
//   ./provider         the provider framework (`pulumi.provider`: serving a component or custom
//                      provider over gRPC), required by the SDK's index.js; ~5 ms, and no program or
//                      dynamic provider here serves one.
//   typescript         required through typescript-shim.js by the closure serializer
//                      (runtime.serializeFunction). The program runner needs it anyway (ts-node,
//                      serializing dynamic providers), so it is deferred only where asked: the
//                      dynamic-provider process, which deserializes providers and never serializes.
//
// Only these exact requests from these exact SDK files are deferred: everything else, and every
// require of a deserialized provider, loads as usual. A deferred module is a proxy that loads the
// real one (with the same parent, so it resolves exactly as before) on the first property access,
// so a process that does call computeCodePaths or serializeFunction behaves exactly as without it.
const Module = require("module");
const path = require("path");

const SEP = path.sep;
const sdkFile = (relative) => `${SEP}@pulumi${SEP}pulumi${SEP}${relative.split("/").join(SEP)}`;

/** [the SDK file that requires it, the request] */
const ARBORIST = [sdkFile("runtime/closure/codePaths.js"), "@npmcli/arborist"];
const TYPESCRIPT = [sdkFile("typescript-shim.js"), "typescript"];
const AUTOMATION = [sdkFile("index.js"), "./automation"];
const PROVIDER = [sdkFile("index.js"), "./provider"];
// codePaths.js takes normalize-package-data's export through __importDefault and calls it.
const NORMALIZE_PACKAGE_DATA = [sdkFile("runtime/closure/codePaths.js"), "normalize-package-data", { callable: true }];
const FDIR = [sdkFile("runtime/closure/codePaths.js"), "fdir"];

/**
 * A stand-in for a module, loading it on first use. `callable`: the module's export is a function
 * taken through TypeScript's __importDefault, which reads `__esModule` as it loads (answered false
 * here without loading: such a module is plain CommonJS) and wraps the stand-in as `default`.
 */
function lazyModule(load, options = {}) {
    let real;
    let loaded = false;
    const target = () => {
        if (!loaded) {
            real = load();
            loaded = true;
        }
        return real;
    };
    const esModule = !options.callable;
    return new Proxy(
        // An arrow function: callable, and without the non-configurable `prototype` a proxy would have to report.
        options.callable ? () => undefined : {},
        {
            // TypeScript's __importStar returns a module marked __esModule as is instead of copying
            // its properties (which would load it); the SDK only reads named exports of these.
            get: (_t, key) => (key === "__esModule" ? esModule : Reflect.get(target(), key)),
            has: (_t, key) => (key === "__esModule" ? esModule : Reflect.has(target(), key)),
            apply: (_t, thisArg, args) => Reflect.apply(target(), thisArg, args),
            set: (_t, key, value) => Reflect.set(target(), key, value),
            ownKeys: () => Reflect.ownKeys(target()),
            getOwnPropertyDescriptor: (_t, key) => {
                const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
                // A proxy may not report a non-configurable property its (empty) target lacks.
                return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
            },
            defineProperty: (_t, key, descriptor) => Reflect.defineProperty(target(), key, descriptor),
            deleteProperty: (_t, key) => Reflect.deleteProperty(target(), key),
            getPrototypeOf: () => Reflect.getPrototypeOf(target()),
        },
    );
}

let installed = false;

/**
 * Installs the deferral for this process (arborist, normalize-package-data, fdir, the Automation API, the provider framework). `typescript: true` also defers the closure serializer's
 * TypeScript (only for processes that do not run TypeScript through ts-node).
 */
function install(options = {}) {
    if (installed || process.env.COREOS_CLUSTER_LAZY_SDK_MODULES === "0") return;
    installed = true;
    const deferred = [ARBORIST, AUTOMATION, PROVIDER, NORMALIZE_PACKAGE_DATA, FDIR, ...(options.typescript ? [TYPESCRIPT] : [])];
    const originalLoad = Module._load;
    Module._load = function (request, parent, isMain) {
        if (parent && typeof parent.filename === "string") {
            for (const [file, name, shape] of deferred) {
                if (request === name && parent.filename.endsWith(file)) {
                    return lazyModule(() => originalLoad.call(Module, request, parent, isMain), shape);
                }
            }
        }
        return originalLoad.apply(this, arguments);
    };
}

module.exports = { install };
