#!/usr/bin/env bash
# A second configure of a build tree changes no compile flag, so nothing is
# rebuilt (the quickstart configures and builds the daemons, tests/run then
# configures the same tree again: every object used to be rebuilt, and the
# binaries replaced under the running daemons).
#   tests/deploy/test_reconfigure.sh
set -uo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/invreconf-XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
cmake -S "$SRC" -B "$TMP" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$TMP" --target inv_wire -j2 >/dev/null || exit 1
flags() { cat "$TMP"/common/wire/CMakeFiles/inv_wire.dir/flags.make; }
before="$(flags)"
cmake -S "$SRC" -B "$TMP" >/dev/null || exit 1
passed=0 failed=0
if [ "$(flags)" = "$before" ]; then passed=1; echo "ok   the flags are the same after a second configure"
else failed=1; echo "FAIL the flags moved:"; diff <(echo "$before") <(flags); fi
if make -C "$TMP" -q inv_wire >/dev/null 2>&1 || [ -z "$(cmake --build "$TMP" --target inv_wire 2>&1 | grep 'Building C')" ]; then
  passed=$((passed + 1)); echo "ok   nothing is rebuilt"
else failed=$((failed + 1)); echo "FAIL objects were rebuilt"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
