# Sourced by scripts/test.sh and scripts/local.sh: the suite and the local platform need root (network
# namespaces, a bridge, nftables, processes in them). A non-root user with passwordless sudo (GitHub's
# `runner`, a developer's laptop) is re-run through sudo with the environment kept (PATH, HOME and the
# caches under it, COREOS_* settings); anyone else gets one clear line instead of failures later.
# usage: as_root "$0" "$@"
as_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "$(basename "$1"): not root; running it again through sudo (network namespaces and nftables need root)" >&2
    # PATH again through env: sudoers' secure_path (Ubuntu's default) would replace it even under --preserve-env.
    exec sudo --preserve-env env "PATH=$PATH" bash "$@"
  fi
  echo "$(basename "$1"): needs root for network namespaces and nftables: run it as root, or as a user with passwordless sudo" >&2
  exit 1
}
