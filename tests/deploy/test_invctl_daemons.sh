#!/usr/bin/env bash
# invctl against the real daemons (deploy/inventory-local, Unix sockets of
# its own): `watch events --from` reads the store then follows live, each
# event once and in order, with its filters and --exit-at-head; `audit
# --tail N`; alert kinds in colour with --color=always, not with NO_COLOR
# nor into a pipe.
#   tests/deploy/test_invctl_daemons.sh BUILD_DIR
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_invctl_daemons.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/invctl-XXXXXX)"
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + ($$ + 7) % 20000 )) DATA_DIR="$TMP/data"
L="$SRC/deploy/inventory-local"
I="$BUILD_DIR/tools/invctl"
cleanup() { "$L" stop >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"
same() { # name file want-text
  local got; got="$(cat "$2")"
  if [ "$got" = "$3" ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); printf 'FAIL %s: got\n%s\nwant\n%s\n' "$1" "$got" "$3"; fi
}
"$L" start >"$TMP/start.out" 2>&1 || { cat "$TMP/start.out"; echo "0 passed, 1 failed"; exit 1; }
eval "$("$L" env)"
run() { "$I" --timeout-ms 5000 "$@"; }

# Twelve events: 1 supplier, 2 products, sales that raise alerts.
run --correlation-id setup register-supplier --id s1 --name Acme >/dev/null
run --correlation-id setup create-product --id p1 --sku A1 --name Hammer --supplier s1 \
  --price 1999 --cost 1200 --stock 10 --threshold 5 >/dev/null
run --correlation-id setup create-product --id p2 --sku B2 --name Saw --supplier s1 \
  --price 2999 --cost 1500 --stock 10 --threshold 5 >/dev/null
for i in 1 2 3; do run --correlation-id "sale-$i" sell p1 --qty 2 --order "o$i" >/dev/null; done
run --correlation-id restock update-stock p1 --stock 20 >/dev/null
run --correlation-id sale-4 sell p2 --qty 10 --order o4 >/dev/null
run view p2 >/dev/null
run change-price p2 --price 2499 >/dev/null
run --correlation-id restock update-stock p2 --stock 30 >/dev/null
run --wait view p1 >/dev/null

# 1. --from beginning --exit-at-head: the 12 events, once each, in order, exit 0.
timeout 20 "$I" watch events --from beginning --exit-at-head >"$TMP/all" 2>&1
check "watch --from beginning --exit-at-head exits 0" test $? -eq 0
same "it prints positions 1..12 once each, in order" <(awk '{print $1}' "$TMP/all") "$(seq 1 12)"

# 1b. audit --tail N: the last N lines, oldest first, filters too.
positions() { grep -o '"position": *[0-9]*' "$1" | sed 's/.*: *//' | tail -n +2 | paste -sd' '; }
for i in $(seq 1 100); do # the audit has applied the 12 events
  run --json audit --tail 1 >"$TMP/t" 2>&1; grep -q '"position": *12' "$TMP/t" && break; sleep 0.1
done
run --json audit --tail 3 >"$TMP/t" 2>&1
same "audit --tail 3: 10 11 12" <(positions "$TMP/t") "10 11 12"
run --json audit --tail 2 --stream product-p2 >"$TMP/t" 2>&1
same "audit --tail 2 --stream product-p2: 10 11" <(positions "$TMP/t") "10 11"
run --json --correlation-id setup audit --tail 2 >"$TMP/t" 2>&1
same "audit --tail 2 --correlation-id setup: 2 3" <(positions "$TMP/t") "2 3"
run --json audit --tail 50 --stream supplier-s1 >"$TMP/t" 2>&1
same "audit --tail 50 of a 1-line stream: 1" <(positions "$TMP/t") "1"
run --json audit --tail 200 >"$TMP/t" 2>&1
same "audit --tail 200 of 12 lines: all" <(positions "$TMP/t") "$(seq -s' ' 1 12)"
run audit --tail 2 >"$TMP/t" 2>&1
check "audit --tail 2 prints the table" bash -c "grep -q 'items (2)' '$TMP/t' && grep -q 'ProductViewed' '$TMP/t'"
for bad in "--tail 0" "--tail 1001" "--tail 3 --limit 2" "--tail 3 --cursor 4"; do
  # shellcheck disable=SC2086
  run audit $bad >"$TMP/bad" 2>&1; rc=$?
  check "audit $bad: exit 1 with a reason" bash -c "[ $rc -eq 1 ] && grep -q -- '--tail' '$TMP/bad'"
done
run audit --tail 3 --stream "" >"$TMP/bad" 2>&1
check "audit --tail with a bad filter: the server's error, exit 2" bash -c \
  "[ $? -eq 2 ] && grep -q 'validation' '$TMP/bad'"

# 2. Filters.
timeout 20 "$I" watch events --from beginning --exit-at-head --stream product-p2 >"$TMP/f" 2>&1
same "--stream product-p2" <(awk '{print $1}' "$TMP/f") "$(printf '%s\n' 3 8 9 10 11)"
timeout 20 "$I" watch events --from beginning --exit-at-head --type ProductSold >"$TMP/f" 2>&1
same "--type ProductSold" <(awk '{print $1}' "$TMP/f") "$(printf '%s\n' 4 5 6 8)"
timeout 20 "$I" watch events --from beginning --exit-at-head --correlation restock >"$TMP/f" 2>&1
same "--correlation restock" <(awk '{print $1}' "$TMP/f") "$(printf '%s\n' 7 11)"
timeout 20 "$I" watch events --from beginning --exit-at-head --type ProductSold \
  --stream product-p1 --correlation sale-2 >"$TMP/f" 2>&1
same "filters combine" <(awk '{print $1}' "$TMP/f") "5"

# 3. --from N starts at N (inclusive); past the head it exits at once.
timeout 20 "$I" watch events --from 10 --exit-at-head >"$TMP/f" 2>&1
same "--from 10 prints 10..12" <(awk '{print $1}' "$TMP/f") "$(printf '%s\n' 10 11 12)"
timeout 20 "$I" watch events --from 500 --exit-at-head >"$TMP/f" 2>&1
check "--from past the head: exit 0, nothing" bash -c "[ $? -eq 0 ] && [ ! -s '$TMP/f' ]"
timeout 20 "$I" --json watch events --from 12 --exit-at-head >"$TMP/f" 2>&1
check "--json: one object a line" grep -q '^{.*"position": *12' "$TMP/f"

# 4. Catch-up then live: started at the beginning, it then sees new events
# once each (no gap or duplicate at the switch-over).
timeout 30 "$I" watch events --from 11 --count 6 >"$TMP/live" 2>&1 &
w=$!
for i in 1 2 3 4; do run view p1 >/dev/null; done
wait $w
check "catch-up then live: exit 0" test $? -eq 0
same "catch-up then live: 11..16 once each" <(awk '{print $1}' "$TMP/live") "$(seq 11 16)"

# 4b. The filters on a live watch (no --from): only product-p2's events.
timeout 30 "$I" watch events --stream product-p2 --count 2 >"$TMP/lf" 2>&1 &
w=$!
for i in $(seq 1 60); do
  kill -0 $w 2>/dev/null || break
  run view p1 >/dev/null; run view p2 >/dev/null; sleep 0.05
done
wait $w
check "live watch --stream: exit 0 after 2 lines" bash -c "[ $? -eq 0 ] && [ \$(wc -l <'$TMP/lf') -eq 2 ]"
check "live watch --stream: only product-p2" bash -c "! grep -v 'product-p2@' '$TMP/lf'"

# 5. Alert kinds in colour: LOW STOCK yellow, OUT OF STOCK red, CLEARED green,
# with --color=always or on a terminal; not with NO_COLOR, nor into a pipe.
ESC=$'\033'
run --color=always alerts >"$TMP/al" 2>&1
check "alerts --color=always: LOW STOCK in yellow" grep -q "${ESC}\[33mLOW STOCK${ESC}\[0m" "$TMP/al"
check "alerts --color=always: OUT OF STOCK in red" grep -q "${ESC}\[31mOUT OF STOCK${ESC}\[0m" "$TMP/al"
check "alerts --color=always: CLEARED in green" grep -q "${ESC}\[32mCLEARED${ESC}\[0m" "$TMP/al"
run alerts >"$TMP/al" 2>&1
check "alerts into a pipe: the labels, no colour" bash -c \
  "grep -q 'OUT OF STOCK' '$TMP/al' && ! grep -q \$'\\033' '$TMP/al'"
tty_run() { # env-assignments... -- invctl arguments (stdout a terminal)
  script -qec "$*" /dev/null </dev/null | tr -d '\r'
}
tty_run "'$I' alerts" >"$TMP/al"
check "alerts on a terminal: colour" grep -q "${ESC}\[33mLOW STOCK" "$TMP/al"
tty_run "NO_COLOR=1 '$I' alerts" >"$TMP/al"
check "alerts on a terminal with NO_COLOR=1: no colour" bash -c \
  "grep -q 'LOW STOCK' '$TMP/al' && ! grep -q \$'\\033' '$TMP/al'"
tty_run "NO_COLOR= '$I' alerts" >"$TMP/al"
check "alerts on a terminal with NO_COLOR empty: colour" grep -q "${ESC}\[31mOUT OF STOCK" "$TMP/al"
tty_run "NO_COLOR=1 '$I' --color=always alerts" >"$TMP/al"
check "--color=always wins over NO_COLOR" grep -q "${ESC}\[32mCLEARED" "$TMP/al"
tty_run "'$I' --color=never alerts" >"$TMP/al"
check "--color=never on a terminal: no colour" bash -c "! grep -q \$'\\033' '$TMP/al'"
"$I" --color=sometimes alerts >"$TMP/bad" 2>&1
check "--color=sometimes: exit 1" test $? -eq 1
# watch alerts, live: alerts raised until the watcher has printed two
timeout 30 "$I" --color=always watch alerts --count 2 >"$TMP/wal" 2>&1 &
w=$!
for i in $(seq 1 40); do
  kill -0 $w 2>/dev/null || break
  run update-stock p1 --stock 1 >/dev/null; run update-stock p1 --stock 20 >/dev/null
  sleep 0.1
done
wait $w
check "watch alerts --color=always: exit 0" test $? -eq 0
check "watch alerts --color=always: coloured kinds" grep -q "${ESC}\[3[23]m\(LOW STOCK\|CLEARED\)${ESC}\[0m" "$TMP/wal"

# 6. audit --tail over more than one page (100 lines a page).
for i in $(seq 1 130); do run view p2 >/dev/null; done
head=$(run --json history p2 | grep -o '"position": *[0-9]*' | tail -1 | sed 's/.*: *//')
for i in $(seq 1 100); do
  run --json audit --tail 1 >"$TMP/t" 2>&1; grep -q "\"position\": *$head\b" "$TMP/t" && break; sleep 0.1
done
run --json audit --tail 120 >"$TMP/t" 2>&1
same "audit --tail 120: the last 120 lines over two pages" <(positions "$TMP/t") \
  "$(seq -s' ' $((head - 119)) "$head")"

# 7. Bad input: a clear error, exit 1.
for bad in "--from -3" "--from x" "--exit-at-head" "alerts --from 1"; do
  # shellcheck disable=SC2086
  "$I" watch events $bad >"$TMP/bad" 2>&1 </dev/null; rc=$?
  [ "${bad%% *}" = alerts ] && { "$I" watch $bad >"$TMP/bad" 2>&1; rc=$?; }
  check "watch $bad: exit 1 with a reason" bash -c "[ $rc -eq 1 ] && grep -q 'invctl: watch' '$TMP/bad'"
done

finish
