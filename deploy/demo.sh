#!/usr/bin/env bash
# demo.sh: a short tour of the running system with invctl.
#   deploy/inventory-local start && deploy/demo.sh
#   docker compose -f deploy/docker-compose.yml up -d && deploy/demo.sh
# Ids carry a per-run suffix, so the demo can run again on the same data.
# INVCTL overrides the client binary (default: build/tools/invctl, then PATH);
# the INV_*_EP variables choose the endpoints as usual; arguments to demo.sh
# are passed to every invctl call (e.g. deploy/demo.sh --timeout-ms 2000).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INVCTL="${INVCTL:-}"
if [ -z "$INVCTL" ]; then
  if [ -x "$HERE/../build/tools/invctl" ]; then INVCTL="$HERE/../build/tools/invctl"
  elif command -v invctl >/dev/null; then INVCTL="$(command -v invctl)"
  else echo "demo: invctl not found (build it or set INVCTL)" >&2; exit 1
  fi
fi

SUF="$(date +%s)"
S="demo-s-$SUF"
P="demo-p-$SUF"
CORR="demo-$SUF"

step() { printf '\n== %s\n' "$*"; }
EXTRA=("$@")
show() { printf '$ invctl'; printf ' %q' "$@"; printf '\n'; }
# A step the demo needs: stop when it fails.
must() {
  show "$@"
  "$INVCTL" "$@" "${EXTRA[@]}" || { echo "demo: this step failed (exit $?); stopping" >&2; exit 1; }
}
# A step that may not be implemented yet: report and go on.
try() {
  show "$@"
  "$INVCTL" "$@" "${EXTRA[@]}" || echo "   (exit $?: not available yet or failed; going on)"
}

step "Who is up?"
try status

step "Register a supplier and create a product (stock 40, low-stock threshold 10)"
must register-supplier --id "$S" --name "Demo Supplies $SUF" --correlation-id "$CORR"
must create-product --id "$P" --sku "SKU-$SUF" --name "Demo Widget" \
  --description "A blue widget for the demo" --supplier "$S" \
  --price 1999 --cost 1200 --stock 40 --threshold 10 --correlation-id "$CORR"

step "Sell 35: stock 40 -> 5 crosses the threshold (wait until the query side has it)"
try sell "$P" --qty 35 --wait --correlation-id "$CORR"

step "Selling more than the stock is rejected (exit 2, nothing written)"
show sell "$P" --qty 50 --correlation-id "$CORR"
if "$INVCTL" sell "$P" --qty 50 --correlation-id "$CORR" "${EXTRA[@]}"; then
  echo "demo: selling 50 of 5 was accepted; that is a bug" >&2; exit 1
else
  echo "   (rejected as expected: exit $?)"
fi

step "The product, from the query service"
try product "$P"

sleep 1   # the audit and alert services are subscribers too: give them a moment
step "Audit lines of the product"
try audit --stream "product-$P"

step "Low-stock alerts for the product"
try alerts --product "$P"

step "Reviews, a price drop, a supplier rename (read models of issue 3)"
try review "$P" --review-id "r1-$SUF" --customer "alice" --rating 5 --comment "Works great" \
  --correlation-id "$CORR"
try review "$P" --review-id "r2-$SUF" --customer "bob" --rating 4 --comment "Good value" \
  --correlation-id "$CORR"
try review "$P" --review-id "r3-$SUF" --customer "carol" --rating 5 --comment "Third review: now it is top rated" \
  --correlation-id "$CORR"
try change-price "$P" --price 1499 --correlation-id "$CORR"
try rename-supplier --id "$S" --name "Demo Supplies Renamed $SUF" --wait --correlation-id "$CORR"

step "The product again: reviews, price drop, new supplier name"
try product "$P"

step "Search, top rated, price history, dashboard"
try search "widget"
try top-rated
try price-history "$P"
try dashboard

step "The product's event stream, and everything this demo did (by correlation id)"
try history "$P"
try audit --correlation-id "$CORR"

printf '\ndemo done: supplier %s, product %s, correlation id %s\n' "$S" "$P" "$CORR"
