#!/usr/bin/env bash
# The local launcher's replicated mode (deploy/inventory-local start
# --replicated) on the real daemons: three store nodes, three relays and
# three command-services, the subscribers on the lists.  Through the lists
# that `env` prints: commands are accepted, `invctl status` shows one active
# and two standby command services and relays, `invctl store status` three
# voters.  Then kill -9 of the active host's store node, command-service
# and relay (pids from the launcher's files): commands are accepted again
# through the list (the time it took is printed), the subscribers reach the
# head (invbench --mode wait against the active relay), and stop is clean.
# Then the restore of operations.md: a backup of a host's events.db seeds
# an empty cluster (nodes' data and every events.db deleted) from host 1;
# and a restart of that cluster.
#   tests/deploy/test_launcher_replicated.sh BUILD_DIR
# Runs on Unix sockets of its own (the store nodes on TCP ports from
# PORT_BASE) and stops what it started whatever happens.
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_launcher_replicated.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/invlaunchrepl-XXXXXX)"
D="$TMP/data"
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + ($$ * 40) % 20000 ))
unset DATA_DIR REPLICATED
L="$SRC/deploy/inventory-local"
I="$BUILD_DIR/tools/invctl"
cleanup() {
  [ "${failed:-0}" -eq 0 ] || tail -n 5 "$D"/host*/*.log "$D"/*.log 2>/dev/null
  "$L" stop "$D" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

"$L" start --replicated "$D" >"$TMP/start.out" 2>&1
check "start --replicated" grep -q "all daemons up, replicated on 3 store hosts" "$TMP/start.out" ||
  { cat "$TMP/start.out"; finish; }
"$L" env "$D" >"$TMP/env"
# shellcheck disable=SC1091
. "$TMP/env"
check "env prints the list of command endpoints and INV_STORE" \
  bash -c "[ \$(tr ',' '\n' <<<'$INV_COMMAND_EP' | wc -l) = 3 ] && grep -q '^export INV_STORE=dqlite:' '$TMP/env'"
# shellcheck source=replicated.sh
. "$(dirname "$0")/replicated.sh"

check "a command through the list is accepted" \
  "$I" --timeout-ms 5000 --command-id lr-1 register-supplier --id lr-s1 --name "Supplier one"
"$I" status >"$TMP/status" 2>&1
count() { grep -Ec "$1" "$TMP/status"; }
check "status: one active command service" test "$(count '^command .* active$')" -eq 1
check "status: two standby command services" test "$(count '^command .* standby$')" -eq 2
check "status: one active relay" test "$(count '^relay .* active$')" -eq 1
check "status: two standby relays" test "$(count '^relay .* standby$')" -eq 2
"$I" --json store status >"$TMP/store" 2>&1
check "store status: three voters that answer" \
  test "$(grep -o '"role":"voter","leader":[a-z]*,"answers":true' "$TMP/store" | wc -l)" -eq 3

a="$(active_host)"
check "a store host is active ($a)" test "$a" != 0
for k in 1 2 3 4 5; do
  "$I" --timeout-ms 5000 --command-id "lr-p$k" create-product --id "lr-p$k" --sku "K$k" \
    --name "Product $k" --supplier lr-s1 --price 100 --cost 50 --stock 10 --threshold 2 >/dev/null 2>&1
done
check "five products created" bash -c "\"$I\" --timeout-ms 5000 product lr-p5 >/dev/null"

# kill -9 of the active host's store node, command-service and relay.
for n in node command relay; do kill -9 "$(cat "$D/host$a/$n.pid")"; done
t0=$(date +%s%N)
ok=1
while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 30000 ]; do
  if "$I" --timeout-ms 3000 --command-id lr-after update-stock lr-p1 --stock 7 >"$TMP/after" 2>&1; then
    ok=0
    break
  fi
  sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "after kill -9 of host $a: a command through the list accepted in $ms ms ($(cat "$TMP/after"))"
check "a command is accepted through the list after the kill (${ms} ms)" test $ok -eq 0
b="$(active_host)"
check "another host is active ($b)" bash -c "[ $b != 0 ] && [ $b != $a ]"
wait_head() {
  "$BUILD_DIR/bench/invbench" --format json --mode wait --duration-ms 30000 \
    --relay-ep "${RELAY_EPS[$((b - 1))]}" >"$TMP/wait" 2>&1 && grep -q '"caught_up_ms":[0-9]' "$TMP/wait"
}
check "every subscriber reaches the head (active relay of host $b)" wait_head

"$L" stop "$D" >"$TMP/stop.out" 2>&1
check "stop stops the 10 that are left" test "$(grep -c ': stopped$' "$TMP/stop.out")" -eq 10
check "stop needs no SIGKILL" bash -c "! grep -q SIGKILL '$TMP/stop.out'"
none_left() {
  local f
  for f in "$D"/*.pid "$D"/host*/*.pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && return 1; done
  return 0
}
check "no daemon left running" none_left

# Restore (docs/operations.md): a backup of a caught-up host's events.db
# seeds an empty cluster from host 1.
"$I" backup "$D/host$b/events.db" "$TMP/backup.db" >/dev/null
head=$(sqlite3 "$TMP/backup.db" "SELECT max(position) FROM events")
rm -rf "$D"/host*/node "$D"/host*/events.db*
cp "$TMP/backup.db" "$D/host1/events.db"
"$L" start "$D" >"$TMP/start2.out" 2>&1
check "start again after the restore" grep -q "all daemons up, replicated" "$TMP/start2.out"
check "command1 seeded the empty log with the backup's $head events" \
  grep -q "writing events.db's $head events into it" "$D/host1/command.log"
check "a command after the restore lands at position $((head + 1))" bash -c \
  "'$I' --timeout-ms 5000 --command-id lr-restored register-supplier --id lr-s2 --name Two | grep -q 'position $((head + 1))'"
# restart: the cluster starts again from its nodes' data (no node leads
# alone: the launcher waits for the three).
"$L" restart "$D" >"$TMP/restart.out" 2>&1
check "restart of the existing cluster" grep -q "all daemons up, replicated" "$TMP/restart.out" ||
  cat "$TMP/restart.out"
check "the restored command is there after the restart" bash -c \
  "'$I' --timeout-ms 5000 --command-id lr-restored register-supplier --id lr-s2 --name Two | grep -q 'position $((head + 1))'"
"$L" stop "$D" >"$TMP/stop2.out" 2>&1
check "stop after the restore stops all 13 without SIGKILL" bash -c \
  "[ \$(grep -c ': stopped\$' '$TMP/stop2.out') = 13 ] && ! grep -q SIGKILL '$TMP/stop2.out'"
check "no daemon left running" none_left
finish
