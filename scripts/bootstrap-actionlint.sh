#!/usr/bin/env bash
# Provides `actionlint` (the GitHub Actions workflow linter the test suite runs
# on .github/workflows). Prints progress on stderr and, on success, the
# directory to put first on PATH as the last line of stdout.
#
# Order of preference:
#   1. an `actionlint` already on PATH (brew, a release binary, a CI image);
#   2. a binary cached by an earlier run of this script;
#   3. a build from its Go module through the Go module proxy (no other
#      network is needed; actionlint's go.mod has no `replace` directives, so
#      a plain `go install module@version` works).
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.7.12}"
cache_root="${COREOS_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coreos-cluster}"
bin_dir="$cache_root/actionlint/v$ACTIONLINT_VERSION/bin"
module="github.com/rhysd/actionlint/cmd/actionlint"

say() { echo "bootstrap-actionlint: $*" >&2; }
fail() {
  say "ERROR: $*"
  say "Install actionlint yourself and run this again, e.g.:"
  say "  go install $module@v$ACTIONLINT_VERSION   (Go >= 1.25; an older go fetches a newer toolchain itself)"
  say "  brew install actionlint"
  say "  or a release binary from https://github.com/rhysd/actionlint/releases"
  exit 1
}

if [ "${COREOS_CLUSTER_FORCE_BUILD:-}" != "1" ] && existing="$(command -v actionlint 2>/dev/null)" \
   && [ "$existing" != "$bin_dir/actionlint" ]; then
  say "using installed actionlint at $existing ($("$existing" -version 2>/dev/null | head -n 1 || echo unknown version))"
  dirname "$existing"
  exit 0
fi

if [ -x "$bin_dir/actionlint" ] && "$bin_dir/actionlint" -version >/dev/null 2>&1; then
  say "using cached actionlint v$ACTIONLINT_VERSION from $bin_dir"
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null 2>&1 || fail "no actionlint on PATH, none cached in $bin_dir, and no Go toolchain to build one."

say "building actionlint v$ACTIONLINT_VERSION from the Go module proxy into $bin_dir"
mkdir -p "$bin_dir"
# Build into a scratch GOBIN and move the binary in only once it works, so an
# interrupted build never leaves a broken cached binary behind.
scratch="$(mktemp -d "$bin_dir/.build.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
GOBIN="$scratch" GOFLAGS="-buildvcs=false" \
  go install -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=v$ACTIONLINT_VERSION" \
  "$module@v$ACTIONLINT_VERSION" >&2 \
  || fail "go install $module@v$ACTIONLINT_VERSION failed (see above)."
"$scratch/actionlint" -version >/dev/null 2>&1 || fail "the built actionlint does not run."
mv "$scratch/actionlint" "$bin_dir/actionlint"
say "built $("$bin_dir/actionlint" -version | head -n 1)"
echo "$bin_dir"
