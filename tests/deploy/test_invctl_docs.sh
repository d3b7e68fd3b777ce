#!/usr/bin/env bash
# invctl's help, man page and bash completion, from the real binary: help
# for each command three ways; the built invctl.1 and invctl.bash are what
# invctl prints now; the man page renders without a warning; the
# completion, sourced in bash, completes commands, options and names;
# `cmake --install` puts both where man and bash-completion look.
#   tests/deploy/test_invctl_docs.sh BUILD_DIR
set -uo pipefail
B="$(cd "${1:?usage: test_invctl_docs.sh BUILD_DIR}" && pwd)"
I="$B/tools/invctl"
TMP="$(mktemp -d /tmp/invdocs-XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=check.sh
. "$(dirname "$0")/check.sh"

# 1. help: the overview, a command's help three ways, an unknown command.
"$I" help >"$TMP/help" 2>&1
check "help exits 0 and lists watch" grep -q '^  watch ' "$TMP/help"
for c in sell products watch audit status store; do
  "$I" help "$c" >"$TMP/h1" 2>&1; r1=$?
  "$I" "$c" --help >"$TMP/h2" 2>&1; r2=$?
  "$I" "$c" -h >"$TMP/h3" 2>&1; r3=$?
  check "help $c: exit 0 three ways" test "$r1$r2$r3" = 000
  check "help $c: the same text three ways" bash -c "cmp -s '$TMP/h1' '$TMP/h2' && cmp -s '$TMP/h1' '$TMP/h3'"
  check "help $c: usage, options, exit codes, example" bash -c \
    "grep -q '^usage: invctl $c' '$TMP/h1' && grep -q '^Exit codes: ' '$TMP/h1' && grep -q '^Example:' '$TMP/h1'"
done
"$I" help no-such >"$TMP/bad" 2>&1
check "help of an unknown command exits 1" test $? -eq 1

# 2. The built files are what invctl prints.
"$I" help --man >"$TMP/invctl.1"
"$I" completion bash >"$TMP/invctl.bash"
check "build/tools/invctl.1 is current" cmp -s "$TMP/invctl.1" "$B/tools/invctl.1"
check "build/tools/invctl.bash is current" cmp -s "$TMP/invctl.bash" "$B/tools/invctl.bash"
"$I" completion zsh >/dev/null 2>&1
check "completion of another shell exits 1" test $? -eq 1

# 3. The man page renders without a warning.
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww -z "$TMP/invctl.1" 2>"$TMP/groff.err"
  check "groff renders invctl.1 without a warning" test ! -s "$TMP/groff.err"
  MANWIDTH=80 man -l "$TMP/invctl.1" >"$TMP/man.txt" 2>"$TMP/man.err"
  check "man -l shows NAME, COMMANDS, EXIT STATUS" bash -c \
    "grep -q '^NAME' '$TMP/man.txt' && grep -q '^COMMANDS' '$TMP/man.txt' && grep -q '^EXIT STATUS' '$TMP/man.txt'"
  check "man -l shows watch --exit-at-head" grep -q -- '--exit-at-head' "$TMP/man.txt"
else
  for s in '^\.TH INVCTL 1' '^\.SH NAME' '^\.SH SYNOPSIS' '^\.SH COMMANDS' '^\.SH EXIT STATUS'; do
    check "invctl.1 has $s" grep -q "$s" "$TMP/invctl.1"
  done
fi

# 4. The completion, in bash.
complete_of() { # words... (the last is the word being completed)
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
           _invctl; echo "${COMPREPLY[*]}"' _ "$TMP/invctl.bash" "$@"
}
expect() { # want words...
  local want=$1; shift
  local got; got="$(complete_of "$@")"
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); echo "ok   complete '$*' -> '$got'"
  else failed=$((failed + 1)); echo "FAIL complete '$*' -> '$got' (want '$want')"; fi
}
expect "watch" invctl wa
expect "events alerts" invctl watch ""
expect "--exit-at-head --events-ep --expected-version" invctl watch events --e
expect "command relay projector query audit alert" invctl status --daemon ""
expect "projector audit alert" invctl rebuild ""
expect "auto always never" invctl --color ""
expect "--qty --query-ep" invctl --timeout-ms 500 sell p1 --q
expect "sell" invctl --json sel
expect "beginning" invctl watch events --from b
expect "--tail" invctl audit --ta
expect "status join assign remove transfer" invctl store ""
expect "--store --server-key" invctl store status --s

# 5. cmake --install puts them where man and bash-completion look.
cmake --install "$B" --prefix "$TMP/prefix" >/dev/null 2>&1
check "installed share/man/man1/invctl.1" cmp -s "$TMP/invctl.1" "$TMP/prefix/share/man/man1/invctl.1"
check "installed share/bash-completion/completions/invctl" \
  cmp -s "$TMP/invctl.bash" "$TMP/prefix/share/bash-completion/completions/invctl"

finish
