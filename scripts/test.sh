#!/usr/bin/env bash
# npm test: provision what is missing (scripts/provision.sh), type-check, then the whole suite.
# Extra arguments go to mocha (e.g. `npm test -- --grep etcd`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=provision.sh
source scripts/provision.sh
npm run --silent build
exec node_modules/.bin/mocha "test/**/*.test.ts" "$@"
