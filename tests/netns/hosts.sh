# shellcheck shell=bash
# hosts.sh: several hosts on one machine, as network namespaces, for tests
# and benchmarks of daemons on different hosts (sourced by bash; needs root).
#
#   <prefix>h1 ... <prefix>hN      one namespace per host: lo up, eth0 with
#      eth0 10.213.0.I/24          HOSTS_SUBNET.I/24, no default route
#        |  (veth pair)
#   <prefix>hub: bridge br0        the hub's own namespace, no address
#
# The prefix is inv<pid of the shell>, so parallel runs never meet.  Only
# the hosts' subnet is routed: nothing leaves it, nothing is added to the
# root namespace (both veth ends are made inside the namespaces).  Ports
# are per namespace, so every host can run a daemon on its default port.
# Processes run in a host with `ip netns exec`; the filesystem is shared.
#
#   hosts_require           exits 77 (ctest's skip) saying why, unless root
#                           with ip netns, iptables and ping
#   hosts_up N              makes hosts 1..N (N 1..9) and the hub, waits
#                           until host 1 reaches every other; sets an EXIT
#                           trap (hosts_down) and INT/TERM traps that exit.
#                           A script with its own EXIT trap sets it after
#                           hosts_up and calls hosts_down in it.  Removes
#                           first what a killed run left (namespaces of
#                           this harness whose shell is gone).
#   hosts_down              stops every process started here (SIGTERM,
#                           SIGKILL after 5 s), kills whatever else runs in
#                           the namespaces, deletes them.  Idempotent.
#   host_ns I / host_ip I   host I's namespace name / address
#   host_run I CMD...       CMD in host I in the background, under
#                           `timeout HOSTS_MAX_SECONDS` (it passes SIGTERM
#                           on and exits with CMD's status); its pid in
#                           HOST_PID (and $!), remembered for hosts_down.
#                           Redirections on the call apply to CMD.
#   host_exec I CMD...      CMD in host I in the foreground; its status
#   host_stop PID [SECS]    SIGTERM, SIGKILL after SECS (10); returns the
#                           process's exit status (a child of this shell)
#   host_delay I MICROS [MAX_QUEUE]
#                           host I holds every packet it sends to the
#                           subnet MICROS us (netdelay), in order; with
#                           every host at D, a round trip takes 2 x D more.
#                           At most MAX_QUEUE (65536) packets wait, more
#                           are dropped.  0 removes.  Its pid: HOST_DELAY_PID.
#   host_loss I PERCENT     host I loses PERCENT % (0..100) of the packets
#                           it receives from the others.  0 removes.
#   host_partition I        nothing passes between host I and the others
#                           (established TCP connections see silence, no
#                           reset, no error); host_heal I undoes it
#   host_cut I J            nothing passes between hosts I and J alone (a
#                           partial partition); host_mend I J undoes it
#   host_reachable I J      one ping from host I to host J answered in 1 s
#   host_equals_fresh I DIR NAME BIN LIVE_DB [ARGS...]
#                           a differential test of a subscriber daemon: BIN
#                           (its path under $BUILD_DIR) builds a fresh model
#                           from the log in host I (--mode once from
#                           $INV_EVENTS_EP and $INV_CATCHUP_EP, with ARGS)
#                           in DIR/fresh-NAME.db; true when its --mode dump
#                           is not empty and equals LIVE_DB's.  The files
#                           (DIR/fresh-NAME.log, NAME.live, NAME.fresh) stay
#                           in DIR; a failed build prints its log's tail.
#
# Settings (environment): HOSTS_SUBNET (10.213.0: the first three bytes of
# the /24), NETDELAY (the netdelay binary; default
# $BUILD_DIR/tests/netns/netdelay), HOSTS_MAX_SECONDS (600: whatever
# host_run and host_delay start ends by itself after this long, even when
# the script was killed before its EXIT trap could run).
#
# Why iptables and netdelay rather than tc netem: this kernel has no netem
# (CONFIG_NET_SCH_NETEM is not set).  Packets are dropped where they
# arrive, never where they are sent: a DROP in OUTPUT returns EPERM to the
# sender (ping says "Operation not permitted", TCP keeps the segment and
# retries), which a lossy or partitioned network never does.

HOSTS_SUBNET="${HOSTS_SUBNET:-10.213.0}"
HOSTS_MAX_SECONDS="${HOSTS_MAX_SECONDS:-600}"
_HOSTS_PREFIX="inv$$"
_HOSTS_N=0
_HOSTS_PIDS=()
_HOSTS_DELAY_PID=()
_HOSTS_TMP=""
HOST_PID=""
HOST_DELAY_PID=""

hosts_require() {
  local why="" tool probe="${_HOSTS_PREFIX}probe"
  [ "$(id -u)" -eq 0 ] || why="not root"
  for tool in ip iptables ping; do
    [ -n "$why" ] || command -v "$tool" >/dev/null || why="no $tool (deploy/install-deps.sh installs it)"
  done
  if [ -z "$why" ]; then
    if ! ip netns add "$probe" 2>/dev/null; then
      why="cannot make a network namespace (ip netns add)"
    elif ! ip netns exec "$probe" iptables -w -L INPUT >/dev/null 2>&1; then
      why="iptables does not work inside a network namespace"
    fi
    ip netns del "$probe" 2>/dev/null
  fi
  [ -z "$why" ] && return 0
  echo "SKIP: hosts as network namespaces need root, ip netns, iptables and ping: $why"
  exit 77
}

host_ns() { echo "${_HOSTS_PREFIX}h$1"; }
host_ip() { echo "$HOSTS_SUBNET.$1"; }
_hosts_hub() { echo "${_HOSTS_PREFIX}hub"; }

_hosts_check() { # I
  [[ "$1" =~ ^[1-9]$ ]] && [ "$1" -le "$_HOSTS_N" ] && return 0
  echo "hosts.sh: no host '$1' (hosts 1..$_HOSTS_N)" >&2
  return 1
}

# A namespace with IPv6 off (no router solicitations, no link-local
# chatter on the bridge) and lo up.
_hosts_netns_add() { # name
  ip netns add "$1" || return 1
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
  ip -n "$1" link set lo up
}

_hosts_link() { # I: host I's veth pair, its peer on the bridge, its address
  local i=$1 ns hub
  ns="$(host_ns "$i")"; hub="$(_hosts_hub)"
  _hosts_netns_add "$ns" &&
    ip -n "$hub" link add "h$i" type veth peer name eth0 netns "$ns" &&
    ip -n "$hub" link set "h$i" master br0 up &&
    ip -n "$ns" addr add "$(host_ip "$i")/24" dev eth0 &&
    ip -n "$ns" link set eth0 up
}

# The namespaces of runs whose shell is gone (killed before hosts_down):
# their processes are killed, the namespaces deleted.
_hosts_reap_stale() {
  local ns owner pids
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$ns" =~ ^inv([0-9]+)(h[1-9]|hub|probe)$ ]] || continue
    owner=${BASH_REMATCH[1]}
    if [ "$owner" = "$$" ] || kill -0 "$owner" 2>/dev/null; then continue; fi
    pids="$(ip netns pids "$ns" 2>/dev/null)"
    # shellcheck disable=SC2086 # one pid a word
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null && echo "hosts_up: removed $ns, left by a killed run" >&2
  done
}

hosts_up() { # N
  local n=$1 i k
  [[ "$n" =~ ^[1-9]$ ]] || { echo "hosts_up: 1..9 hosts, not '$n'" >&2; return 1; }
  [ "$_HOSTS_N" -eq 0 ] || { echo "hosts_up: the hosts are up already" >&2; return 1; }
  _HOSTS_N=$n # first, so that hosts_down cleans up after a half-made set
  trap hosts_down EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  _hosts_reap_stale
  _HOSTS_TMP="$(mktemp -d /tmp/invhosts-XXXXXX)" || return 1
  _hosts_netns_add "$(_hosts_hub)" || return 1
  ip -n "$(_hosts_hub)" link add br0 type bridge && ip -n "$(_hosts_hub)" link set br0 up || return 1
  for ((i = 1; i <= n; i++)); do
    _hosts_link "$i" || { echo "hosts_up: cannot make host $i" >&2; return 1; }
  done
  for ((i = 2; i <= n; i++)); do
    for ((k = 0; k < 50; k++)); do host_reachable 1 "$i" && break; done
    host_reachable 1 "$i" || { echo "hosts_up: host 1 does not reach host $i" >&2; return 1; }
  done
}

# True while the process exists and is not a zombie.
_hosts_running() { # pid
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

host_stop() { # pid [seconds]
  local pid=$1 t=${2:-10} k
  kill -TERM "$pid" 2>/dev/null
  for ((k = 0; k < t * 10; k++)); do
    _hosts_running "$pid" || break
    sleep 0.1
  done
  _hosts_running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

hosts_down() {
  local i pid ns k left
  [ "${_HOSTS_N:-0}" -gt 0 ] || return 0
  for pid in "${_HOSTS_PIDS[@]}"; do _hosts_running "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for pid in "${_HOSTS_PIDS[@]}"; do host_stop "$pid" 5; done
  for ((k = 0; k < 50; k++)); do # whatever else runs there: its children, strays
    left=""
    for ((i = 1; i <= _HOSTS_N; i++)); do
      left+="$(ip netns pids "$(host_ns "$i")" 2>/dev/null) "
    done
    [ -n "${left// /}" ] || break
    # shellcheck disable=SC2086 # one pid a word
    kill -KILL $left 2>/dev/null
    sleep 0.1
  done
  for ((i = 1; i <= _HOSTS_N; i++)); do
    ns="$(host_ns "$i")"
    ip netns del "$ns" 2>/dev/null
  done
  ip netns del "$(_hosts_hub)" 2>/dev/null
  [ -z "$_HOSTS_TMP" ] || rm -rf "$_HOSTS_TMP"
  _HOSTS_N=0 _HOSTS_PIDS=() _HOSTS_DELAY_PID=() _HOSTS_TMP=""
}

# CMD in host I in the background, remembered; its pid in HOST_PID.
_hosts_spawn() { # I CMD...
  local i=$1
  shift
  _hosts_check "$i" || return 1
  ip netns exec "$(host_ns "$i")" "$@" &
  HOST_PID=$!
  _HOSTS_PIDS+=("$HOST_PID")
}

host_run() { # I CMD...
  local i=$1
  shift
  _hosts_spawn "$i" timeout -k 5 "$HOSTS_MAX_SECONDS" "$@"
}

host_exec() { # I CMD...
  local i=$1
  shift
  _hosts_check "$i" || return 1
  ip netns exec "$(host_ns "$i")" "$@"
}

host_reachable() { # I J
  host_exec "$1" ping -n -q -c 1 -W 1 "$(host_ip "$2")" >/dev/null 2>&1
}

# iptables in host I; -w waits for the lock.
_hosts_ipt() { # I ARGS...
  local i=$1
  shift
  host_exec "$i" iptables -w "$@"
}

# Deletes host I's rules whose comment is TAG, in every chain.
_hosts_rules_del() { # I TAG
  local rule
  _hosts_ipt "$1" -S | grep -F -- "--comment $2" | sed 's/^-A /-D /' |
    while read -r rule; do
      # shellcheck disable=SC2086 # the rule's words, as iptables -S printed them
      _hosts_ipt "$1" $rule
    done
}

host_delay() { # I MICROS [MAX_QUEUE]
  local i=$1 us=$2 max=${3:-65536} log k
  _hosts_check "$i" || return 1
  [[ "$us" =~ ^[0-9]+$ ]] || { echo "host_delay: microseconds, not '$us'" >&2; return 1; }
  _hosts_rules_del "$i" inv-delay
  if [ -n "${_HOSTS_DELAY_PID[$i]:-}" ]; then
    host_stop "${_HOSTS_DELAY_PID[$i]}" 5
    _HOSTS_DELAY_PID[i]=""
  fi
  [ "$us" -gt 0 ] || return 0
  local bin="${NETDELAY:-${BUILD_DIR:-build}/tests/netns/netdelay}"
  [ -x "$bin" ] || { echo "host_delay: no netdelay at $bin (build it, or set NETDELAY)" >&2; return 1; }
  log="$_HOSTS_TMP/netdelay-h$i.log"
  _hosts_spawn "$i" "$bin" --queue "$i" --delay-us "$us" --max-queue "$max" --max-seconds "$HOSTS_MAX_SECONDS" >"$log" 2>&1
  _HOSTS_DELAY_PID[i]=$HOST_PID
  # shellcheck disable=SC2034 # for the sourcing script
  HOST_DELAY_PID=$HOST_PID
  for ((k = 0; k < 100; k++)); do
    grep -q "ready" "$log" && break
    _hosts_running "$HOST_PID" || break
    sleep 0.05
  done
  grep -q "ready" "$log" || { echo "host_delay: netdelay did not start in host $i:" >&2; cat "$log" >&2; return 1; }
  _hosts_ipt "$i" -A OUTPUT -o eth0 -d "$HOSTS_SUBNET.0/24" -m comment --comment inv-delay \
    -j NFQUEUE --queue-num "$i" --queue-bypass
}

host_loss() { # I PERCENT
  local i=$1 pct=$2
  _hosts_check "$i" || return 1
  if ! [[ "$pct" =~ ^[0-9]+$ ]] || [ "$pct" -gt 100 ]; then
    echo "host_loss: 0..100, not '$pct'" >&2
    return 1
  fi
  _hosts_rules_del "$i" inv-loss
  [ "$pct" -gt 0 ] || return 0
  _hosts_ipt "$i" -I INPUT 1 -i eth0 -m statistic --mode random \
    --probability "$(printf '0.%02d' "$pct" | sed 's/^0\.100$/1/')" -m comment --comment inv-loss -j DROP
}

# Host I drops all it receives; every other host drops what comes from I.
host_partition() { # I
  local i=$1 j
  _hosts_check "$i" || return 1
  host_heal "$i"
  _hosts_ipt "$i" -I INPUT 1 -i eth0 -m comment --comment "inv-part-h$i" -j DROP || return 1
  for ((j = 1; j <= _HOSTS_N; j++)); do
    [ "$j" -eq "$i" ] && continue
    _hosts_ipt "$j" -I INPUT 1 -i eth0 -s "$(host_ip "$i")" -m comment --comment "inv-part-h$i" -j DROP ||
      return 1
  done
}

host_heal() { # I
  local i=$1 j
  _hosts_check "$i" || return 1
  for ((j = 1; j <= _HOSTS_N; j++)); do _hosts_rules_del "$j" "inv-part-h$i"; done
}

# Each of the two drops what comes from the other.
host_cut() { # I J
  local i=$1 j=$2
  _hosts_check "$i" && _hosts_check "$j" || return 1
  [ "$i" != "$j" ] || { echo "host_cut: two different hosts" >&2; return 1; }
  host_mend "$i" "$j"
  _hosts_ipt "$i" -I INPUT 1 -i eth0 -s "$(host_ip "$j")" -m comment --comment "inv-cut-h$i-h$j" -j DROP &&
    _hosts_ipt "$j" -I INPUT 1 -i eth0 -s "$(host_ip "$i")" -m comment --comment "inv-cut-h$i-h$j" -j DROP
}

host_mend() { # I J
  local i=$1 j=$2
  _hosts_check "$i" && _hosts_check "$j" || return 1
  _hosts_rules_del "$i" "inv-cut-h$i-h$j"; _hosts_rules_del "$j" "inv-cut-h$i-h$j"
  _hosts_rules_del "$i" "inv-cut-h$j-h$i"; _hosts_rules_del "$j" "inv-cut-h$j-h$i"
}

host_equals_fresh() { # I DIR NAME BIN LIVE_DB ARGS...
  local i=$1 dir=$2 d=$3 bin=$4 live=$5
  shift 5
  host_exec "$i" "$BUILD_DIR/$bin" --db "$dir/fresh-$d.db" --events "$INV_EVENTS_EP" \
    --catchup "$INV_CATCHUP_EP" --mode once "$@" >"$dir/fresh-$d.log" 2>&1 || {
    tail -5 "$dir/fresh-$d.log"
    return 1
  }
  "$BUILD_DIR/$bin" --db "$live" --mode dump >"$dir/$d.live" &&
    "$BUILD_DIR/$bin" --db "$dir/fresh-$d.db" --mode dump >"$dir/$d.fresh" &&
    [ -s "$dir/$d.live" ] && cmp "$dir/$d.live" "$dir/$d.fresh"
}
