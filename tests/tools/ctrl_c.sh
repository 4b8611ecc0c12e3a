#!/usr/bin/env bash
# actors-run under Ctrl-C: SIGINT to actors-run alone stops every process it
# started within a few seconds, prints the summary and exits with 130.
set -u
run=$1 file=$2
out=$(mktemp)
"$run" --no-view "$file" >"$out" 2>&1 &
pid=$!
sleep 2
children=$(pgrep -P "$pid" | tr '\n' ' ')
kill -INT "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid"; rc=$?
cat "$out"
grep -q "stopped by Ctrl-C" "$out" || { echo "FAIL: no stop message"; exit 1; }
[ "$rc" -eq 130 ] || { echo "FAIL: exit code $rc, not 130"; exit 1; }
sleep 1
for c in $(pgrep -f "$run" || true); do
  if [ "$c" != "$$" ] && ps -o ppid= -p "$c" 2>/dev/null | grep -qw "$pid"; then
    echo "FAIL: process $c of actors-run still runs"; exit 1
  fi
done
leftover=$(ps -eo pid,args | grep -F "$run" | grep -v grep | grep -v ctrl_c.sh || true)
if [ -n "$leftover" ]; then echo "FAIL: left behind:"; echo "$leftover"; exit 1; fi
echo "PASS (children were: $children)"
rm -f "$out"
