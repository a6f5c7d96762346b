#!/usr/bin/env bash
# Sourced by scripts/test.sh (and usable by hand): provides everything `npm test` runs for real,
# installing only what is missing, so a fresh clone on a bare machine needs nothing else.
#   Debian's etcd-server, etcd-client, openssh-server   scripts/install-system-deps.sh
#   npm packages (npm ci when node_modules is missing or older than package-lock.json)
#   the Pulumi engine                                    scripts/bootstrap-engine.sh
#   actionlint                                           scripts/bootstrap-actionlint.sh
# Idempotent; when all is present it only checks (well under 2 s). Puts the engine and
# actionlint first on PATH. A prerequisite that cannot be provided stops with its name.
coreos_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
provision_fail() { echo "provision: ERROR: could not provide $1 (see the messages above)" >&2; return 1; }

bash "$coreos_root/scripts/install-system-deps.sh" >&2 \
  || { provision_fail "the Debian packages of scripts/install-system-deps.sh (etcd-server, etcd-client, openssh-server, haproxy, dnsmasq-base, nftables, iproute2, curl, prometheus)"; return 1; }

command -v node >/dev/null 2>&1 || { provision_fail "Node.js >= 20 (not on PATH)"; return 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { provision_fail "Node.js >= 20 (found $(node --version))"; return 1; }
# package-lock.json's hash is stamped after a successful npm ci: a changed lock file reinstalls.
lock_hash="$(sha256sum "$coreos_root/package-lock.json" | cut -c1-64)"
stamp="$coreos_root/node_modules/.coreos-cluster-lock-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "provision: npm ci (node_modules missing or older than package-lock.json)" >&2
  (cd "$coreos_root" && npm ci --no-audit --no-fund >&2) || { provision_fail "the npm packages (npm ci)"; return 1; }
  echo "$lock_hash" > "$stamp"
fi

coreos_engine_bin="$(bash "$coreos_root/scripts/bootstrap-engine.sh" 2>/tmp/coreos-provision-engine.$$ | tail -n 1)" \
  || { cat /tmp/coreos-provision-engine.$$ >&2; rm -f /tmp/coreos-provision-engine.$$; provision_fail "the Pulumi engine"; return 1; }
rm -f /tmp/coreos-provision-engine.$$
coreos_actionlint_bin="$(bash "$coreos_root/scripts/bootstrap-actionlint.sh" 2>/tmp/coreos-provision-al.$$ | tail -n 1)" \
  || { cat /tmp/coreos-provision-al.$$ >&2; rm -f /tmp/coreos-provision-al.$$; provision_fail "actionlint"; return 1; }
rm -f /tmp/coreos-provision-al.$$
export PATH="$coreos_engine_bin:$coreos_actionlint_bin:$PATH"
