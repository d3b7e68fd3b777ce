#!/usr/bin/env bash
# shellcheck disable=SC2317 # (the functions are called through check)
# Hosts as network namespaces (tests/netns/hosts.sh), and the system over
# them.  Four hosts on a bridge.
#   The harness: every host reaches every other; host_delay on two hosts
#   raises the round trip by twice the delay (at least that, not absurdly
#   more: medians of 20 pings); host_loss 30 loses about 30 % of 200
#   pings; host_partition stops traffic and an established TCP connection
#   sees silence (no reset, no error), host_heal brings both back; no host
#   has a route out of the subnet and the root namespace gets no
#   interface; hosts_down leaves no namespace and no process.
#   The system, CURVE on, over TCP with 0.5 ms round trips: command-service
#   and outbox-relay on host 1 (one SQLite store), audit and alert on host
#   2, 2000 commands from host 4, then projector and query on host 3,
#   which catch up from zero; every daemon answers Status from host 4, the
#   projector reaches the head, and each subscriber's model equals a fresh
#   build from the log over the network (--mode once, --mode dump); every
#   daemon exits 0 on SIGTERM.
# Skips (77) unless root.  Every process it starts is bounded: netdelay
# by HOSTS_MAX_SECONDS, the daemons by the EXIT trap.
#   tests/netns/test_hosts.sh BUILD_DIR
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_hosts.sh BUILD_DIR}" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
export HOSTS_MAX_SECONDS=240
# shellcheck source=hosts.sh
. "$HERE/hosts.sh"
# shellcheck source=../deploy/check.sh
. "$HERE/../deploy/check.sh"
hosts_require
links_before="$(ip -o link | wc -l)"
hosts_up 4 || { echo "FAIL hosts_up 4"; exit 1; }
TMP="$(mktemp -d /tmp/invhosts-test-XXXXXX)"
cleanup() {
  hosts_down
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- the harness ----------------------------------------------------------

all_pairs_reach() {
  local i j
  for i in 1 2 3 4; do
    for j in 1 2 3 4; do
      [ "$i" = "$j" ] || host_reachable "$i" "$j" || { echo "host $i does not reach host $j"; return 1; }
    done
  done
}
check "every host reaches every other" all_pairs_reach
check "lo is up in every host" bash -c "ip netns exec $(host_ns 3) ping -c1 -W1 127.0.0.1 >/dev/null"
check "the root namespace got no interface" test "$(ip -o link | wc -l)" -eq "$links_before"

# Round trips from host I to host J in us, sorted; the median of them.
rtts() { # I J COUNT
  host_exec "$1" ping -n -c "$3" -i 0.01 -W 1 "$(host_ip "$2")" 2>/dev/null |
    sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | awk '{printf "%d\n", $1 * 1000}' | sort -n
}
median() { awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : -1)}'; }
minimum() { head -1; }

base="$(rtts 1 2 20 | median)"
echo "round trip host 1 -> 2 without delay: median $base us"
# Each: 20 pings with host_delay D on hosts 1 and 2; every round trip takes
# at least 2 D; the median at most 2 D + 3 ms (a loaded CI machine).
delay_raises_rtt() { # D
  local d=$1 r min med
  host_delay 1 "$d" && host_delay 2 "$d" || return 1
  r="$(rtts 1 2 20)"
  min="$(minimum <<<"$r")" med="$(median <<<"$r")"
  echo "round trip host 1 -> 2 with $d us on each: min $min us, median $med us ($(wc -l <<<"$r") of 20)"
  [ "$(wc -l <<<"$r")" -eq 20 ] && [ "$min" -ge $((2 * d)) ] && [ "$med" -le $((2 * d + 3000)) ]
}
check "host_delay 250 us on two hosts: round trips of 500 us and more" delay_raises_rtt 250
check "host_delay 1000 us on two hosts: round trips of 2 ms and more" delay_raises_rtt 1000
host_delay 1 0 && host_delay 2 0
after="$(rtts 1 2 20 | median)"
echo "round trip host 1 -> 2 after host_delay 0: median $after us"
check "host_delay 0 brings the round trip back under 1 ms" test "$after" -ge 0 -a "$after" -lt 1000

# netdelay itself: the bound, the fail-open rule, the time limit.
bounded() {
  local log="$_HOSTS_TMP/netdelay-h1.log"
  host_delay 1 300000 4 || return 1
  host_exec 1 ping -n -q -c 20 -i 0.005 -W 1 "$(host_ip 2)" >/dev/null 2>&1
  host_delay 1 0
  grep "dropped" "$log"
  grep -q "^netdelay: [0-9]* delayed, 1[0-9] dropped" "$log" # 20 sent, 4 held at most
}
check "netdelay holds at most --max-queue packets and counts the others dropped" bounded
fail_open() {
  host_delay 1 1000 || return 1
  kill -KILL "$HOST_DELAY_PID"
  wait "$HOST_DELAY_PID" 2>/dev/null
  host_reachable 1 2 # --queue-bypass: nobody listens, packets pass
}
check "netdelay killed: packets pass (--queue-bypass), not dropped" fail_open
host_delay 1 0
check "netdelay exits by itself after --max-seconds" \
  timeout 10 ip netns exec "$(host_ns 3)" "$BUILD_DIR/tests/netns/netdelay" --queue 7 --delay-us 10 --max-seconds 1
check "netdelay refuses a negative delay (exit 2)" bash -c \
  "'$BUILD_DIR/tests/netns/netdelay' --queue 1 --delay-us -5 2>/dev/null; test \$? -eq 2"

lost_share() { # I J COUNT: per cent of pings unanswered
  host_exec "$1" ping -n -q -c "$3" -i 0.005 -W 1 "$(host_ip "$2")" 2>/dev/null |
    sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' | cut -d. -f1
}
host_loss 2 30
loss="$(lost_share 1 2 200)"
echo "host_loss 2 30: $loss % of 200 pings from host 1 lost"
check "host_loss 30: 15..45 % of 200 pings lost" test "${loss:-0}" -ge 15 -a "${loss:-0}" -le 45
host_loss 2 0
check "host_loss 0: 200 pings, none lost" test "$(lost_share 1 2 200)" = 0

# An established TCP connection across a partition: silence, then the
# bytes sent during it arrive after the heal (python3: deploy/install-deps.sh).
cat >"$TMP/tcp.py" <<'PY'
import os, socket, sys, time
role, ip, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
def wait_file(name, secs):
    end = time.time() + secs
    while not os.path.exists(os.path.join(tmp, name)):
        if time.time() > end:
            sys.exit("no " + name)
        time.sleep(0.05)
def mark(name):
    open(os.path.join(tmp, name), "w").close()
if role == "server":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, 7000)); s.listen(1); s.settimeout(20)
    mark("listening")
    c, _ = s.accept(); c.settimeout(40)
    while True:
        d = c.recv(100)
        if not d:
            break
        c.sendall(d)
    sys.exit(0)
c = socket.create_connection((ip, 7000), timeout=5)
c.sendall(b"a")
assert c.recv(1) == b"a", "no echo before the partition"
mark("connected")
wait_file("partitioned", 20)
c.sendall(b"b")  # no error: the segment waits in the kernel
c.settimeout(1.5)
try:
    sys.exit("an echo came through the partition: %r" % c.recv(1))
except socket.timeout:
    pass
mark("silent")
wait_file("healed", 20)
c.settimeout(15)  # a retransmission after the heal (backoff: a few seconds)
d = c.recv(1)
assert d == b"b", "after the heal: %r" % d
c.close()
print("silence during the partition, the echo after the heal")
PY
partition_and_heal() {
  local server client k
  host_run 2 python3 "$TMP/tcp.py" server "$(host_ip 2)" "$TMP" >"$TMP/tcp-server.log" 2>&1
  server=$HOST_PID
  for ((k = 0; k < 100; k++)); do [ -e "$TMP/listening" ] && break; sleep 0.05; done
  host_run 1 python3 "$TMP/tcp.py" client "$(host_ip 2)" "$TMP" >"$TMP/tcp-client.log" 2>&1
  client=$HOST_PID
  for ((k = 0; k < 100; k++)); do [ -e "$TMP/connected" ] && break; sleep 0.05; done
  [ -e "$TMP/connected" ] || { cat "$TMP"/tcp-*.log; return 1; }
  host_partition 2
  touch "$TMP/partitioned"
  host_reachable 1 2 && { echo "host 1 still reaches host 2"; return 1; }
  host_reachable 2 3 && { echo "host 2 still reaches host 3"; return 1; }
  host_reachable 3 1 || { echo "hosts 1 and 3 lost each other"; return 1; }
  for ((k = 0; k < 100; k++)); do [ -e "$TMP/silent" ] && break; sleep 0.05; done
  host_heal 2
  touch "$TMP/healed"
  all_pairs_reach || return 1
  if ! wait "$client" || ! wait "$server"; then
    cat "$TMP"/tcp-*.log
    return 1
  fi
  cat "$TMP/tcp-client.log"
}
check "host_partition: no ping, a TCP connection sees silence; host_heal: both come back" partition_and_heal

cut_and_mend() {
  host_cut 1 3 || return 1
  host_reachable 1 3 && { echo "host 1 still reaches host 3"; return 1; }
  host_reachable 3 1 && { echo "host 3 still reaches host 1"; return 1; }
  if ! host_reachable 1 2 || ! host_reachable 2 3; then
    echo "the cut took more than the link 1-3"
    return 1
  fi
  host_mend 3 1 # either order
  all_pairs_reach
}
check "host_cut 1 3: only hosts 1 and 3 lose each other; host_mend 3 1 brings them back" cut_and_mend

no_way_out() {
  local i
  for i in 1 2 3 4; do
    host_exec "$i" ip route get 192.0.2.1 >/dev/null 2>&1 && { echo "host $i has a route out"; return 1; }
    host_exec "$i" ping -c1 -W1 "${HOSTS_SUBNET%.*}.$(( ${HOSTS_SUBNET##*.} + 1 )).1" >/dev/null 2>&1 &&
      { echo "host $i reaches outside its /24"; return 1; }
  done
  [ -z "$(ip -n "${_HOSTS_PREFIX}hub" -4 addr show scope global)" ] || { echo "the hub has an address"; return 1; }
}
check "no host has a route out of the subnet; the hub has no address" no_way_out

# ---- the system across hosts ---------------------------------------------

for i in 1 2 3 4; do host_delay "$i" 250 || echo "FAIL host_delay $i 250"; done
rtt="$(rtts 4 1 20 | median)"
echo "round trip host 4 -> 1 with 250 us on every host: median $rtt us"
check "0.5 ms round trips between the daemons' hosts" test "$rtt" -ge 500

INVCTL="$BUILD_DIR/tools/invctl"
ep() { echo "tcp://$(host_ip "$1"):$2"; } # host port
export INV_KEYS_DIR="$TMP/keys"
"$INVCTL" keygen --init "$INV_KEYS_DIR" >/dev/null || echo "FAIL invctl keygen --init"
INV_COMMAND_EP="$(ep 1 5550)" INV_EVENTS_EP="$(ep 1 5551)" INV_RELAY_EP="$(ep 1 5552)"
INV_CATCHUP_EP="$INV_RELAY_EP" INV_QUERY_EP="$(ep 3 5553)" INV_PROJECTOR_EP="$(ep 3 5556)"
INV_AUDIT_EP="$(ep 2 5554)" INV_ALERTS_EP="$(ep 2 5555)" INV_ALERT_API_EP="$(ep 2 5557)"
export INV_COMMAND_EP INV_EVENTS_EP INV_RELAY_EP INV_CATCHUP_EP INV_QUERY_EP INV_PROJECTOR_EP
export INV_AUDIT_EP INV_ALERTS_EP INV_ALERT_API_EP
mkdir -p "$TMP/h1" "$TMP/h2" "$TMP/h3"

declare -A PID
start() { # host name binary args...
  local i=$1 name=$2 bin=$3
  shift 3
  host_run "$i" "$BUILD_DIR/$bin" "$@" >"$TMP/$name.log" 2>&1
  PID[$name]=$HOST_PID
}
inv() { host_exec 4 "$INVCTL" --timeout-ms 2000 "$@"; }
answers() { inv status --daemon "$1" >/dev/null 2>&1; } # name
ready() { # name: answers Status from host 4 within 15 s
  local k
  for ((k = 0; k < 75; k++)); do
    answers "$1" && return 0
    _hosts_running "${PID[$1]}" || break
    sleep 0.2
  done
  echo "$1 does not answer; its log:"
  tail -5 "$TMP/$1.log"
  return 1
}
subscriber() { # host name binary db bind args...
  local i=$1 name=$2 bin=$3 db=$4 bind=$5
  shift 5
  start "$i" "$name" "$bin" --db "$db" --events "$INV_EVENTS_EP" --catchup "$INV_CATCHUP_EP" \
    --bind "$bind" "$@"
}

start 1 relay outbox-relay/outbox-relay --db "$TMP/h1/events.db" --pub "$INV_EVENTS_EP" \
  --catchup "$INV_CATCHUP_EP" --nudge "$(ep 1 5558)"
check "host 1: outbox-relay answers from host 4" ready relay
start 1 command command-service/command-service --db "$TMP/h1/events.db" \
  --bind "$INV_COMMAND_EP" --nudge "$(ep 1 5558)"
check "host 1: command-service answers from host 4" ready command
subscriber 2 audit audit-service/audit-service "$TMP/h2/audit.db" "$INV_AUDIT_EP"
check "host 2: audit-service answers from host 4" ready audit
subscriber 2 alert alert-service/alert-service "$TMP/h2/alerts.db" "$INV_ALERT_API_EP" \
  --pub "$INV_ALERTS_EP"
check "host 2: alert-service answers from host 4" ready alert

bench() { host_exec 4 "$BUILD_DIR/bench/invbench" --format json "$@"; }
load="$(bench --count 2000 --products 50 --connections 2 --window 16 --prefix nsh \
  --initial-stock 1000000 --projector-ep '' --stall-ms 20000)"
echo "invbench from host 4: $load"
check "2000 commands accepted over the network" grep -q '"acked":2000,"rejected":0,"timeouts":0' <<<"$load"

subscriber 3 projector projector-service/projector-service "$TMP/h3/read.db" "$INV_PROJECTOR_EP"
check "host 3: projector-service, started after the load, answers" ready projector
start 3 query query-service/query-service --db "$TMP/h3/read.db" --bind "$INV_QUERY_EP"
check "host 3: query-service answers" ready query

caught="$(bench --mode wait --duration-ms 60000)"
echo "invbench --mode wait: $caught"
head="$(sed -n 's/.*"head":\([0-9]*\).*/\1/p' <<<"$caught")"
check "every subscriber reached the relay's head" grep -q '"caught_up_ms":[0-9]' <<<"$caught"
check "the head covers the 2000 commands and the setup" test "${head:-0}" -ge 2051
for d in command relay projector query audit alert; do
  check "$d answers Status from host 4" answers "$d"
done
check "projector's checkpoint is the head" bash -c \
  "ip netns exec $(host_ns 4) '$INVCTL' --json status --daemon projector | grep -q '\"checkpoint\":${head:-x}[,}]'"
check "query-service answers a query from host 4" bash -c \
  "ip netns exec $(host_ns 4) '$INVCTL' product nsh-p0 | grep -q nsh-p0"

# The live model equals a fresh build from the log, read over the network.
check "host 3: the projector's read model equals a fresh build" host_equals_fresh 3 "$TMP" projector \
  projector-service/projector-service "$TMP/h3/read.db" --bind "$(ep 3 6556)"
check "host 2: the audit model equals a fresh build" host_equals_fresh 2 "$TMP" audit \
  audit-service/audit-service "$TMP/h2/audit.db" --bind "$(ep 2 6554)"
check "host 2: the alert model equals a fresh build" host_equals_fresh 2 "$TMP" alert \
  alert-service/alert-service "$TMP/h2/alerts.db" --bind "$(ep 2 6557)" --pub "$(ep 2 6555)"

for d in query projector alert audit command relay; do
  check "$d exits 0 on SIGTERM" host_stop "${PID[$d]}"
done
for i in 1 2; do
  host_delay "$i" 0
  echo "host $i: $(grep -h "delayed" "$_HOSTS_TMP/netdelay-h$i.log")"
done

# hosts_down with netdelay still running on hosts 3 and 4, a process
# started by host_run and one started behind its back.
left=("${_HOSTS_DELAY_PID[3]}" "${_HOSTS_DELAY_PID[4]}")
host_run 2 sleep 600
left+=("$HOST_PID")
ip netns exec "$(host_ns 3)" sleep 600 &
left+=("$!")
prefix="$_HOSTS_PREFIX"
hosts_down
check "hosts_down: no namespace left" bash -c "! ip netns list | grep -q '^$prefix'"
gone() { local p; for p in "$@"; do _hosts_running "$p" && return 1; done; return 0; }
check "hosts_down: no process left (netdelay, host_run, strays)" gone "${left[@]}"
check "hosts_down twice is harmless" hosts_down
finish
