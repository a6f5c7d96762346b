#!/usr/bin/env bash
# npm run local: the whole cluster on this machine, no cloud account (docs/local-stack.md).
#
#   npm run local                 set up what is missing, then `pulumi up --stack local --yes`
#   npm run local -- preview      what `up` would change
#   npm run local -- refresh      compare state with the running machines (notices dead processes)
#   npm run local -- destroy      stop every machine (by pid) and remove its data
#   npm run local -- outputs      print the stack outputs (`outputs notAppliedLocally`: one of them)
#   npm run local -- status       one table: members, workers, the load balancer, the services
#   npm run local -- logs [machine] [-f]   every machine's logs in time order (-f: follow)
# Anything after up, preview, refresh, destroy or outputs is passed on to pulumi (e.g. `npm run local -- up --diff`).
#
# State lives in <repo>/.pulumi-local (DIY backend), machines in <repo>/.local-machines.
# PULUMI_CONFIG_PASSPHRASE defaults to a fixed local-only value (see scripts/engine-env.sh).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=as-root.sh
source scripts/as-root.sh
as_root scripts/local.sh "$@"
stack=local
say() { echo "local: $*" >&2; }
fail() { say "ERROR: $*"; exit 1; }

command="${1:-up}"
[ $# -gt 0 ] && shift
case "$command" in
  up|preview|refresh|destroy|outputs|status|logs) ;;
  -h|--help|help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) fail "unknown command '$command' (use up, preview, refresh, destroy, outputs, status or logs)" ;;
esac
# status and logs only read: no set-up steps, no chatter before their output.
reading=false
case "$command" in status|logs) reading=true ;; esac
step() { [ "$reading" = true ] || say "$*"; }

# 1. System packages: Debian's etcd (server + etcdctl); the script does nothing when present.
if [ "$reading" = false ]; then
  say "step 1/4: system packages (etcd, sshd, haproxy, nftables, prometheus)"
  bash scripts/install-system-deps.sh
fi

# 2. npm dependencies, only when they were never installed.
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[ "$node_major" -ge 20 ] || fail "Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))"
if [ ! -d node_modules/@pulumi/pulumi ]; then
  say "step 2/4: npm dependencies: node_modules is missing, npm ci"
  npm ci --no-audit --no-fund
else
  step "step 2/4: npm dependencies present"
fi

# 3. The Pulumi engine (installed, cached, or built once from the Go module proxy) and its environment.
# shellcheck source=engine-env.sh
if [ "$reading" = true ]; then
  source scripts/engine-env.sh "$repo_root/.pulumi-local" 2>/dev/null || source scripts/engine-env.sh "$repo_root/.pulumi-local"
else
  source scripts/engine-env.sh "$repo_root/.pulumi-local"
fi
step "step 3/4: pulumi $(pulumi version) from $(dirname "$(command -v pulumi)"), state in $PULUMI_BACKEND_URL"
if [ "${COREOS_CLUSTER_DEFAULT_PASSPHRASE:-}" = 1 ]; then
  step "secrets passphrase: the local-only default (set PULUMI_CONFIG_PASSPHRASE before the first run to use your own)"
fi

# 4. The deployer's SSH key for the tunnel into the VPC (a member's sshd): generated once under the
#    stack's data dir (mode 0600, never in the repo, the state or the logs) and handed to the program
#    in the variable sshTunnel.privateKeyEnv names, as CI hands GCE stacks theirs.
data_dir="$(node -e '
  const YAML = require("yaml");
  const doc = YAML.parse(require("fs").readFileSync(process.argv[1], "utf8")) || {};
  process.stdout.write(String((doc.config || {})["coreos-cluster:localDataDir"] || ".local-machines"));' "Pulumi.$stack.yaml")"
key_dir="$data_dir/deployer"
key_file="$key_dir/id_ed25519"
if [ ! -f "$key_file" ] && [ "$command" != destroy ] && [ "$command" != outputs ] && [ "$reading" = false ]; then
  mkdir -p "$key_dir" && chmod 700 "$key_dir"
  ssh-keygen -q -t ed25519 -N "" -C "coreos-cluster-deployer" -f "$key_file" >/dev/null
  say "generated the deployer's tunnel key $key_file"
fi
if [ -f "$key_file" ]; then
  COREOS_LOCAL_SSH_KEY="$(cat "$key_file")"
  export COREOS_LOCAL_SSH_KEY
fi

# 5. The stack, then the command.
step "step 4/4: pulumi $command --stack $stack"
if ! pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
  [ "$command" = up ] || [ "$command" = preview ] || fail "there is no '$stack' stack in $PULUMI_BACKEND_URL yet: run 'npm run local' first"
  say "creating stack '$stack' in $PULUMI_BACKEND_URL"
  if ! init_out="$(pulumi stack init "$stack" --non-interactive 2>&1)"; then
    echo "$init_out" >&2
    case "$init_out" in
      *"incorrect passphrase"*)
        fail "Pulumi.$stack.yaml carries an encryptionsalt made with another passphrase than PULUMI_CONFIG_PASSPHRASE. Unset PULUMI_CONFIG_PASSPHRASE to use the local default, or delete the encryptionsalt line of Pulumi.$stack.yaml to start this backend with your own." ;;
      *) fail "pulumi stack init $stack failed (see above)" ;;
    esac
  fi
fi

# The operator commands (scripts/local/cli.ts): the summary, status and logs.
local_cli() { node_modules/.bin/ts-node --transpile-only scripts/local/cli.ts "$@"; }

case "$command" in
  up)
    # --yes already skips the confirmation; the separate preview pass would only double the time.
    # The outputs are summed up below instead (all of them: npm run local -- outputs).
    pulumi up --stack "$stack" --yes --skip-preview --suppress-outputs "$@"
    echo
    local_cli summary
    ;;
  status) local_cli status "$@" ;;
  logs) local_cli logs "$@" ;;
  preview) pulumi preview --stack "$stack" "$@" ;;
  refresh) pulumi refresh --stack "$stack" --yes "$@" ;;
  destroy)
    # Stacks of other projects in this backend (examples/app-stack) keep keys in this cluster's etcd:
    # once it is gone they can no longer delete them, so they go first.
    consumers="$(pulumi stack ls --all --json | node -e '
      const stacks = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const s of stacks) if (s.name.includes("/") && !s.name.includes("/coreos-cluster/") && s.resourceCount > 0) console.log(s.name);')"
    if [ -n "$consumers" ] && [ "${COREOS_CLUSTER_DESTROY_ANYWAY:-}" != 1 ]; then
      fail "these stacks still have resources (service keys in this cluster): $(echo $consumers). Destroy them first, e.g. (cd examples/app-stack && source ../../scripts/engine-env.sh && pulumi destroy --stack local --yes), or set COREOS_CLUSTER_DESTROY_ANYWAY=1."
    fi
    pulumi destroy --stack "$stack" --yes "$@"
    # The key was needed until the last key in etcd was deleted through the tunnel.
    rm -rf "$key_dir"
    rmdir "$data_dir" 2>/dev/null || true
    say "every local machine is stopped and its data removed; the (empty) stack stays in $PULUMI_BACKEND_URL"
    ;;
  outputs) pulumi stack output --stack "$stack" "$@" ;;
esac
