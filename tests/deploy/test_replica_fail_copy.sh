#!/usr/bin/env bash
# A batch the replicated log took but the active host's events.db could not
# commit (svc_fail_copy in command-service/commandsvc.c), on the real
# daemons of the launcher's replicated mode (three store nodes, relays and
# command-services on this machine) with a real full disk: host 1's
# events.db lives on a small tmpfs mounted here, node 1 leads, the WAL is
# truncated and the tmpfs filled to the last byte, so that the next
# command's commit cannot write one WAL frame (the push into the log is
# done by then).  Checks: a rejected command's batch, which appends
# nothing, is answered "nothing was appended" and the host stays active;
# then a command's reply is `unavailable` saying the log has the batch
# (not "nothing was appended"); the command is in the log once
# (hosts 2 and 3 copy it; host 1 does not have it); host 1's
# command-service is standby and stays so while the disk is full, its
# log saying why once (not at every 100 ms tick); a retry with the same id
# then finds no active service and appends nothing; once the filler is
# removed host 1 copies the log in, is active again, answers the retry as
# a duplicate at the first position, takes a new command, its events.db
# equals the other two's, and the subscribers reach the head (the copied
# event has no outbox row: they repair from the heartbeat).  Then again, and the way out while the
# disk stays full: `invctl store transfer 2`, host 2 answers the retry as
# a duplicate and takes new commands, and host 1, standby, copies them all
# once space is freed.
#   tests/deploy/test_replica_fail_copy.sh BUILD_DIR
# Root only (mount): exits 77 (skipped) otherwise.  Stops what it started
# whatever happens, and stops itself after WATCHDOG_S.
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_replica_fail_copy.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "skipped: mounting a tmpfs needs root"; exit 77; }
TMP="$(mktemp -d /tmp/invfailcopy-XXXXXX)"
D="$TMP/data" FS="$TMP/fs1"
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + ($$ * 40) % 20000 ))
unset DATA_DIR REPLICATED
L="$SRC/deploy/inventory-local"
I="$BUILD_DIR/tools/invctl"
WATCHDOG_S=150
mkdir -p "$FS"
if ! mount -t tmpfs -o size=4m tmpfs "$FS" 2>"$TMP/mount.err"; then
  echo "skipped: cannot mount a tmpfs here: $(cat "$TMP/mount.err")"
  rm -rf "$TMP"
  exit 77
fi
# The watchdog: SIGTERM to this shell (its trap stops the daemons) if the
# test runs past WATCHDOG_S; it and its sleep are killed at the end.
{ sleep "$WATCHDOG_S" && kill -TERM $$; } 2>/dev/null &
watchdog=$!
cleanup() {
  [ "${failed:-0}" -eq 0 ] || tail -n 8 "$D"/host*/*.log 2>/dev/null
  "$L" stop "$D" >/dev/null 2>&1
  umount "$FS" 2>/dev/null || umount -l "$FS"
  kill "$watchdog" $(pgrep -P "$watchdog") 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "stopped after ${WATCHDOG_S}s"; exit 1' TERM
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

# Host 1's events.db (and its -wal, -shm: SQLite follows the link) on the tmpfs.
mkdir -p "$D/host1"
ln -s "$FS/events.db" "$D/host1/events.db"
"$L" start --replicated "$D" >"$TMP/start.out" 2>&1
check "start --replicated" grep -q "all daemons up, replicated on 3 store hosts" "$TMP/start.out" ||
  { cat "$TMP/start.out"; finish; }
"$L" env "$D" >"$TMP/env"
# shellcheck disable=SC1091
. "$TMP/env"
# shellcheck source=replicated.sh
. "$(dirname "$0")/replicated.sh"

# Node 1 leads (it bootstrapped the cluster; moved there if not).
[ "$(active_host)" = 1 ] || "$I" --timeout-ms 5000 store transfer 1 >/dev/null
check "host 1 is active" wait_active 1 15 || finish
check "events.db of host 1 is on the tmpfs" test -f "$FS/events.db"

fc() { # ID ARGS...: a command with that id through the list (--json), into $TMP/ID.out; rc in $rc
  local id=$1
  shift
  "$I" --json --timeout-ms "${T:-5000}" --command-id "$id" "$@" >"$TMP/$id.out" 2>&1
  rc=$?
}
fc fc-0 register-supplier --id fc-s0 --name Before
check "a command before the disk is full is accepted" test "$rc" = 0
before=$(sqlite3 "$FS/events.db" "SELECT max(position) FROM events")
sleep 0.5 # the relay deletes the outbox row it published: no write left to come
count_in() { # HOST [ID]: events of the command (fc-1) in host N's events.db
  sqlite3 -cmd ".timeout 2000" "$D/host$1/events.db" "SELECT count(*) FROM events WHERE command_id = '${2:-fc-1}'"
}

# The WAL truncated (its file then holds no room to reuse), then the tmpfs
# filled to the last byte: the next commit cannot write its first frame.
fill() {
  sqlite3 -cmd ".timeout 5000" "$FS/events.db" "PRAGMA wal_checkpoint(TRUNCATE)" >"$TMP/ckpt"
  check "the WAL is truncated (busy 0)" grep -q '^0|' "$TMP/ckpt"
  dd if=/dev/zero of="$FS/filler" bs=64k 2>/dev/null
  check "the tmpfs is full" test "$(df --output=avail "$FS" | tail -n 1 | tr -d ' ')" -eq 0
  check "the WAL is still empty" test "$(stat -c %s "$FS/events.db-wal")" = 0
}
fill

# 0. A batch that appends nothing (its one command rejected) puts nothing
# in the log: when its commit fails (the claim of its id was written and
# released), nothing was appended, and the host stays active.
fc fc-0b register-supplier --id fc-s0 --name "Again"
cat "$TMP/fc-0b.out"
check "a rejected command's batch on the full disk: exit 2, unavailable, nothing was appended" \
  bash -c "[ $rc = 2 ] && grep -q '\"error\":\"unavailable\"' '$TMP/fc-0b.out' &&
    grep -q 'nothing was appended' '$TMP/fc-0b.out'"
check "... and host 1 did not go standby for it" \
  bash -c "! grep -q 'that batch is in the replicated log' '$D/host1/command.log'"
check "host 1 is active" test "$(role_of 1)" = active

# 1. The command whose batch the log takes but events.db cannot commit.
fc fc-1 register-supplier --id fc-s1 --name "Full Disk"
cat "$TMP/fc-1.out"
says_copy() { # ID: the reply svc_fail_copy sets
  check "$1's reply: exit 2, unavailable" bash -c "[ $rc = 2 ] && grep -q '\"error\":\"unavailable\"' '$TMP/$1.out'"
  check "$1's reply says the log has the batch" grep -q \
    'the replicated log has the batch, but this host could not record it: retry with the same command_id' "$TMP/$1.out"
  check "$1's reply does not say nothing was appended" bash -c "! grep -q 'nothing was appended' '$TMP/$1.out'"
}
says_copy fc-1
check "host 1's command-service is standby" test "$(role_of 1)" = standby
check "its log says the batch is in the log and it is standby" \
  grep -q "that batch is in the replicated log: standby until events.db has copied it in" "$D/host1/command.log"
copied() { # HOST [ID]
  local until=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$until" ]; do
    [ "$(count_in "$1" "${2:-fc-1}")" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}
check "the log has it: host 2 copied it once" copied 2
check "the log has it: host 3 copied it once" copied 3
at=$(sqlite3 "$D/host2/events.db" "SELECT position FROM events WHERE command_id = 'fc-1'")
check "at the position after host 1's head ($at = $before + 1)" test "$at" = $((before + 1))
check "host 1's events.db does not have it" test "$(count_in 1)" = 0

# 2. While the disk is full: host 1 stays standby (its node still leads,
# so no other host is active), and a retry appends nothing.
sleep 1
check "host 1 is still standby a second later" test "$(role_of 1)" = standby
check "no host is active" test "$(active_host)" = 0
T=3000 fc fc-1 register-supplier --id fc-s1 --name "Full Disk"
mv "$TMP/fc-1.out" "$TMP/retry1.out"
cat "$TMP/retry1.out"
check "a retry finds no active command-service (exit 1: not_leader, or a timeout at the end)" \
  bash -c "[ $rc = 1 ] && grep -Eq '\"error\":\"(not_leader|timeout)\"' '$TMP/retry1.out'"
check "the log still has it once (host 2)" test "$(count_in 2)" = 1
check "host 1's log says why it cannot become active (the full disk)" grep -q \
  "cannot become active: .*copying into events.db: database or disk is full" "$D/host1/command.log"
check "... once, not at every tick ($(grep -c 'cannot become active' "$D/host1/command.log") lines)" \
  test "$(grep -c 'cannot become active' "$D/host1/command.log")" = 1

# 3. Space again: host 1 copies the log in and is active again.
rm -f "$FS/filler"
check "host 1 is active again once space is freed" wait_active 1 15
check "its log: active after copying the batch in" \
  grep -q "active: the log's head is $at (1 events copied first)" "$D/host1/command.log"
check "host 1's events.db has it once" test "$(count_in 1)" = 1
fc fc-1 register-supplier --id fc-s1 --name "Full Disk"
cat "$TMP/fc-1.out"
check "the retry is answered as a duplicate at position $at" bash -c "[ $rc = 0 ] &&
  grep -q '\"duplicate\":true' '$TMP/fc-1.out' && grep -q '\"position\":${at}[,}]' '$TMP/fc-1.out'"
fc fc-2 register-supplier --id fc-s2 --name After
check "a new command is accepted at position $((at + 1))" \
  bash -c "[ $rc = 0 ] && grep -q '\"position\":$((at + 1))[,}]' '$TMP/fc-2.out'"
for h in 1 2 3; do
  check "host $h's events.db has fc-1 once" test "$(count_in "$h")" = 1
done

# 4. Host 1's events.db equals the others' (events with their stream
# names, and the idempotency rows), once they have the last command.
dump() { # HOST
  sqlite3 -cmd ".timeout 2000" "$D/host$1/events.db" \
    "SELECT e.position, s.name, e.version, e.type, e.event_id, e.command_id, e.recorded_at,
            hex(e.payload), hex(e.hash) FROM events e JOIN streams s USING (stream_id) ORDER BY 1;
     SELECT command_id, position FROM commands ORDER BY 1" | md5sum
}
same() {
  local until=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$until" ]; do
    [ "$(dump 1)" = "$(dump 2)" ] && [ "$(dump 1)" = "$(dump 3)" ] && return 0
    sleep 0.2
  done
  return 1
}
check "host 1's events.db equals hosts 2 and 3's" same
check "... through position $((at + 1))" \
  test "$(sqlite3 "$D/host3/events.db" "SELECT max(position) FROM events")" = $((at + 1))

# The copied events have no outbox rows (the active relay never publishes
# them): the subscribers repair from the relay's heartbeat head.
wait_head() { # HOST HEAD
  "$BUILD_DIR/bench/invbench" --format json --mode wait --duration-ms 20000 \
    --relay-ep "${RELAY_EPS[$(($1 - 1))]}" >"$TMP/wait" 2>&1 &&
    grep -q "\"head\":$2,\"caught_up_ms\":[0-9]" "$TMP/wait"
}
check "every subscriber reaches the head, $((at + 1)) (host 1's relay)" wait_head 1 $((at + 1))

# 5. Again, and the way out while the disk stays full (docs/operations.md):
# the leadership handed to node 2, whose command-service answers the retry
# as a duplicate (it copied the batch from the log); host 1, a standby
# now, copies the log in once space is freed.
fill
fc fc-3 register-supplier --id fc-s3 --name "Full Again"
says_copy fc-3
check "the log has fc-3: host 2 copied it once" copied 2 fc-3
at3=$(sqlite3 "$D/host2/events.db" "SELECT position FROM events WHERE command_id = 'fc-3'")
"$I" --timeout-ms 5000 store transfer 2 >/dev/null
check "store transfer 2: host 2 is active" wait_active 2 15
fc fc-3 register-supplier --id fc-s3 --name "Full Again"
cat "$TMP/fc-3.out"
check "host 2 answers the retry as a duplicate at position $at3" bash -c "[ $rc = 0 ] &&
  grep -q '\"duplicate\":true' '$TMP/fc-3.out' && grep -q '\"position\":${at3}[,}]' '$TMP/fc-3.out'"
fc fc-4 register-supplier --id fc-s4 --name "On Host Two"
check "host 2 takes a new command at position $((at3 + 1))" \
  bash -c "[ $rc = 0 ] && grep -q '\"position\":$((at3 + 1))[,}]' '$TMP/fc-4.out'"
check "host 1 is standby" test "$(role_of 1)" = standby
check "host 1's events.db does not have fc-3 while its disk is full" test "$(count_in 1 fc-3)" = 0
standby_says() { # a standby's failing copy is in its log, with events.db's reason, once
  local until=$((SECONDS + 5)) n
  while [ "$SECONDS" -lt "$until" ]; do
    n="$(grep -c 'as a standby, cannot copy the log: .*full' "$D/host1/command.log")"
    [ "$n" = 1 ] && return 0
    sleep 0.2
  done
  echo "lines: $n"
  return 1
}
check "host 1's log says, once, that as a standby it cannot copy the log (the full disk)" standby_says
rm -f "$FS/filler"
check "host 1's events.db equals hosts 2 and 3's once space is freed" same
check "... through position $((at3 + 1)), fc-3 once" bash -c "[ $(count_in 1 fc-3) = 1 ] &&
  [ \$(sqlite3 '$D/host1/events.db' 'SELECT max(position) FROM events') = $((at3 + 1)) ]"
check "every subscriber reaches the head, $((at3 + 1)) (host 2's relay)" wait_head 2 $((at3 + 1))

"$L" stop "$D" >"$TMP/stop.out" 2>&1
check "stop needs no SIGKILL" bash -c "! grep -q SIGKILL '$TMP/stop.out'"
finish
