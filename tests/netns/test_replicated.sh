#!/usr/bin/env bash
# shellcheck disable=SC2317 # (the functions are called through check)
# The replicated store (issue 26) on five hosts (tests/netns/hosts.sh) with
# 0.5 ms round trips, CURVE on every ZeroMQ socket: hosts 1-3 each run a
# store node (dqlite), a command-service and an outbox-relay
# (tests/netns/cluster.sh); host 4 the projector, query, audit and alert
# daemons subscribed to every relay; host 5 invbench, an open loop at
# LOAD_RATE commands/s through the list of command endpoints (it follows
# `not_leader`, resends what went unanswered with the same ids).
# Under that load, in turn: kill -9 of the active host's node,
# command-service and relay (then it restarts and rejoins); kill -9 of a
# follower's (then it restarts); a partition that isolates the active host
# (then it heals).  After each, another host must be active.  At the end:
#   - every acknowledged command is in the log exactly once, at the
#     position its reply named, and no command id is there twice;
#   - no stream forked (each stream's versions are 1..n);
#   - the three hosts' events.db hold the same log (count, head, head hash);
#   - every read model equals a fresh build from the log;
#   - writes resumed after each failure: the longest time without an
#     acknowledgement around it is printed (the distribution of the three),
#     and checked against FAILOVER_MAX_MS (the target is 1 s).
# Skips (77) unless root.  Bounded: HOSTS_MAX_SECONDS for every process.
#   tests/netns/test_replicated.sh BUILD_DIR
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_replicated.sh BUILD_DIR}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
export HOSTS_MAX_SECONDS=280
LOAD_RATE=${LOAD_RATE:-500}
# A guard, not the target (1 s, docs/performance.md S8c): the distribution
# is printed; on a 2-core machine running the whole suite a failover has
# taken up to 6 s (a restarted node still catching up holds back the
# quorum).
FAILOVER_MAX_MS=${FAILOVER_MAX_MS:-15000}
# shellcheck source=hosts.sh
. "$HERE/hosts.sh"
# shellcheck source=cluster.sh
. "$HERE/cluster.sh"
# shellcheck source=../deploy/check.sh
. "$HERE/../deploy/check.sh"
hosts_require
hosts_up 5 || { echo "FAIL hosts_up 5"; exit 1; }
CLUSTER_BUILD="$BUILD_DIR"
CLUSTER_DIR="$(mktemp -d /tmp/invrepl-test-XXXXXX)"
cleanup() {
  hosts_down
  [ "${INV_TEST_KEEP:-0}" = 1 ] && echo "kept $CLUSTER_DIR" || rm -rf "$CLUSTER_DIR"
}
trap cleanup EXIT
for i in 1 2 3 4 5; do host_delay "$i" 250 || echo "FAIL host_delay $i 250"; done

cluster_start || { echo "FAIL cluster_start"; exit 1; }
first="$(cluster_wait_active 30)"
check "a store host is active" test "$first" != 0
cluster_subscribers_up
INVCTL="$BUILD_DIR/tools/invctl"
inv() { host_exec 5 "$INVCTL" --timeout-ms 5000 "$@"; }
check "a command through the list is accepted" inv --command-id repl-first register-supplier \
  --id repl-s1 --name "Supplier one"

# ---- the load and the failures --------------------------------------------
ACKS="$CLUSTER_DIR/acks.log"
host_run 5 "$BUILD_DIR/bench/invbench" --format json --rate "$LOAD_RATE" --duration-ms 60000 \
  --products 200 --connections 4 --window 64 --prefix repl --setup 1 --initial-stock 1000000000 \
  --retry-ms 1500 --failover-ms "${CLIENT_FAILOVER_MS:-500}" --stall-ms 30000 --projector-ep '' --ack-log "$ACKS" \
  >"$CLUSTER_DIR/invbench.json" 2>"$CLUSTER_DIR/invbench.err"
BENCH=$HOST_PID
LOAD_T0=$(date +%s%N)
since_ms() { echo $((($(date +%s%N) - LOAD_T0) / 1000000)); }
declare -a FAILED_AT # load-relative ms of each failure

other_than() { # hosts...: a store host not among them
  local i h skip
  for ((i = 1; i <= 3; i++)); do
    skip=0
    for h in "$@"; do [ "$i" = "$h" ] && skip=1; done
    [ $skip = 0 ] && { echo "$i"; return; }
  done
}

sleep 8
a="$(cluster_active)"
check "host $a is active under load" test "$a" != 0
FAILED_AT+=("$(since_ms)")
t=$(date +%s%N)
cluster_kill "$a"
echo "kill -9 of host $a's store node, command-service and relay at $(since_ms) ms"
b="$(cluster_wait_active 20)"
echo "host $b active $(cluster_active_ms "$b" "$t") ms after the kill (its log; $((($(date +%s%N) - t) / 1000000)) ms polled)"
check "after the active host's death another is active" bash -c "[ $b != 0 ] && [ $b != $a ]"
sleep 3
cluster_store_up "$a"
echo "host $a restarted"
sleep 8

f="$(other_than "$b" "$a")"
FAILED_AT+=("$(since_ms)")
cluster_kill "$f"
echo "kill -9 of follower host $f at $(since_ms) ms"
sleep 4
some_active() { [ "$(cluster_wait_active 20)" != 0 ]; }
check "a host is active after a follower's death" some_active
cluster_store_up "$f"
echo "host $f restarted"
sleep 8

p="$(cluster_active)"
FAILED_AT+=("$(since_ms)")
t=$(date +%s%N)
host_partition "$p"
echo "host $p (active) partitioned at $(since_ms) ms"
n=0
for ((k = 0; k < 100; k++)); do
  n="$(cluster_active)"
  [ "$n" != 0 ] && [ "$n" != "$p" ] && break
  sleep 0.1
done
echo "host $n active $(cluster_active_ms "$n" "$t") ms after the partition (its log; $((($(date +%s%N) - t) / 1000000)) ms polled)"
sleep 4
check "behind a partition of the active host, another is active" bash -c "[ $n != 0 ] && [ $n != $p ]"
host_heal "$p"
echo "host $p healed at $(since_ms) ms"

host_stop "$BENCH" 120 >/dev/null
echo "invbench: $(cat "$CLUSTER_DIR/invbench.json")"
tail -3 "$CLUSTER_DIR/invbench.err"
acked=$(awk '$2 == "accepted" || $2 == "duplicate"' "$ACKS" | wc -l)
check "commands were acknowledged throughout ($acked)" test "$acked" -ge $((LOAD_RATE * 20))

# ---- writes resumed -------------------------------------------------------
# At 500 commands/s an acknowledgement comes every 2 ms; the three longest
# stretches without one are the three failures' (ack time = intended send
# time + latency, from invbench's load start, which the failure times
# above are not aligned with: they are printed for reading).
awk '$2 == "accepted" {print int(($4 + $5) / 1000)}' "$ACKS" | sort -n |
  awk 'NR > 1 {print $1 - p, p} {p = $1}' | sort -rn | head -3 >"$CLUSTER_DIR/gaps"
echo "failures at ${FAILED_AT[*]} ms of the run; the three longest gaps (ms, from ms of the load):"
sed 's/^/  /' "$CLUSTER_DIR/gaps"
while read -r g _; do
  check "writes resumed within ${FAILOVER_MAX_MS} ms (a gap of $g ms)" test "$g" -le "$FAILOVER_MAX_MS"
done <"$CLUSTER_DIR/gaps"

# ---- convergence and the log ----------------------------------------------
converged() {
  local k h1 h2 h3
  for ((k = 0; k < 150; k++)); do
    h1="$(sqlite3 "$CLUSTER_DIR/h1/events.db" "SELECT max(position) FROM events")"
    h2="$(sqlite3 "$CLUSTER_DIR/h2/events.db" "SELECT max(position) FROM events")"
    h3="$(sqlite3 "$CLUSTER_DIR/h3/events.db" "SELECT max(position) FROM events")"
    [ -n "$h1" ] && [ "$h1" = "$h2" ] && [ "$h2" = "$h3" ] && return 0
    sleep 0.2
  done
  echo "heads: $h1 $h2 $h3"
  return 1
}
check "the three hosts' events.db reach the same head" converged
sig() { sqlite3 "$CLUSTER_DIR/h$1/events.db" "SELECT count(*) || ' ' || max(position) || ' ' || (SELECT hex(hash) FROM events ORDER BY position DESC LIMIT 1) FROM events"; }
check "the three hosts hold the same log" bash -c "[ '$(sig 1)' = '$(sig 2)' ] && [ '$(sig 2)' = '$(sig 3)' ]"
echo "the log: $(sig 1)"
DB="$CLUSTER_DIR/h1/events.db"
awk '$2 == "accepted" {print $1 "|" $3}' "$ACKS" | sort -u >"$CLUSTER_DIR/acked"
sqlite3 "$DB" "SELECT command_id || '|' || position FROM events" | sort >"$CLUSTER_DIR/logged"
missing=$(comm -23 "$CLUSTER_DIR/acked" "$CLUSTER_DIR/logged" | wc -l)
check "every acknowledged command is in the log at the position its reply named (missing: $missing)" \
  test "$missing" = 0
twice=$(sqlite3 "$DB" "SELECT count(*) FROM (SELECT command_id FROM events GROUP BY command_id HAVING count(*) > 1)")
check "no command id is in the log twice ($twice)" test "$twice" = 0
forked=$(sqlite3 "$DB" "SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id HAVING count(*) != max(version) OR min(version) != 1)")
check "no stream forked: each stream's versions are 1..n ($forked)" test "$forked" = 0

caught() { # the list of relays: invbench takes the head from the one not standby
  local out
  out="$(host_exec 5 "$BUILD_DIR/bench/invbench" --format json --mode wait --duration-ms 60000 \
    --relay-ep "$INV_CATCHUP_EP")"
  echo "$out" | grep -q '"caught_up_ms":[0-9]' &&
    [ "$(echo "$out" | grep -o '"head":[0-9]*' | cut -d: -f2)" = "$(sig 1 | cut -d' ' -f2)" ]
}
check "every subscriber reached the head" caught
S=$CLUSTER_SUB_HOST
ep() { echo "tcp://$(host_ip "$S"):$1"; }
fresh() { host_equals_fresh "$S" "$CLUSTER_DIR" "$@"; }
check "the projector's read model equals a fresh build" fresh projector \
  projector-service/projector-service "$CLUSTER_DIR/h$S/read.db" --bind "$(ep 6556)"
check "the audit model equals a fresh build" fresh audit audit-service/audit-service \
  "$CLUSTER_DIR/h$S/audit.db" --bind "$(ep 6554)"
check "the alert model equals a fresh build" fresh alert alert-service/alert-service \
  "$CLUSTER_DIR/h$S/alerts.db" --bind "$(ep 6557)" --pub "$(ep 6555)"
check "every daemon exits 0 on SIGTERM" cluster_stop
finish
