#!/usr/bin/env bash
# Installs the Debian packages the tests and the local stack run for real:
# etcd (server + etcdctl), OpenSSH's sshd (SSH tunnel tests and the local stack's bastion),
# the router's HAProxy and dnsmasq (dnsmasq-base: the binary without a system service), and the
# local VPC's tools: nftables (its firewall), iproute2 (namespaces, bridge), curl (probes run
# inside a machine's namespace), python3-yaml (libyaml, the YAML 1.1 reader the user-data tests compare with),
# Prometheus (the local stack's monitoring, run in a namespace of the local VPC; docs/metrics.md),
# and sudo (the test that runs the suite's root-needing parts as a non-root user, as GitHub's runner does).
# Idempotent: does nothing when they are already there.
set -euo pipefail
say() { echo "install-system-deps: $*" >&2; }

missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
[ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
command -v sudo >/dev/null 2>&1 || missing+=(sudo)
# libyaml (through Debian's PyYAML) reads the rendered user-data as go-yaml would (test/cloud-config/yaml-agreement.test.ts).
/usr/bin/python3 -c 'import yaml; assert yaml.__with_libyaml__' >/dev/null 2>&1 || missing+=(python3-yaml)

if [ ${#missing[@]} -eq 0 ]; then
  say "etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), etcdctl, sshd, haproxy, dnsmasq, nft, ip, curl, python3-yaml, prometheus and sudo present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
say "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian's package may try to start a system etcd; tests start their own.
# Likewise a system haproxy (the router starts its own) and a system prometheus (the local stack
# runs its own inside the local VPC, scraping only the cluster's machines).
for svc in etcd haproxy prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
# Without systemd (a container) the prometheus package's postinst starts it through its init script:
# stopped the same way, by that script's own pid file, only when this run installed it.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ ! -d /run/systemd/system ] && [ -x /etc/init.d/prometheus ]; then
  $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
fi
$SUDO mkdir -p /run/sshd
say "installed: ${missing[*]}"
