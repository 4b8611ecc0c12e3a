#!/usr/bin/env bash
# The summary's items/s is one thing however the run ends: each group's
# average, from the start until it finished or was told to stop. Run with a
# terminal (script(1)), so the live view is drawn too.
# 1. A normal finish: the producer (1000 items at 2000/s, done after about
#    0.5 s) shows about 2000, not the rate since the view's last redraw (0).
# 2. Ctrl-C: an endless producer at 1000/s shows about 1000.
set -u
run=$1 dir=$2
summary_row() { # the summary's row for group $2 in file $1 (view escapes stripped)
  sed -n '/actors-run summary/,$p' "$1" | tr -d '\r' | grep -E "^$2 " | head -1
}
out=$(mktemp)
script -qfec "'$run' --interval 100 '$dir/rates.toml'" /dev/null >"$out" 2>&1
row=$(summary_row "$out" producer)
echo "finished: $row"
rate=$(awk '{print $6}' <<<"$row")
[ -n "$rate" ] && [ "$rate" -ge 1300 ] && [ "$rate" -le 2200 ] \
  || { tr -d '\r' <"$out" | tail -20; echo "FAIL: producer avg items/s '$rate' is not about 2000"; exit 1; }

script -qfec "exec '$run' --interval 100 '$dir/rates_endless.toml'" /dev/null >"$out" 2>&1 &
pid=$!
sleep 2.5
child=$(ps -o pid= --ppid "$pid" | tr -d ' ' | head -1) # actors-run, under script
[ -n "$child" ] || { echo "FAIL: actors-run did not start"; exit 1; }
kill -INT "$child"
wait "$pid"
row=$(summary_row "$out" producer)
echo "Ctrl-C: $row"
rate=$(awk '{print $6}' <<<"$row")
[ -n "$rate" ] && [ "$rate" -ge 700 ] && [ "$rate" -le 1100 ] \
  || { tr -d '\r' <"$out" | tail -20; echo "FAIL: producer avg items/s '$rate' is not about 1000"; exit 1; }
grep -q "stopped by Ctrl-C after" "$out" || { echo "FAIL: the summary does not say how the run ended"; exit 1; }
rm -f "$out"
echo PASS
