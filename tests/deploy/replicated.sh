# replicated.sh: what the shell tests of the launcher's replicated mode
# share (sourced after the `inventory-local env` lines; I is invctl).
#   CMD_EPS, RELAY_EPS  the lists of `env`, as arrays (host N at N - 1)
#   role_of N           host N's command-service role (active, standby), or
#                       nothing when it does not answer within 500 ms
#   active_host         the host whose command-service is active, or 0
#   wait_active N S     true once host N's command-service is active, within
#                       S seconds
# shellcheck shell=bash
IFS=, read -r -a CMD_EPS <<<"$INV_COMMAND_EP"
# shellcheck disable=SC2034 # RELAY_EPS: for the tests that source this
IFS=, read -r -a RELAY_EPS <<<"$INV_RELAY_EP"
role_of() { # N
  "$I" --json --timeout-ms 500 --command-ep "${CMD_EPS[$(($1 - 1))]}" status --daemon command 2>/dev/null |
    grep -o '"role":"[a-z]*"' | cut -d'"' -f4
}
active_host() {
  local i
  for i in 1 2 3; do
    [ "$(role_of "$i")" = active ] && { echo "$i"; return; }
  done
  echo 0
}
wait_active() { # N SECONDS
  local until=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$until" ]; do
    [ "$(role_of "$1")" = active ] && return 0
    sleep 0.2
  done
  return 1
}
