#!/usr/bin/env bash
# npm test: provision what is missing (scripts/provision.sh), type-check, then the whole suite.
# Extra arguments go to mocha (e.g. `npm test -- --grep etcd`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=as-root.sh
source scripts/as-root.sh
as_root scripts/test.sh "$@"
# shellcheck source=provision.sh
source scripts/provision.sh
npm run --silent build
# A killed earlier run leaves its local VPCs (namespaces, bridge, nftables, the processes in them):
# remove those whose stack data is gone or that a test made in a scratch folder, nothing else.
node -r ts-node/register/transpile-only components/local/cleanup.ts --vpcs >&2
# The VPCs this run's tests make carry its pid (mocha keeps it: exec), so a sweep by another run
# running at the same time leaves them alone while this run lives.
export COREOS_CLUSTER_TEST_RUN_PID=$$
exec node_modules/.bin/mocha "test/**/*.test.ts" "$@"
