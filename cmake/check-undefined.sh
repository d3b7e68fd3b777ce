#!/bin/sh
# check-undefined.sh LIBRARY PREFIX...: fails when the static library LIBRARY
# calls a function whose name starts with one of the PREFIXes (nm -u), so a
# layer cannot reach SQLite, ZeroMQ or msgpack-c even without its header.
lib="$1"; shift
status=0
for prefix in "$@"; do
  found=$(nm -u "$lib" 2>/dev/null | awk '{print $NF}' | grep "^$prefix" | sort -u)
  if [ -n "$found" ]; then
    echo "$lib: this layer must not call $prefix*: $(echo $found | tr '\n' ' ')" >&2
    status=1
  fi
done
exit $status
