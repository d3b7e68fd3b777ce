#!/usr/bin/env bash
# The local launcher as an operator uses it (deploy/inventory-local), on the
# real daemons: the data folder is the repository's data/ wherever the
# command runs from; a start never calls a daemon that is still exec'ing
# "exited"; `logs DAEMON` follows that daemon's log; `rotate` rotates.
#   tests/deploy/test_launcher.sh BUILD_DIR
# Runs in a copy of the launcher inside a temporary "repository", on Unix
# sockets of its own, and stops what it started whatever happens.
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_launcher.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/invlauncher-XXXXXX)"
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + $$ % 20000 ))
unset DATA_DIR
mkdir -p "$TMP/repo/deploy"
cp "$SRC/deploy/inventory-local" "$TMP/repo/deploy/"
L="$TMP/repo/deploy/inventory-local"
cleanup() { "$L" stop >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

# 1. Started from the fake repository's root, seen and stopped from elsewhere.
(cd "$TMP/repo" && "$L" start >"$TMP/start.out" 2>&1)
check "start from the repository root" grep -q "all daemons up; data in $TMP/repo/data" "$TMP/start.out"
check "status from / finds them running" bash -c "cd / && '$L' status >'$TMP/status.out' 2>&1; ! grep -q STOPPED '$TMP/status.out'"

# 2. logs DAEMON follows that daemon's log, not a data folder named so.
check "logs projector tails the projector's log" bash -c \
  "cd / && timeout 2 '$L' logs projector >'$TMP/logs.out' 2>&1; grep -q 'starting projector' '$TMP/logs.out'"

# 3. rotate: a log past LOG_MAX_MB is kept as .1 and emptied in place.
head -c 2200000 /dev/zero | tr '\0' 'x' >>"$TMP/repo/data/query.log"
LOG_MAX_MB=1 "$L" rotate >/dev/null
check "rotate keeps the old log as .1" test -s "$TMP/repo/data/query.log.1"
check "rotate empties the log in place" test "$(stat -c %s "$TMP/repo/data/query.log")" -lt 1000000

check "stop from / stops them" bash -c "cd / && '$L' stop >'$TMP/stop.out' 2>&1; grep -q 'command: stopped' '$TMP/stop.out'"

# 4. Starts in a row never call a daemon that is still exec'ing "exited"
# (it read /proc/PID/cmdline before the exec: 37 of 200 starts).
for i in 1 2 3 4 5 6; do
  "$L" start >"$TMP/loop.out" 2>&1
  check "start $i: no false 'exited during start-up'" bash -c "! grep -q 'exited during start-up' '$TMP/loop.out'"
  "$L" stop >/dev/null 2>&1
done

finish
