#!/usr/bin/env bash
# actors-top on a pool and on a program that only starts processes:
# - a pool of 2 workers, each busy with a long job (6 more waiting), shows
#   "running 2", not the jobs sent ahead to the workers;
# - a program that only starts processes has no control endpoint: actors-top
#   says ACTORS_CONTROL=on is what makes it visible, and with it, shows it.
set -u
top=$1 probe=$2
fail() { echo "FAIL: $*"; kill "$pid" 2>/dev/null; exit 1; }
start() { # runs the probe until it says "ready"
  out=$(mktemp)
  "$@" >"$out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$out" && return; sleep 0.1; done
  cat "$out"; fail "the probe did not start: $*"
}

start "$probe" pool 20
snap=$("$top" --once "$pid" 2>&1) || fail "actors-top exited with $?: $snap"
echo "$snap"
row=$(grep -A1 "^  workers" <<<"$snap" | tail -1)
read -r workers queued running _ <<<"$row"
[ "$workers" = 2 ] || fail "pool row '$row': workers $workers, not 2"
[ "$running" = 2 ] || fail "pool row '$row': running $running, not 2 (a pool of 2 runs 2 jobs)"
[ "$queued" = 6 ] || fail "pool row '$row': queued $queued, not 6"
kill "$pid"; wait "$pid" 2>/dev/null

start "$probe" processes 20
msg=$("$top" --once "$pid" 2>&1) && fail "actors-top found an endpoint that should not exist"
echo "$msg"
grep -qF "ACTORS_CONTROL=on" <<<"$msg" || fail "the hint does not name ACTORS_CONTROL=on"
grep -qF "not off" <<<"$msg" && fail "the hint still says 'ACTORS_CONTROL not off'"
kill "$pid"; wait "$pid" 2>/dev/null

ACTORS_CONTROL=on start "$probe" processes 20
snap=$("$top" --once "$pid" 2>&1) || fail "with ACTORS_CONTROL=on, actors-top exited with $?: $snap"
grep -qE "^  [^ ]+ +[0-9]+ +running +(fork|forkserver|spawn) " <<<"$snap" \
  || fail "with ACTORS_CONTROL=on, no child in: $snap"
kill "$pid"; wait "$pid" 2>/dev/null
echo PASS
