#!/usr/bin/env bash
# Every daemon and invctl say their version with --version (exit 0, one
# line "<program> <version>"), the version of project() in CMakeLists.txt.
#   tests/deploy/test_version.sh BUILD_DIR
set -uo pipefail
B="$(cd "${1:?usage: test_version.sh BUILD_DIR}" && pwd)"
want="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$B/CMakeCache.txt")"
passed=0 failed=0
check() { # binary program-name args...
  local bin=$1 name=$2 out; shift 2
  out="$("$B/$bin" "$@" 2>&1)"; local rc=$?
  if [ $rc -eq 0 ] && [ "$out" = "$name $want" ]; then passed=$((passed + 1)); echo "ok   $bin $*"
  else failed=$((failed + 1)); echo "FAIL $bin $*: exit $rc, '$out' (want '$name $want')"; fi
}
[ -n "$want" ] || { echo "FAIL no project version in $B/CMakeCache.txt"; echo "0 passed, 1 failed"; exit 1; }
check command-service/command-service command-service --version
check outbox-relay/outbox-relay outbox-relay --version
check projector-service/projector-service projector-service --version
check query-service/query-service query-service --version
check audit-service/audit-service audit-service --version
check alert-service/alert-service alert-service --version
check tools/invctl invctl --version
check tools/invctl invctl version
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
