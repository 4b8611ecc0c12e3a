#!/usr/bin/env bash
# actors-top on a terminal (script(1) gives it one): it starts in the actors
# view, '2' switches to the processes view, 'M' sorts it by RSS, 'q' quits
# with 0 (the test's time limit fails it if 'q' does not).
set -u
top=$1 probe=$2
pid=
fail() { echo "FAIL: $*"; [ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 1; }
out=$(mktemp) screen=$(mktemp)
"$probe" actors 30 >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.1; done
grep -q ready "$out" || { cat "$out"; fail "the probe did not start"; }
command -v script >/dev/null || fail "script(1) (util-linux) is missing"
(sleep 1.5; printf 2; sleep 1; printf M; sleep 1; printf q) \
  | TERM=xterm timeout 20 script -qfec "stty rows 30 cols 150; $top --interval 0.5 $pid" "$screen" \
      >/dev/null
rc=$?
text=$(sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$screen" | tr -s '\r' '\n')
echo "$text" | tail -20
[ "$rc" -eq 0 ] || fail "actors-top exited with $rc (124: 'q' did not quit it)"
grep -qF "[actors, sort none]" <<<"$text" || fail "it did not start in the actors view"
grep -qF "busy-2" <<<"$text" || fail "the actors view shows no busy-2"
grep -qF "[processes, sort none]" <<<"$text" || fail "'2' did not switch to the processes view"
grep -qF "[processes, sort rss]" <<<"$text" || fail "'M' did not sort by RSS"
kill "$pid"
wait "$pid" 2>/dev/null
echo PASS
