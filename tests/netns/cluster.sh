# The replicated system on hosts of tests/netns/hosts.sh (source this after
# hosts.sh and hosts_up): store hosts 1..CLUSTER_STORES each run a
# store-node, a command-service and an outbox-relay (--store dqlite:...);
# CLUSTER_SUB_HOST runs the projector, the query service, the audit and
# the alert daemons, subscribed to every relay.  CURVE on every ZeroMQ
# socket (one keyring, $CLUSTER_DIR/keys).  Used by test_replicated.sh and
# bench/replicated-run.
#   CLUSTER_BUILD       the build folder
#   CLUSTER_DIR         a scratch folder (data, logs)
#   CLUSTER_STORES      store hosts (3)
#   CLUSTER_SUB_HOST    the subscribers' host (4)
#   CLUSTER_LATENCY_MS  the store nodes' --latency-ms (20)
#   CLUSTER_CMD_FLAGS   more flags for each command-service
#   CLUSTER_NODE_FLAGS  more flags for each store node
# Functions: cluster_start, cluster_store_up I, cluster_subscribers_up,
# cluster_active (the host whose command-service is active, or 0),
# cluster_wait_active [SECONDS], cluster_active_ms I T0 (when host I's
# command-service went active after T0, from its log), cluster_kill I (kill -9 of host I's node,
# command-service and relay), cluster_stop (SIGTERM, exit codes checked by
# the caller through CLUSTER_PID).
# shellcheck shell=bash
CLUSTER_STORES=${CLUSTER_STORES:-3}
CLUSTER_SUB_HOST=${CLUSTER_SUB_HOST:-4}
CLUSTER_LATENCY_MS=${CLUSTER_LATENCY_MS:-20}
CLUSTER_CMD_FLAGS=${CLUSTER_CMD_FLAGS:-}
declare -gA CLUSTER_PID

_cluster_ep() { echo "tcp://$(host_ip "$1"):$2"; } # host port
_cluster_list() { # port: every store host's endpoint on it, comma-separated
  local i out=""
  for ((i = 1; i <= CLUSTER_STORES; i++)); do out+="${out:+,}$(_cluster_ep "$i" "$1")"; done
  echo "$out"
}

# The daemon's own pid (host_run's pid is timeout's).
_cluster_child() { pgrep -P "$1" | head -1; }

_cluster_run() { # host name binary args...
  local i=$1 name=$2 bin=$3
  shift 3
  host_run "$i" "$CLUSTER_BUILD/$bin" "$@" >>"$CLUSTER_DIR/$name.log" 2>&1
  CLUSTER_PID[$name]=$HOST_PID
}

cluster_start() {
  local i nodes=""
  mkdir -p "$CLUSTER_DIR"
  export INV_KEYS_DIR="$CLUSTER_DIR/keys"
  "$CLUSTER_BUILD/tools/invctl" keygen --init "$INV_KEYS_DIR" >/dev/null || return 1
  for ((i = 1; i <= CLUSTER_STORES; i++)); do nodes+="${nodes:+,}$(host_ip "$i"):9001"; done
  CLUSTER_STORE="dqlite:$nodes"
  INV_COMMAND_EP="$(_cluster_list 5550)"
  INV_EVENTS_EP="$(_cluster_list 5551)"
  INV_CATCHUP_EP="$(_cluster_list 5552)"
  INV_RELAY_EP="$INV_CATCHUP_EP"
  INV_QUERY_EP="$(_cluster_ep "$CLUSTER_SUB_HOST" 5553)"
  INV_PROJECTOR_EP="$(_cluster_ep "$CLUSTER_SUB_HOST" 5556)"
  INV_AUDIT_EP="$(_cluster_ep "$CLUSTER_SUB_HOST" 5554)"
  INV_ALERTS_EP="$(_cluster_ep "$CLUSTER_SUB_HOST" 5555)"
  INV_ALERT_API_EP="$(_cluster_ep "$CLUSTER_SUB_HOST" 5557)"
  export CLUSTER_STORE INV_COMMAND_EP INV_EVENTS_EP INV_CATCHUP_EP INV_RELAY_EP INV_QUERY_EP
  export INV_PROJECTOR_EP INV_AUDIT_EP INV_ALERTS_EP INV_ALERT_API_EP
  for ((i = 1; i <= CLUSTER_STORES; i++)); do
    cluster_store_up "$i" || return 1
  done
}

# Host I's store node (node 1 bootstraps, the others join it), then its
# command-service and relay.
cluster_store_up() { # I
  local i=$1 d="$CLUSTER_DIR/h$1" join=()
  mkdir -p "$d"
  [ "$i" -gt 1 ] && [ ! -d "$d/node" ] && join=(--join "$(host_ip 1):9001")
  _cluster_run "$i" "node$i" store-node/store-node --id "$i" --address "$(host_ip "$i"):9001" \
    --dir "$d/node" --latency-ms "$CLUSTER_LATENCY_MS" ${CLUSTER_NODE_FLAGS:-} "${join[@]}"
  sleep 0.5
  local common=(--db "$d/events.db" --store "$CLUSTER_STORE" --store-node "$(host_ip "$i"):9001")
  # shellcheck disable=SC2086 # CLUSTER_CMD_FLAGS: words
  _cluster_run "$i" "command$i" command-service/command-service "${common[@]}" \
    --bind "$(_cluster_ep "$i" 5550)" --nudge "ipc://$d/nudge" $CLUSTER_CMD_FLAGS
  _cluster_run "$i" "relay$i" outbox-relay/outbox-relay "${common[@]}" \
    --pub "$(_cluster_ep "$i" 5551)" --catchup "$(_cluster_ep "$i" 5552)" --nudge "ipc://$d/nudge"
}

cluster_subscribers_up() {
  local s=$CLUSTER_SUB_HOST d="$CLUSTER_DIR/h$CLUSTER_SUB_HOST"
  local feed=(--events "$INV_EVENTS_EP" --catchup "$INV_CATCHUP_EP")
  mkdir -p "$d"
  _cluster_run "$s" projector projector-service/projector-service --db "$d/read.db" "${feed[@]}" \
    --bind "$INV_PROJECTOR_EP"
  _cluster_run "$s" query query-service/query-service --db "$d/read.db" --bind "$INV_QUERY_EP"
  _cluster_run "$s" audit audit-service/audit-service --db "$d/audit.db" "${feed[@]}" \
    --bind "$INV_AUDIT_EP"
  _cluster_run "$s" alert alert-service/alert-service --db "$d/alerts.db" "${feed[@]}" \
    --bind "$INV_ALERT_API_EP" --pub "$INV_ALERTS_EP"
}

# The store host whose command-service says it is active (0: none), asked
# from the subscribers' host.
cluster_active() {
  local i out
  # every host asked at once: a dead one costs its timeout once, not before each other
  out="$(for ((i = 1; i <= CLUSTER_STORES; i++)); do
    { host_exec "$CLUSTER_SUB_HOST" "$CLUSTER_BUILD/tools/invctl" --timeout-ms 500 --json \
      --command-ep "$(_cluster_ep "$i" 5550)" status --daemon command 2>/dev/null |
      grep -q '"role":"active"' && echo "$i"; } &
  done; wait)"
  out="$(echo "$out" | sort -n | head -1)"
  echo "${out:-0}"
}

# ms from T0 (date +%s%N) until host I's command-service logged that it
# went active, read from its log (a poll adds its own delay); -1 if it did not.
cluster_active_ms() { # I T0
  local line t
  while read -r line; do
    t="$(date -d "${line%% *}" +%s%N 2>/dev/null)" || continue
    [ "$t" -ge "$2" ] && { echo $(((t - $2) / 1000000)); return 0; }
  done < <(grep "this host's node leads: active" "$CLUSTER_DIR/command$1.log")
  echo -1
}

cluster_wait_active() { # [seconds]: the active host, or 0 after the wait
  local k a
  for ((k = 0; k < ${1:-30} * 10; k++)); do
    a="$(cluster_active)"
    [ "$a" != 0 ] && { echo "$a"; return 0; }
    sleep 0.1
  done
  echo 0
}

cluster_kill() { # I: kill -9 of host I's node, command-service and relay
  local n p
  for n in "node$1" "command$1" "relay$1"; do
    p="$(_cluster_child "${CLUSTER_PID[$n]}")"
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null
  done
  return 0
}

cluster_stop() { # SIGTERM to every daemon; 0 when every one exited 0
  local n rc=0
  for n in "${!CLUSTER_PID[@]}"; do
    _hosts_running "${CLUSTER_PID[$n]}" || continue
    host_stop "${CLUSTER_PID[$n]}" || { echo "$n did not exit 0"; rc=1; }
  done
  return $rc
}
