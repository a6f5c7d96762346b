# Sourced (not run): puts the Pulumi engine on PATH and sets the environment every `pulumi`
# command of this repo runs with. Same defaults as test/support/engine.ts.
#
#   source scripts/engine-env.sh [backend-dir]      # default: <repo>/.pulumi-local
#
# Settings:
#   PULUMI_BACKEND_URL         file://<backend-dir>  (the DIY backend: state in a folder, no account;
#                              always set, so a backend exported for other projects is never used)
#   PULUMI_CONFIG_PASSPHRASE   coreos-cluster-local-only unless already set, or PULUMI_CONFIG_PASSPHRASE_FILE
#                              is (encrypts this backend's secrets; local use only)
#   PULUMI_HOME                <backend-dir>/home  (workspace settings; ~/.pulumi is untouched)
#   PULUMI_SKIP_UPDATE_CHECK, PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION  (offline machines)
#   PULUMI_NODEJS_TRANSPILE_ONLY  true unless already set (type-checking is `npm run build`'s job)
#   COREOS_CLUSTER_ROOT        <repo>  (where FleetUnit states from before its bundled provider load components/ from)

coreos_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
coreos_backend_dir="$(mkdir -p "${1:-$coreos_repo_root/.pulumi-local}" && cd "${1:-$coreos_repo_root/.pulumi-local}" && pwd)"

if command -v pulumi >/dev/null 2>&1 && command -v pulumi-language-nodejs >/dev/null 2>&1; then
  coreos_engine_bin="$(dirname "$(command -v pulumi)")"
  echo "engine-env: using pulumi on PATH ($coreos_engine_bin)" >&2
# By its physical path: the script links launchers from its own folder into the shared cache, and
# must never point them into a scratch copy of the repo (test/support/engine.ts makes such copies).
elif ! coreos_engine_bin="$(bash "$(cd "$coreos_repo_root/scripts" && pwd -P)/bootstrap-engine.sh" | tail -n 1)" || [ -z "$coreos_engine_bin" ]; then
  echo "engine-env: could not provide the Pulumi engine (see the messages above)" >&2
  return 1 2>/dev/null || exit 1
fi
case ":$PATH:" in
  *":$coreos_engine_bin:"*) ;;
  *) export PATH="$coreos_engine_bin:$PATH" ;;
esac

export PULUMI_BACKEND_URL="file://$coreos_backend_dir"
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE="coreos-cluster-local-only"
  export COREOS_CLUSTER_DEFAULT_PASSPHRASE=1
fi
export PULUMI_HOME="$coreos_backend_dir/home"
mkdir -p "$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
# Type errors are caught by `npm run build` / `npm test`; a deployment only needs the JavaScript,
# which the language host then reuses from its transpile cache (docs/engine.md, Start-up time).
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export COREOS_CLUSTER_ROOT="$coreos_repo_root"
