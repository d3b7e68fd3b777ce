#!/usr/bin/env bash
# quickstart: from a fresh clone on Debian 12, install what is missing, build,
# start every daemon as a local process (data in ./data), run the demo, and
# show what the audit and low-stock alert daemons printed.
#   deploy/quickstart.sh            (again: restarts the daemons, keeps ./data)
# Stop with: deploy/inventory-local stop
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target command-service outbox-relay projector-service \
  query-service audit-service alert-service invctl invbench >/dev/null
echo "built: build/"
deploy/inventory-local stop data >/dev/null 2>&1 || true
deploy/inventory-local start data
deploy/demo.sh
printf '\n== What the audit daemon printed (data/audit.log, stdout lines)\n'
grep -v ' INFO \| WARN \| ERROR \| DEBUG \|^=== ' data/audit.log | tail -n 12 || true
printf '\n== What the alert daemon printed (data/alert.log)\n'
grep -E 'LOW STOCK|OUT OF STOCK|CLEARED' data/alert.log | tail -n 6 || true
cat <<'MSG'

The system is running (deploy/inventory-local status).  invctl is
build/tools/invctl (export PATH="$PWD/build/tools:$PATH" puts it on your PATH).  Try:
  build/tools/invctl products
  build/tools/invctl watch events        # in another terminal, live
  build/tools/invctl watch alerts
  deploy/inventory-local logs            # audit lines and alerts as they happen
  deploy/inventory-local stop
MSG
