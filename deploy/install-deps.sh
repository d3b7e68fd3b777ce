#!/usr/bin/env bash
# Installs the Debian packages the build, the daemons and the tests need,
# if they are missing.  Idempotent; uses sudo when not root.
#   deploy/install-deps.sh [--fuzz]
set -euo pipefail
packages=(build-essential cmake pkg-config libzmq3-dev libsqlite3-dev libmsgpack-dev libsodium-dev
          libmicrohttpd-dev libcriterion-dev sqlite3 procps curl
          python3-zmq python3-msgpack # these two: a client from docs/protocol.md in Python
          libdqlite-dev # the store-node daemon and its wire-protocol client (issue 26)
          iproute2 iptables iputils-ping libnetfilter-queue-dev) # tests/netns: hosts as namespaces, netdelay
# --fuzz: also clang and its runtimes (libFuzzer, the sanitizers), for tests/fuzz/run
[ "${1:-}" = "--fuzz" ] && packages+=(clang libclang-rt-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Another apt (unattended upgrades, a second install) may hold the locks:
# install waits for dpkg's (DPkg::Lock::Timeout); update does not honour
# that, so it is retried while the lists lock is taken, for up to 10 minutes.
apt_update() {
  local out
  for _ in $(seq 1 120); do
    if out=$($SUDO apt-get update -qq 2>&1); then return 0; fi
    case "$out" in
      *"Could not get lock"*|*"Unable to lock"*) sleep 5 ;;
      *) echo "$out" >&2; return 1 ;;
    esac
  done
  echo "$out" >&2
  return 1
}
apt_update
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
