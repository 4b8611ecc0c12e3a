#!/usr/bin/env bash
# actors-top shows actors: the probe runs busy-1 in its own process and
# busy-2 in a child process (spawn(in_new_process)), each working through a
# mailbox of 5000 messages of 2 ms. Two samples 3 s apart must show:
# - both actors, with their type and pids (busy-2's pid is a child's, shown
#   in the processes view as busy-2, with CPU% and RSS);
# - a mailbox depth that is not empty and, for busy-1, shrinks by about what
#   msgs/s says (the messages run between the samples), at a rate an actor
#   sleeping 2 ms per message can reach (at most 500/s);
# - busy-1 restarted 3 times, under sup-1, as the probe recorded it with
#   set_supervision() (what a supervisor calls), in its row and in the tree;
# and --list names the program, once (the child is not a program of its own).
set -u
top=$1 probe=$2
pid=
fail() { echo "FAIL: $*"; [ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 1; }
out=$(mktemp)
"$probe" actors 30 >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.1; done
grep -q ready "$out" || { cat "$out"; fail "the probe did not start"; }

# 3 s apart: busy-2's process reads its messages in batches (between runs
# of busy-2), so its depth moves in steps.
every=3
snap=$(timeout 30 "$top" --batch -n 2 --interval $every "$pid" 2>&1) || fail "actors-top exited with $?: $snap"
echo "$snap"
first=$(awk '/^actors-top: pid/{n++} n==1' <<<"$snap")
second=$(awk '/^actors-top: pid/{n++} n==2' <<<"$snap")
[ -n "$second" ] || fail "-n 2 printed fewer than 2 snapshots"
grep -qE "^actors-top: pid $pid \(MainProcess\), up [0-9.]+ s, 2 nodes, 2 actors" <<<"$second" \
  || fail "title: not 2 nodes (the probe's and its child's) with 2 actors"
grep -qE "^ACTORS 2$" <<<"$second" || fail "not 2 actors"
grep -qE "^  busy-1 .* n/a " <<<"$first" || fail "the first sample shows a rate for busy-1, not n/a"

child=
for name in busy-1 busy-2; do
  row1=$(grep -E "^  $name " <<<"$first" | head -1)
  row2=$(grep -E "^  $name " <<<"$second" | head -1)
  [ -n "$row2" ] || fail "no row for actor $name"
  read -r _ type1 apid1 depth1 _ <<<"$row1"
  read -r _ type apid depth rate restarts sup <<<"$row2"
  [ "$type" = busy ] || fail "$name: type '$type', not busy"
  [ "$apid" = "$apid1" ] || fail "$name: pid changed from $apid1 to $apid"
  if [ "$name" = busy-1 ]; then
    [ "$apid" = "$pid" ] || fail "busy-1 runs in the probe ($pid), not in $apid"
  else
    [ "$apid" != "$pid" ] && [ "$apid" -gt 0 ] || fail "busy-2 runs in a child, not in $apid"
    child=$apid
  fi
  [[ "$rate" =~ ^[0-9]+$ ]] || fail "$name: msgs/s '$rate' is not a number"
  [ "$rate" -ge 50 ] && [ "$rate" -le 500 ] || fail "$name: $rate msgs/s (2 ms each: 50..500)"
  [ "$depth" -gt 0 ] && [ "$depth" -lt 5000 ] || fail "$name: depth $depth, not in 1..4999"
  # busy-1's messages were all posted before "ready"; busy-2's still arrive
  # (its process reads them between messages), so only busy-1's depth must
  # fall by what it ran.
  ran=$((depth1 - depth))
  if [ "$name" = busy-1 ] && { [ "$ran" -lt $((rate * every / 2)) ] || [ "$ran" -gt $((rate * every * 2)) ]; }; then
    fail "$name: depth went $depth1 -> $depth ($ran run in ${every} s) at $rate msgs/s"
  fi
  want="0 -"
  [ "$name" = busy-1 ] && want="3 sup-1" # as the probe recorded it
  [ "$restarts $sup" = "$want" ] || fail "$name: restarts '$restarts', supervisor '$sup', not $want"
done

grep -A2 "^SUPERVISION" <<<"$second" | tr -s ' ' | tr '\n' '|' \
  | grep -qF "SUPERVISION| sup-1| busy-1 (busy, pid $pid, restarts 3)|" \
  || fail "the supervision tree does not show busy-1 under sup-1"

prow=$(grep -E "^  busy-2 +$child " <<<"$second")
grep -qE "^  busy-2 +$child +running +[a-z]+ +yes +[0-9]+\.[0-9] +[0-9]+\.[0-9]M$" <<<"$prow" \
  || fail "no process row for busy-2 (pid $child) with CPU% and RSS: '$prow'"
grep -qE "^  MainProcess +$pid +running .* [0-9]+\.[0-9] +[0-9]+\.[0-9]M$" <<<"$second" \
  || fail "no process row for the probe with CPU% and RSS"

# Sorted by depth, the fuller mailbox comes first.
sorted=$(timeout 30 "$top" --once --sort depth "$pid" 2>&1) || fail "--sort depth: $sorted"
d=$(awk '/^ACTORS/{on=1; getline; next} on && /^  busy/{print $4} /^$/{on=0}' <<<"$sorted")
[ "$(sort -rn <<<"$d")" = "$d" ] || fail "--sort depth: depths not biggest first: $d"

list=$(timeout 30 "$top" --list 2>&1)
echo "$list"
grep -qE "^$pid +top_probe +[0-9]+ +.*top_probe actors 30$" <<<"$list" \
  || fail "--list does not name pid $pid top_probe"
grep -qE "^$child " <<<"$list" && fail "--list shows the child $child as a program"

kill "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && { kill -9 "$child"; fail "the child $child outlived the probe"; }
echo PASS
