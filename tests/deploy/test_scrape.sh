#!/usr/bin/env bash
# /metrics, /healthz and the JSON log lines of the real daemons, started by
# the local launcher with HTTP_PORT_BASE, INV_LOG_FORMAT=json and
# INV_LOG_LEVEL=debug, scraped with curl: every scrape is OpenMetrics
# (every sample of a TYPE'd family, families together, `# EOF` last, the
# content type); the counters move by exactly what was sent; the lag comes
# back to 0; /healthz is 200, and 503 for a query service without a read
# model; garbage, a huge header and too many connections leave the endpoint
# serving; every log line of the relay and the command service is one JSON
# object, the command's correlation id a field of its own.
#   tests/deploy/test_scrape.sh BUILD_DIR
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_scrape.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/invmetrics-XXXXXX)"
command -v curl >/dev/null || { echo "curl is missing (deploy/install-deps.sh installs it)"; exit 1; }
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + ($$ * 3) % 20000 )) DATA_DIR="$TMP/data"
export INV_LOG_FORMAT=json INV_LOG_LEVEL=debug
L="$SRC/deploy/inventory-local"
INVCTL="$BUILD_DIR/tools/invctl"
extra_pid=""
cleanup() {
  [ -z "$extra_pid" ] || kill "$extra_pid" 2>/dev/null
  "$L" stop >/dev/null 2>&1
  rm -rf "$TMP" /tmp/inventory-"$PORT_BASE"-*.sock
}
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

# Seven free TCP ports in a row on 127.0.0.1: six daemons and one more.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
HTTP_PORT_BASE=$(( 30000 + ($$ * 7) % 25000 ))
for _ in $(seq 1 50); do
  busy=0
  for i in 0 1 2 3 4 5 6; do port_open $((HTTP_PORT_BASE + i)) && busy=1; done
  [ "$busy" -eq 0 ] && break
  HTTP_PORT_BASE=$((HTTP_PORT_BASE + 11))
done
export HTTP_PORT_BASE
declare -A OFF=([command]=0 [relay]=1 [projector]=2 [query]=3 [audit]=4 [alert]=5)
url() { echo "http://127.0.0.1:$((HTTP_PORT_BASE + ${OFF[$1]}))$2"; }
scrape() { curl -s --max-time 5 "$(url "$1" /metrics)"; }
# The value of the sample whose line starts with $2 (name{labels), 0 when absent.
value() { grep -v '^#' <<<"$1" | grep -F -- "$2" | head -1 | awk '{print $NF}' | grep . || echo 0; }

# OpenMetrics, structurally: no blank line, `# EOF` last, every sample of
# a family TYPE'd before it, families never split, counters' samples
# <name>_total, histograms' _bucket/_sum/_count, info's _info.
valid_openmetrics() { # text
  awk '
    /^$/ { print "blank line"; bad=1; next }
    eof { print "text after # EOF"; bad=1 }
    /^# EOF$/ { eof=1; next }
    /^# TYPE / { if ($3 in seen) { print "family " $3 " split"; bad=1 }
                 seen[$3]=1; fam=$3; type=$4; next }
    /^# HELP / { if ($3 != fam) { print "HELP of " $3 " outside its family"; bad=1 } next }
    /^#/ { print "unknown comment: " $0; bad=1; next }
    { name=$1; sub(/\{.*/, "", name)
      ok = (type == "counter" && name == fam "_total") || (type == "gauge" && name == fam) ||
           (type == "info" && name == fam "_info") ||
           (type == "histogram" && (name == fam "_bucket" || name == fam "_sum" || name == fam "_count"))
      if (!ok) { print "sample " name " outside a family of its type (" fam " " type ")"; bad=1 }
      if ($NF !~ /^(-?[0-9]+(\.[0-9]+)?|NaN|[+-]Inf)$/) { print "bad value: " $0; bad=1 } }
    END { if (!eof) { print "no # EOF"; bad=1 } exit bad }' <<<"$1"
}

"$L" start >"$TMP/start.out" 2>&1
check "the launcher starts the six daemons with --http" grep -q "all daemons up" "$TMP/start.out"
grep -q "all daemons up" "$TMP/start.out" || # why, printed before $TMP goes
  { cat "$TMP/start.out"; tail -n 5 "$DATA_DIR"/*.log 2>/dev/null; }
check "status names the metrics addresses" bash -c "'$L' status | grep -q 'http://127.0.0.1:$HTTP_PORT_BASE/metrics'"
eval "$("$L" env)"

# /healthz: 200 "ok" once each loop has turned.
healthy() { # daemon
  local i
  for i in $(seq 1 50); do
    [ "$(curl -s --max-time 2 "$(url "$1" /healthz)")" = ok ] && return 0
    sleep 0.1
  done
  return 1
}
for d in command relay projector query audit alert; do
  check "$d: /healthz is 200 ok" healthy "$d"
  check "$d: /metrics is valid OpenMetrics" valid_openmetrics "$(scrape "$d")"
  check "$d: content type" test "$(curl -s -o /dev/null -w '%{content_type}' "$(url "$d" /metrics)")" = \
    "application/openmetrics-text; version=1.0.0; charset=utf-8"
done

before_cmd="$(scrape command)"; before_relay="$(scrape relay)"; before_proj="$(scrape projector)"
before_audit="$(scrape audit)"
ok=0
"$INVCTL" register-supplier --id s-m --name Metrics >/dev/null && ok=$((ok + 1))
"$INVCTL" create-product --id p-m --sku SKU-M --name Gauge --supplier s-m --price 1000 --cost 500 \
  --stock 5 --threshold 1 >/dev/null && ok=$((ok + 1))
"$INVCTL" --correlation-id metrics-corr-1 sell p-m --qty 2 >/dev/null && ok=$((ok + 1))
"$INVCTL" change-price p-m --price 1200 >/dev/null && ok=$((ok + 1))
"$INVCTL" update-stock p-m --stock 9 >/dev/null && ok=$((ok + 1))
"$INVCTL" sell p-m --qty 100 >/dev/null 2>&1
refused=$?
check "five commands accepted, one refused for stock" test "$ok" -eq 5 -a "$refused" -eq 2
after_cmd="$(scrape command)"
acc='inv_commands_total{result="accepted",code="none"}'
ins='inv_commands_total{result="rejected",code="insufficient_stock"}'
check "accepted rose by exactly 5" test $(( $(value "$after_cmd" "$acc") - $(value "$before_cmd" "$acc") )) -eq 5
check "insufficient_stock rose by exactly 1" test $(( $(value "$after_cmd" "$ins") - $(value "$before_cmd" "$ins") )) -eq 1
check "batches counted" test "$(value "$after_cmd" inv_command_batch_size_count)" -gt "$(value "$before_cmd" inv_command_batch_size_count)"
check "fsyncs timed" test "$(value "$after_cmd" inv_fsync_seconds_count)" -gt "$(value "$before_cmd" inv_fsync_seconds_count)"
check "WAL size reported" test "$(value "$after_cmd" 'inv_wal_bytes ')" -gt 0

caught_up() { # daemon: lag 0 and at least 5 more applied
  local i text
  for i in $(seq 1 100); do
    text="$(scrape "$1")"
    if [ "$(value "$text" inv_subscriber_lag_events)" = 0 ] &&
       [ $(( $(value "$text" inv_events_applied_total) - $(value "$2" inv_events_applied_total) )) -ge 5 ]; then
      return 0
    fi
    sleep 0.1
  done
  echo "$text" | grep -E 'lag|applied' >&2
  return 1
}
check "projector: applied rose by 5 and the lag is back to 0" caught_up projector "$before_proj"
check "audit: applied rose by 5 and the lag is back to 0" caught_up audit "$before_audit"
check "projector: lag in seconds back to 0" test "$(value "$(scrape projector)" inv_subscriber_lag_seconds)" = 0.0
check "relay: published rose by at least 5" test $(( $(value "$(scrape relay)" inv_events_published_total) - $(value "$before_relay" inv_events_published_total) )) -ge 5

# 503: a query service whose read model does not exist.
"$BUILD_DIR/query-service/query-service" --db "$TMP/none.db" --bind "ipc://$TMP/q2.sock" \
  --http "127.0.0.1:$((HTTP_PORT_BASE + 6))" >"$TMP/q2.log" 2>&1 &
extra_pid=$!
unhealthy() {
  local i code
  for i in $(seq 1 50); do
    code="$(curl -s -o "$TMP/q2.body" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$((HTTP_PORT_BASE + 6))/healthz")"
    [ "$code" = 503 ] && grep -q "read model unavailable" "$TMP/q2.body" && return 0
    sleep 0.1
  done
  return 1
}
check "query without a read model: /healthz is 503 with the reason" unhealthy
kill "$extra_pid"; wait "$extra_pid" 2>/dev/null; extra_pid=""

# Abuse: connections past the limits held open, garbage, a huge header.
port=$((HTTP_PORT_BASE + OFF[command]))
fds=()
for i in $(seq 1 40); do exec {fd}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null && fds+=("$fd"); done
printf 'GET /met' >&"${fds[0]}" # a request that never ends
for fd in "${fds[@]:1}"; do exec {fd}>&-; done
printf '\x00\x01\xffnot http\r\n\r\n' | timeout 10 curl -s --max-time 5 -o /dev/null "telnet://127.0.0.1:$port" 2>/dev/null
head -c 200000 /dev/zero | tr '\0' a >"$TMP/big"
curl -s --max-time 5 -o /dev/null -H "X-Big: $(cat "$TMP/big")" "$(url command /metrics)" 2>/dev/null
curl -s --max-time 5 -o /dev/null -X POST --data-binary @"$TMP/big" "$(url command /metrics)" 2>/dev/null
check "after the abuse the endpoint still serves" healthy command
check "after the abuse the command service still answers" "$INVCTL" status --daemon command --timeout-ms 2000
exec {fds[0]}>&-

"$L" stop >/dev/null 2>&1
# The JSON logs: every line but the launcher's markers is one object.
json_lines() { # log
  if command -v python3 >/dev/null; then
    python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("=== "):
        continue
    o = json.loads(line)
    assert set(["time", "level", "daemon", "message"]) <= set(o), o
    assert o["level"] in ("debug", "info", "warn", "error"), o
    n += 1
assert n > 0
PY
  else
    ! grep -v '^=== ' "$1" | grep -qv '^{"time":"[^"]*","level":"[a-z]*","daemon":"[a-z]*",.*"message":".*"}$'
  fi
}
check "relay.log is JSON lines" json_lines "$DATA_DIR/relay.log"
check "command.log is JSON lines" json_lines "$DATA_DIR/command.log"
check "the correlation id is a field of its own" grep -q '"correlation_id":"metrics-corr-1","message":"SellProduct ' "$DATA_DIR/command.log"

finish
