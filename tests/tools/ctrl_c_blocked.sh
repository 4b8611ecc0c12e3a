#!/usr/bin/env bash
# Ctrl-C stops a producer blocked on a full queue, and a sink in the middle
# of a 5 s delay, within the documented 100 ms: actors-run exits well before
# its 2 s grace period would end, and nothing is terminated (exit codes 0).
set -u
run=$1 file=$2
out=$(mktemp)
"$run" --no-view "$file" >"$out" 2>&1 &
pid=$!
sleep 1.5
t0=$(date +%s%N)
kill -INT "$pid"
wait "$pid"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$out"
echo "actors-run exited $ms ms after Ctrl-C"
[ "$rc" -eq 130 ] || { echo "FAIL: exit code $rc, not 130"; exit 1; }
grep -q "did not stop" "$out" && { echo "FAIL: a process had to be terminated"; exit 1; }
grep -qE "^producer +process +0 +0 +[0-9]+ +[0-9]+ +0$" "$out" || { echo "FAIL: producer row"; exit 1; }
grep -qE "^slow +process +0 +0 +[0-9]+ +[0-9]+ +0$" "$out" || { echo "FAIL: slow row"; exit 1; }
[ "$ms" -lt 1000 ] || { echo "FAIL: stopping took $ms ms"; exit 1; }
rm -f "$out"
echo PASS
