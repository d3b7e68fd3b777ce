#!/usr/bin/env bash
# A client in another language from docs/protocol.md alone: the pyzmq block
# of section 13 (Security), taken from the document and run as written but
# for the key file, the keyring folder and the endpoint, against the real
# daemons (deploy/inventory-local, secure by default, Unix sockets of its
# own), with a reader key made and allowed as the section says.
#   tests/deploy/test_pyzmq_client.sh BUILD_DIR
set -uo pipefail
BUILD_DIR="$(cd "${1:?usage: test_pyzmq_client.sh BUILD_DIR}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TMP="$(mktemp -d /tmp/pyzmq-XXXXXX)"
export BUILD_DIR INV_TRANSPORT=ipc PORT_BASE=$(( 20000 + ($$ + 11) % 20000 )) DATA_DIR="$TMP/data"
L="$SRC/deploy/inventory-local"
I="$BUILD_DIR/tools/invctl"
cleanup() { "$L" stop >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"
# Debian's python3, where python3-zmq and python3-msgpack install (a python3
# of pyenv's may come first on PATH).
PY=/usr/bin/python3
"$PY" -c 'import zmq, msgpack' 2>/dev/null || { echo "python3-zmq and python3-msgpack are needed (deploy/install-deps.sh)"; exit 1; }
"$L" start >"$TMP/start.out" 2>&1 || { cat "$TMP/start.out"; echo "0 passed, 1 failed"; exit 1; }
eval "$("$L" env)"
"$I" register-supplier --id s1 --name Acme >/dev/null
"$I" --wait create-product --id p1 --sku A1 --name Hammer --supplier s1 --price 1999 --cost 1200 \
  --stock 10 --threshold 5 >/dev/null

# The example as the document has it.
awk '/With pyzmq/ { want = 1 } want && /^```python/ { on = 1; next } on && /^```/ { exit } on' \
  "$SRC/docs/protocol.md" > "$TMP/doc.py"
check "the document has the pyzmq example" grep -q "curve_serverkey" "$TMP/doc.py"
sed -e "s|\"me.key\"|\"$TMP/me.key\"|" -e "s|\"data/keys/query.pub\"|\"$DATA_DIR/keys/query.pub\"|" \
  -e "s|\"tcp://127.0.0.1:5553\"|\"$INV_QUERY_EP\"|" "$TMP/doc.py" > "$TMP/client.py"
# never more than 10 s, whatever the server does
sed -i 's|^s.connect(|s.rcvtimeo = 10000\ns.connect(|' "$TMP/client.py"

# Before its key is allowed: refused (no answer).
"$I" keygen --role reader --name py-client --out "$TMP/me.key" > "$TMP/keygen.out"
check "keygen wrote the key pair 0600" test "$(stat -c %a "$TMP/me.key")" = 600
check "a key not on the list gets no answer" bash -c "! timeout 20 $PY '$TMP/client.py' >'$TMP/refused.out' 2>&1"
grep '^reader ' "$TMP/keygen.out" >> "$DATA_DIR/keys/allow"
"$I" reload-keys >"$TMP/reload.out" 2>&1
check "the operator reloaded every allow-list" test $? -eq 0
check "the example gets the products" bash -c "timeout 20 $PY '$TMP/client.py' >'$TMP/ok.out' 2>&1 && grep -q 'p1' '$TMP/ok.out'"
# As a reader it may not sell.
sed -e 's|{"type": "ListProducts", "limit": 5}|{"type": "SellProduct", "command_id": "py-1", "data": {"product_id": "p1", "quantity": 1}}|' \
  -e "s|\"$INV_QUERY_EP\"|\"$INV_COMMAND_EP\"|" -e "s|keys/query.pub|keys/command.pub|" "$TMP/client.py" > "$TMP/sell.py"
check "a reader's command is forbidden" bash -c "timeout 20 $PY '$TMP/sell.py' 2>&1 | grep -q 'forbidden: role reader cannot SellProduct'"
finish
