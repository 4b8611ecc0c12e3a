#!/usr/bin/env bash
# actors-run under Ctrl-C: SIGINT to actors-run alone stops every process it
# started (its whole process tree) within a few seconds, prints the summary
# and exits with 130.
set -u
run=$1 file=$2
out=$(mktemp)
"$run" --no-view "$file" >"$out" 2>&1 &
pid=$!
sleep 2
descendants() { # every process below $1
  for c in $(ps -o pid= --ppid "$1"); do echo "$c"; descendants "$c"; done
}
tree=$(descendants "$pid" | tr '\n' ' ')
[ -n "$tree" ] || { echo "FAIL: actors-run started nothing"; exit 1; }
kill -INT "$pid"
wait "$pid"; rc=$?
cat "$out"
grep -q "stopped by Ctrl-C" "$out" || { echo "FAIL: no stop message"; exit 1; }
rm -f "$out"
[ "$rc" -eq 130 ] || { echo "FAIL: exit code $rc, not 130"; exit 1; }
sleep 1
for p in $tree; do
  if [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
    echo "FAIL: process $p of actors-run still runs: $(tr '\0' ' ' < /proc/$p/cmdline)"; exit 1
  fi
done
echo "PASS: processes $tree are gone"
