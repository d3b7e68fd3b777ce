# check.sh: the tally the shell tests of tests/deploy share (sourced).
#   check NAME COMMAND...   runs COMMAND; "ok   NAME" or "FAIL NAME", counted
#   finish                  prints "N passed, M failed"; exits 1 on a failure
passed=0 failed=0
check() { # name command...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] || exit 1
  exit 0
}
