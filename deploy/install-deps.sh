#!/usr/bin/env bash
# Installs the Debian packages the build, the daemons and the tests need,
# if they are missing.  Idempotent; uses sudo when not root.
set -euo pipefail
packages=(build-essential cmake pkg-config libzmq3-dev libsqlite3-dev libmsgpack-dev
          libcriterion-dev sqlite3 procps)
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
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
