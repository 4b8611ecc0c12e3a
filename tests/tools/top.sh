#!/usr/bin/env bash
# actors-top attaches to a running libactors program (actors-run with a
# topology) and shows its processes (with RSS), queues and threads; it exits cleanly
# and names the pid when asked about a process that is not one. --once has one
# sample, so no rate: n/a, not 0. --list names each program, not only its pid.
set -u
top=$1 run=$2 file=$3
"$run" --no-view --duration 4 "$file" >/dev/null 2>&1 &
pid=$!
sleep 1.5
out=$("$top" --once "$pid" 2>&1); rc=$?
echo "$out"
list=$("$top" --list 2>&1)
echo "$list"
wait "$pid"
[ "$rc" -eq 0 ] || { echo "FAIL: actors-top exited with $rc"; exit 1; }
for want in "actors-top: pid $pid (MainProcess)" "PROCESSES " "producer" "flaky-1" "flaky-2" \
            "QUEUES (mailboxes) 2" "THREADS " "LOCKS" "ACTORS 0"; do
  grep -qF "$want" <<<"$out" || { echo "FAIL: no '$want' in the snapshot"; exit 1; }
done
grep -qE "^  producer +[0-9]+ +running +forkserver +(yes|no) +n/a +[0-9]+\.[0-9]M$" <<<"$out" \
  || { echo "FAIL: producer row (with n/a CPU% and its RSS)"; exit 1; }
grep -qE "^  [0-9]+ +[0-9]+ +256 +n/a +n/a " <<<"$out" || { echo "FAIL: --once shows a rate, not n/a"; exit 1; }
grep -qE "^$pid +actors-run +[0-9]+ +.*actors-run --no-view --duration 4 " <<<"$list" \
  || { echo "FAIL: --list does not name pid $pid (actors-run)"; exit 1; }
"$top" --once $$ >/dev/null 2>&1 && { echo "FAIL: bash is not a libactors program"; exit 1; }
echo PASS
