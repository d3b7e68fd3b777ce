#!/usr/bin/env bash
# invctl store against three real store-node processes (dqlite) on
# 127.0.0.1: node 1 bootstraps, nodes 2 and 3 (started without --join) are
# added with `store join`; status lists three voters and the leader;
# `store transfer` moves the leadership; kill -9 of the leader and status
# shows the new one (the dead node: answers no, exit 1); `store remove`
# takes the dead node out (two left), and a fresh node 4 joins in its
# place; an unknown id exits 2 (not_found), a cluster that is not there
# exits 1 (unreachable) within --timeout-ms.
#   tests/deploy/test_store_cluster.sh BUILD_DIR
set -uo pipefail
B="$(cd "${1:?usage: test_store_cluster.sh BUILD_DIR}" && pwd)"
I="$B/tools/invctl"
NODE="$B/store-node/store-node"
TMP="$(mktemp -d /tmp/invstore-XXXXXX)"
declare -A PID ADDR
cleanup() {
  [ "$failed" -eq 0 ] || tail -n 5 "$TMP"/node*.log
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

# FREE: a port nothing listens on, from a base of this shell's pid, below
# the ephemeral ports (32768 and up) that outgoing connections take.
port=$(( 12000 + ($$ * 7) % 8000 ))
free_port() {
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  FREE=$port; port=$((port + 1))
}
start() { # id
  free_port
  ADDR[$1]="127.0.0.1:$FREE"
  # secure (the default): dqlite's traffic through the CURVE tunnel, invctl
  # with the operator's key; --id last (another session on a shared host
  # may run pkill -f "store-node --id")
  "$NODE" --address "${ADDR[$1]}" --dir "$TMP/node$1" --keys "$TMP/keys" --log-level warn \
    --id "$1" 2>>"$TMP/node$1.log" &
  PID[$1]=$!
}
st() { "$I" --timeout-ms 3000 store "$@"; }
# Retries `invctl store ARGS` (output in $TMP/out) until it exits 0, for 20 s.
until_ok() {
  local until=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$until" ]; do
    st "$@" >"$TMP/out" 2>"$TMP/err" && return 0
    sleep 0.2
  done
  cat "$TMP/out" "$TMP/err"; return 1
}
has() { grep -q -- "$1" "$TMP/out"; }
count() { grep -o -- "$1" "$TMP/out" | wc -l; }

"$I" keygen --init "$TMP/keys" >/dev/null
export INV_KEYS_DIR="$TMP/keys"
start 1; start 2; start 3
export INV_STORE="dqlite:${ADDR[1]},${ADDR[2]},${ADDR[3]}"
SEEDS="${ADDR[1]},,${ADDR[3]}"  # an empty member: rejected as usage
check "node 1 bootstraps a cluster of itself" until_ok status --store "${ADDR[1]}"
check "status names node 1 the leader" has "^leader: node 1 at ${ADDR[1]}"

# 1. Nodes 2 and 3, started without --join, are added as voters.
check "store join 2" until_ok join 2 "${ADDR[2]}"
check "store join 3 (--json)" until_ok --json join 3 "${ADDR[3]}"
check "join --json says ok" has '"ok":true,"action":"join","id":3'
check "status --json (INV_STORE) exits 0" until_ok --json status
check "three voters" test "$(count '"role":"voter"')" -eq 3
check "all answer" test "$(count '"answers":true')" -eq 3
check "the leader is node 1" has "\"leader\":{\"id\":1,\"address\":\"${ADDR[1]}\"}"

# 2. Errors: an unknown id, a member again, a bad role, usage.
st --json assign 9 voter >"$TMP/out" 2>/dev/null
check "assign of an unknown id exits 2, not_found" bash -c "test $? -eq 2 && grep -q '\"error\":\"not_found\"' '$TMP/out'"
st --json transfer 9 >"$TMP/out" 2>/dev/null
check "transfer to an unknown id exits 2" test $? -eq 2
st join 2 "${ADDR[2]}" >"$TMP/out" 2>&1
check "join of a voter again exits 0 (already)" bash -c "test $? -eq 0 && grep -q 'is already a voter' '$TMP/out'"
st join 2 "${ADDR[1]}" >/dev/null 2>"$TMP/err"
check "join of a member at another address exits 2" bash -c "test $? -eq 2 && grep -q 'already a member' '$TMP/err'"
st remove 1 >/dev/null 2>"$TMP/err"
check "remove of the leader exits 2 (transfer first)" bash -c "test $? -eq 2 && grep -q 'transfer' '$TMP/err'"
st assign 2 boss >/dev/null 2>&1
check "assign of an unknown role exits 1" test $? -eq 1
st --json status --store "$SEEDS" >"$TMP/out" 2>/dev/null
check "a bad --store exits 1, usage" bash -c "test $? -eq 1 && grep -q '\"error\":\"usage\"' '$TMP/out'"

# 3. transfer: the leadership moves to node 2.
check "store transfer 2" until_ok transfer 2
check "status shows node 2 leading" bash -c "for i in \$(seq 25); do
  '$I' store status >'$TMP/out' 2>&1 && grep -q '^leader: node 2' '$TMP/out' && exit 0; sleep 0.2; done; exit 1"

# 4. kill -9 of the leader: another takes over; status says node 2 does not answer.
kill -9 "${PID[2]}"; wait "${PID[2]}" 2>/dev/null; unset 'PID[2]'
found=1 until=$((SECONDS + 30))
while [ "$SECONDS" -lt "$until" ]; do
  "$I" --timeout-ms 1000 --json store status >"$TMP/out" 2>/dev/null
  if grep -Eq '"leader":\{"id":(1|3),' "$TMP/out"; then found=0; break; fi
  sleep 0.2
done
check "after kill -9, status shows a new leader (1 or 3)" test $found -eq 0
check "node 2 does not answer" has '"id":2,"address":"[^"]*","role":"voter","leader":false,"answers":false'
st status >/dev/null 2>&1
check "status exits 1 while a node does not answer" test $? -eq 1

# 5. Replace the dead node: remove it, add a fresh node 4.
check "store remove 2" until_ok remove 2
st --json status >"$TMP/out" 2>/dev/null
check "status lists two voters, exit 0" bash -c "test $? -eq 0 && test \$(grep -o '\"role\":\"voter\"' '$TMP/out' | wc -l) -eq 2"
start 4
check "store join 4 (a fresh node)" until_ok join 4 "${ADDR[4]}" --store "${ADDR[1]},${ADDR[3]}"
check "status lists three voters again" bash -c "'$I' store status --store '${ADDR[4]}' >'$TMP/out' 2>&1 &&
  test \$(grep -c ' voter ' '$TMP/out') -eq 3 && grep -q '^4 ' '$TMP/out'"

# 6. No cluster there: exit 1, unreachable, within the deadline.
free_port
dead="127.0.0.1:$FREE"
t0=$(date +%s%N)
"$I" --json --timeout-ms 1000 store status --store "$dead" >"$TMP/out" 2>/dev/null
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "an unreachable cluster exits 1, unreachable" bash -c "test $rc -eq 1 && grep -q '\"error\":\"unreachable\"' '$TMP/out'"
check "...within the deadline (${ms} ms)" test "$ms" -lt 3000
finish
