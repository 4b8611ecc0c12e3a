#!/usr/bin/env bash
# The live view (on a terminal: script(1)) draws the supervision tree while
# the run goes on: each supervisor with its strategy, and under it each
# child with where it runs (a pid for one in its own process) and its
# restarts; the summary after it ends draws it too.
set -u
run=$1 file=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 60 script -qfec "'$run' --interval 100 '$file'" /dev/null >"$out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || { tr -d '\r' <"$out" | tail -30; echo "FAIL: exit code $rc"; exit 1; }
view=$(tr -d '\r' <"$out" | sed '/actors-run summary/,$d')
summary=$(tr -d '\r' <"$out" | sed -n '/actors-run summary/,$p')
grep -q "Ctrl-C stops everything" <<<"$view" || { echo "FAIL: no live view was drawn"; exit 1; }
grep -qE "^  pipeline: supervisor, one_for_all, at most 3 restarts in 10 s, [0-9]+ restarts made, running" <<<"$view" \
  || { echo "$view" | tail -20; echo "FAIL: the view does not show the root supervisor running"; exit 1; }
grep -qE "^      flaky-[123]: actor \(permanent\) in its own process \(pid [0-9]+\), running, [0-9]+ restarts" <<<"$view" \
  || { echo "$view" | tail -20; echo "FAIL: the view does not show a worker under workers, with its pid"; exit 1; }
grep -qE "^    tally: actor \(transient\) in actors-run, " <<<"$view" \
  || { echo "FAIL: the view does not show tally under pipeline"; exit 1; }
grep -qE "^supervision$" <<<"$summary" || { echo "FAIL: the summary has no supervision tree"; exit 1; }
echo PASS
