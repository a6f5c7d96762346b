#!/usr/bin/env bash
# Provides the Pulumi engine for this repo: the `pulumi` CLI and a Node.js
# language host. Prints progress on stderr and, on success, the directory to
# put first on PATH as the last line of stdout.
#
# Order of preference:
#   1. a `pulumi` already on PATH (the normal install on a user's machine);
#   2. binaries cached by an earlier run of this script;
#   3. a build from the Go module proxy (no other network is needed).
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-3.248.0}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cache_root="${COREOS_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coreos-cluster}"
engine_dir="$cache_root/engine/v$PULUMI_VERSION"
bin_dir="$engine_dir/bin"
# The shared cache holds only what is immutable: the built CLI. The launchers (language host,
# dynamic-provider and policy plugins) run this checkout's scripts/engine/, so they live in a
# folder of this checkout, beside a link to the shared CLI: another checkout, deleted or running
# at the same time, can never swap or break them.
checkout_bin="$repo_root/.engine/bin"

say() { echo "bootstrap-engine: $*" >&2; }
fail() {
  say "ERROR: $*"
  say "On a normal machine install Pulumi with: curl -fsSL https://get.pulumi.com | sh"
  say "(or: brew install pulumi/tap/pulumi), then run this again."
  exit 1
}

# The Node.js language host and the dynamic-provider launcher always come from
# this repo (scripts/engine/): the CLI finds plugins on PATH.
link_launchers() {
  mkdir -p "$checkout_bin"
  for launcher in pulumi-language-nodejs pulumi-resource-pulumi-nodejs pulumi-analyzer-policy; do
    # Earlier versions of this script linked launchers into the shared cache: never use those.
    rm -f "$bin_dir/$launcher"
    [ "$(readlink "$checkout_bin/$launcher" 2>/dev/null)" = "../../scripts/engine/$launcher" ] \
      || ln -sfn "../../scripts/engine/$launcher" "$checkout_bin/$launcher"
  done
  # The CLI as a hard link (a copy across filesystems), never a symlink: the engine looks for its
  # bundled plugins (these launchers) next to the executable it runs as, symlinks resolved
  # (workspace.GetPluginPath in pulumi's sdk/go/common/workspace/plugins.go). Through a symlink that
  # is the shared cache, which holds no launchers, so every command warned "using
  # pulumi-language-nodejs from $PATH"; beside them, the launchers on PATH are the bundled ones.
  if [ ! "$checkout_bin/pulumi" -ef "$bin_dir/pulumi" ] || [ -L "$checkout_bin/pulumi" ]; then
    rm -f "$checkout_bin/pulumi.tmp"
    ln "$bin_dir/pulumi" "$checkout_bin/pulumi.tmp" 2>/dev/null || cp "$bin_dir/pulumi" "$checkout_bin/pulumi.tmp"
    mv -f "$checkout_bin/pulumi.tmp" "$checkout_bin/pulumi"
  fi
}

if [ "${COREOS_CLUSTER_FORCE_BUILD:-}" != "1" ] && existing="$(command -v pulumi 2>/dev/null)" \
   && [ "$existing" != "$bin_dir/pulumi" ] && [ "$existing" != "$checkout_bin/pulumi" ]; then
  say "using installed pulumi at $existing ($("$existing" version 2>/dev/null || echo unknown version))"
  dirname "$existing"
  exit 0
fi

if [ -x "$bin_dir/pulumi" ] && "$bin_dir/pulumi" version >/dev/null 2>&1; then
  say "using cached pulumi v$PULUMI_VERSION from $bin_dir (launchers of this checkout in $checkout_bin)"
  link_launchers
  echo "$checkout_bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || fail "no pulumi on PATH, none cached in $bin_dir, and no Go toolchain to build one."

say "building pulumi v$PULUMI_VERSION from the Go module proxy into $bin_dir (first run: several minutes)"
build_dir="$engine_dir/build"
mkdir -p "$build_dir" "$bin_dir"
cd "$build_dir"
# The CLI's own go.mod has `replace` directives, so `go install pkg@version`
# refuses it: a throwaway module (scripts/engine/cli-build, with its go.sum
# pinned in the repo) requires it and repeats the non-local replaces.
cp "$repo_root/scripts/engine/cli-build/go.mod" "$repo_root/scripts/engine/cli-build/tools.go" .
[ -f "$repo_root/scripts/engine/cli-build/go.sum" ] && cp "$repo_root/scripts/engine/cli-build/go.sum" .
sed -i "s#github.com/pulumi/pulumi/\(pkg\|sdk\)/v3 v[0-9.]*#github.com/pulumi/pulumi/\\1/v3 v$PULUMI_VERSION#" go.mod
# The public checksum database has no record of some pulumi releases; their
# hashes are pinned in the committed go.sum instead.
export GONOSUMDB="github.com/pulumi/*"
export GOFLAGS="-mod=mod -buildvcs=false"
go mod download github.com/pulumi/pulumi/pkg/v3 >&2 \
  || fail "could not fetch github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION from the Go module proxy."
go build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
  -o "$bin_dir/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2 \
  || fail "go build of the pulumi CLI failed (see above)."
mv "$bin_dir/pulumi.tmp" "$bin_dir/pulumi"
link_launchers
say "built $("$bin_dir/pulumi" version)"
echo "$checkout_bin"
