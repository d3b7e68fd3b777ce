# Sourced by the shell tests: check NAME COMMAND... runs the command and
# counts it passed or failed, one "ok"/"FAIL" line each; checks_done prints
# the tally and returns non-zero when anything failed.
passed=0 failed=0
check() { # name command...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; fi
}
checks_done() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
