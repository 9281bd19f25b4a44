#!/bin/sh
# Greengrass Shutdown step of com.linesight.Inspector: SIGTERM the Run process (whose pid the Run
# step wrote) and wait until it has drained and exited. The nucleus kills what is left of Run as
# soon as Shutdown returns, so returning early would cut the drain short.
#   drain.sh PIDFILE
set -u
pidfile=$1
pid=$(cat "$pidfile" 2>/dev/null) || exit 0
case "$pid" in ''|*[!0-9]*) exit 0;; esac
kill -TERM "$pid" 2>/dev/null || exit 0
# Gone, or a zombie waiting for the nucleus to reap it: either way it has exited.
while kill -0 "$pid" 2>/dev/null; do
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
  [ "$state" = Z ] && break
  sleep 0.2
done
rm -f "$pidfile"
