"use strict";
// A Node.js language host for the Pulumi engine (the `pulumi-language-nodejs`
// plugin). The official one is a Go program whose module the Go proxy reachable
// here does not serve, so this repo carries its own: a gRPC LanguageRuntime
// server built on @grpc/grpc-js and the SDK's own generated protos. It does
// what the engine needs to deploy a Node.js program: report required plugins,
// run the program (`@pulumi/pulumi/cmd/run`), and run policy packs and plugins
// (`RunPlugin`). Code generation, packing and `pulumi new` templates are left
// unimplemented (the engine treats UNIMPLEMENTED as "not supported").
//
// Protocol: started as `pulumi-language-nodejs [flags] <engine-address>`, it
// prints the port it listens on as the first line of stdout.

const childProcess = require("child_process");
const fs = require("fs");
const path = require("path");

const repoRoot = path.resolve(__dirname, "..", "..");
const sdkRoot = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [repoRoot] }));
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdkRoot, repoRoot] }));
const languageProto = require(path.join(sdkRoot, "proto", "language_pb.js"));
const languageGrpc = require(path.join(sdkRoot, "proto", "language_grpc_pb.js"));
const pluginProto = require(path.join(sdkRoot, "proto", "plugin_pb.js"));
const sdkVersion = require(path.join(sdkRoot, "package.json")).version;
const { startDynamicProviderPlugin } = require("./start-dynamic-providers");

// The process exit code by which @pulumi/pulumi's runner says "I already
// reported the error to the user": the engine must not print another one.
const EXIT_CODE_ERROR_ALREADY_REPORTED = 32;

const engineAddress = process.argv.slice(2).filter((a) => !a.startsWith("-")).pop() || "";

function programOptions(info) {
    const options = info && info.getOptions() ? info.getOptions().toJavaScript() : {};
    return {
        typescript: options.typescript !== false,
        tsconfig: typeof options.tsconfig === "string" ? options.tsconfig : "",
        nodeargs: typeof options.nodeargs === "string" && options.nodeargs.trim() ? options.nodeargs.trim().split(/\s+/) : [],
        startDynamicProviders: options.startDynamicProviders === true,
    };
}

/** The SDK module of the program being run (its own node_modules first), like the Go host's locateModule. */
function locateSdkModule(moduleId, programDirectory) {
    try {
        return require.resolve(moduleId, { paths: [programDirectory] });
    } catch (_) {
        return require.resolve(moduleId, { paths: [repoRoot] });
    }
}

function typescriptEnv(options) {
    const env = {};
    if (options.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (options.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
    return env;
}

/** Resource plugins the program's packages declare (`"pulumi": {"resource": true}` in package.json). */
function requiredPlugins(programDirectory) {
    const found = new Map();
    let dir = path.resolve(programDirectory);
    // Walk up like Node's resolution does: a program in a sub-folder uses the repo's node_modules.
    for (;;) {
        const nodeModules = path.join(dir, "node_modules");
        if (fs.existsSync(nodeModules)) {
            for (const entry of fs.readdirSync(nodeModules)) {
                const candidates = entry.startsWith("@")
                    ? fs.readdirSync(path.join(nodeModules, entry)).map((s) => path.join(entry, s))
                    : [entry];
                for (const candidate of candidates) {
                    const manifest = path.join(nodeModules, candidate, "package.json");
                    if (!fs.existsSync(manifest)) continue;
                    let pkg;
                    try {
                        pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
                    } catch (_) {
                        continue;
                    }
                    if (!pkg.pulumi || !pkg.pulumi.resource) continue;
                    const name = pkg.pulumi.name || String(pkg.name).replace(/^@pulumi\//, "").replace(/^@/, "");
                    const version = pkg.pulumi.version || pkg.version;
                    if (!found.has(name)) {
                        found.set(name, { name, version: version.startsWith("v") ? version : `v${version}`, server: pkg.pulumi.server || "" });
                    }
                }
            }
            break;
        }
        const parent = path.dirname(dir);
        if (parent === dir) break;
        dir = parent;
    }
    return [...found.values()];
}

/** True when the package.json nearest to the program says `"type": "module"` (an ES module program). */
function isEsModuleProgram(programDirectory) {
    for (let dir = path.resolve(programDirectory); ; dir = path.dirname(dir)) {
        const manifest = path.join(dir, "package.json");
        if (fs.existsSync(manifest)) {
            try {
                return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
            } catch (_) {
                return false;
            }
        }
        if (path.dirname(dir) === dir) return false;
    }
}

/**
 * Node arguments that make the runner start faster without changing what it runs
 * (program-preload.js: SDK modules a program never calls are loaded on first use, and ts-node's
 * transpile-only output is reused while a file is unchanged). Not for ES module programs: the
 * SDK picks its ESM loader only when node runs without --require.
 */
function runnerPreload(programDirectory) {
    if (process.env.COREOS_CLUSTER_RUNNER_PRELOAD === "0" || isEsModuleProgram(programDirectory)) return [];
    return ["--require", path.join(__dirname, "program-preload.js")];
}

function runProgram(req, callback) {
    const info = req.getInfo();
    const programDirectory = (info && info.getProgramDirectory()) || req.getPwd();
    const options = programOptions(info);
    const runPath = locateSdkModule("@pulumi/pulumi/cmd/run", programDirectory);

    const args = [...options.nodeargs, ...runnerPreload(programDirectory), runPath];
    const flag = (name, value) => {
        if (value !== undefined && value !== null && value !== "") args.push(`--${name}`, String(value));
    };
    flag("monitor", req.getMonitorAddress());
    flag("engine", engineAddress);
    flag("organization", req.getOrganization());
    flag("project", req.getProject());
    flag("stack", req.getStack());
    flag("pwd", req.getPwd());
    flag("root-directory", info && info.getRootDirectory());
    if (req.getDryrun()) args.push("--dry-run");
    if (req.getParallel()) flag("parallel", req.getParallel());
    args.push(req.getProgram() || ".", ...req.getArgsList());

    const config = {};
    req.getConfigMap().forEach((value, key) => {
        config[key] = value;
    });
    const env = {
        ...process.env,
        ...typescriptEnv(options),
        PULUMI_CONFIG: JSON.stringify(config),
        PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(req.getConfigsecretkeysList()),
    };

    const child = childProcess.spawn(process.execPath, args, { cwd: req.getPwd() || programDirectory, env, stdio: ["ignore", "inherit", "inherit"] });
    if (options.startDynamicProviders) startDynamicProviderPlugin(req.getMonitorAddress(), { grpc, sdkRoot });
    child.on("error", (err) => {
        const response = new languageProto.RunResponse();
        response.setError(`could not start the Node.js program runner: ${err.message}`);
        callback(null, response);
    });
    child.on("exit", (code, signal) => {
        const response = new languageProto.RunResponse();
        if (code === EXIT_CODE_ERROR_ALREADY_REPORTED) {
            response.setBail(true);
        } else if (code !== 0) {
            response.setError(signal ? `Program exited on signal ${signal}` : `Program exited with non-zero exit code: ${code}`);
        }
        callback(null, response);
    });
}

function runPlugin(call) {
    const req = call.request;
    const info = req.getInfo();
    const programDirectory = (info && info.getProgramDirectory()) || req.getPwd();
    const options = programOptions(info);
    const isPolicyPack = req.getKind() === "analyzer";
    const runner = locateSdkModule(isPolicyPack ? "@pulumi/pulumi/cmd/run-policy-pack" : "@pulumi/pulumi/cmd/run-plugin", programDirectory);
    // run-policy-pack takes `<engine-address> <program>`; run-plugin takes `<program> [args]`.
    const args = isPolicyPack
        ? [...options.nodeargs, runner, ...req.getArgsList(), programDirectory]
        : [...options.nodeargs, runner, programDirectory, ...req.getArgsList()];

    const env = {};
    for (const entry of req.getEnvList()) {
        const eq = entry.indexOf("=");
        if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    Object.assign(env, typescriptEnv(options));

    // A policy pack runs in its own folder, so it reads its own package.json and tsconfig.
    const cwd = isPolicyPack ? programDirectory : req.getPwd() || programDirectory;
    const child = childProcess.spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const send = (setter, value) => {
        const message = new languageProto.RunPluginResponse();
        message[setter](value);
        call.write(message);
    };
    child.stdout.on("data", (chunk) => send("setStdout", chunk));
    child.stderr.on("data", (chunk) => send("setStderr", chunk));
    call.on("cancelled", () => child.kill("SIGTERM"));
    child.on("error", (err) => {
        send("setStderr", Buffer.from(`could not start plugin runner: ${err.message}\n`));
        send("setExitcode", 1);
        call.end();
    });
    child.on("close", (code) => {
        send("setExitcode", code === null ? 1 : code);
        call.end();
    });
}

const service = {
    handshake(_call, callback) {
        callback(null, new languageProto.LanguageHandshakeResponse());
    },
    getRequiredPlugins(call, callback) {
        const info = call.request.getInfo();
        const dir = (info && info.getProgramDirectory()) || call.request.getPwd() || process.cwd();
        const response = new languageProto.GetRequiredPluginsResponse();
        for (const plugin of requiredPlugins(dir)) {
            const dep = new pluginProto.PluginDependency();
            dep.setName(plugin.name);
            dep.setKind("resource");
            dep.setVersion(plugin.version);
            if (plugin.server) dep.setServer(plugin.server);
            response.addPlugins(dep);
        }
        callback(null, response);
    },
    run(call, callback) {
        runProgram(call.request, callback);
    },
    getPluginInfo(_call, callback) {
        const info = new pluginProto.PluginInfo();
        info.setVersion(sdkVersion);
        callback(null, info);
    },
    installDependencies(call) {
        // Dependencies are installed by `npm ci` (see README); nothing to do here.
        call.end();
    },
    runtimeOptionsPrompts(_call, callback) {
        callback(null, new languageProto.RuntimeOptionsResponse());
    },
    about(_call, callback) {
        const response = new languageProto.AboutResponse();
        response.setExecutable(process.execPath);
        response.setVersion(process.version);
        callback(null, response);
    },
    getProgramDependencies(_call, callback) {
        callback(null, new languageProto.GetProgramDependenciesResponse());
    },
    runPlugin,
};

function serve() {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
    server.addService(languageGrpc.LanguageRuntimeService, service);
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
            process.stderr.write(`pulumi-language-nodejs: could not listen: ${err.message}\n`);
            process.exit(1);
        }
        process.stdout.write(`${port}\n`);
    });
    // The engine stops plugins with SIGINT/SIGTERM or by closing our stdin.
    for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.forceShutdown() || process.exit(0));
}

// Started by the engine (through pulumi-language-nodejs) it serves; required (tests) it only exports.
if (require.main === module) serve();
module.exports = { requiredPlugins, runnerPreload, programOptions };
