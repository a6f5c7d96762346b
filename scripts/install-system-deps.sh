#!/usr/bin/env bash
# Installs the Debian packages the tests and the local stack run for real:
# etcd (server + etcdctl), OpenSSH's sshd (SSH tunnel tests and the local stack's bastion),
# the router's HAProxy and dnsmasq (dnsmasq-base: the binary without a system service), and the
# local VPC's tools: nftables (its firewall), iproute2 (namespaces, bridge), curl (probes run
# inside a machine's namespace), python3-yaml (libyaml, the YAML 1.1 reader the user-data tests compare with).
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
# libyaml (through Debian's PyYAML) reads the rendered user-data as go-yaml would (test/cloud-config/yaml-agreement.test.ts).
/usr/bin/python3 -c 'import yaml; assert yaml.__with_libyaml__' >/dev/null 2>&1 || missing+=(python3-yaml)

if [ ${#missing[@]} -eq 0 ]; then
  say "etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), etcdctl, sshd, haproxy, dnsmasq, nft, ip, curl and python3-yaml present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
say "installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian's package may try to start a system etcd; tests start their own.
# Likewise a system haproxy: the router starts its own.
for svc in etcd haproxy; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
$SUDO mkdir -p /run/sshd
say "installed: ${missing[*]}"
