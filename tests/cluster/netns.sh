#!/usr/bin/env bash
# One cluster test across two (or three) "hosts": network namespaces joined by a veth
# pair, each with a /tmp of its own (a mount namespace with a fresh tmpfs),
# so a process can reach the other host only through the network.
#
#   netns.sh <scenario> <cluster_program> <actors-node>
#
# Scenarios: basic, queue, sync, links, supervise, supervise_host_dies, three (a third host), map, map_host_dies,
# wrong_certificate, no_certificate, host_dies, partition, rejoin,
# plaintext_loopback (see tests/cluster/cluster_program.cpp for what
# the root checks). Exits 0 when it passed, 77 (skipped, with the reason)
# where namespaces cannot be made, 1 otherwise.
set -u
scenario=$1
prog=$(realpath "$2")
node=$(realpath "$3")

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAILED: $*"
  for f in "$work"/*.log; do
    echo "--- $f"
    cat "$f"
  done
  exit 1
}

. "$(dirname "$0")/hosts.sh"
trap hosts_cleanup EXIT
hosts_make 10.251.$(($$ % 250)) || skip "$hosts_why"
if [ "$scenario" = three ]; then
  hosts_third 10.252.$(($$ % 250)) || skip "$hosts_why"
fi
hosts_stage prog node || fail "cannot copy the programs"
port=7070

# The cluster's CA, a certificate for each host, and a rogue one.
cd "$work"
hosts_ca ca && hosts_ca rogue_ca || fail "openssl cannot make a CA"
hosts_cert root ca && hosts_cert h2 ca && hosts_cert h3 ca && hosts_cert rogue rogue_ca ||
  fail "openssl cannot make certificates"

root_pid=
start_root() { # scenario address certs hosts
  on_host $ns1 env CLUSTER_HEARTBEAT_MS=500 "$prog" "$1" "$2" $port "$3" "$4" >root.log 2>&1 &
  root_pid=$!
  for _ in $(seq 100); do
    grep -q LISTENING root.log && return 0
    sleep 0.1
  done
  fail "the root did not listen"
}
worker_pid=
start_worker() { # ns join extra-args... (the host's name: $worker_name, h2 by default)
  local ns=$1 join=$2
  shift 2
  on_host $ns "$node" --join "$join" --name "${worker_name:-h2}" --heartbeat-ms 500 "$@" \
    -- "$prog" >>worker.log 2>&1 &
  worker_pid=$!
}
wait_for() { # pattern file seconds
  for _ in $(seq $(($3 * 10))); do
    grep -q "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}
wait_exit() { # pid seconds -> its exit status, or 124 if it still runs
  for _ in $(seq $(($2 * 10))); do
    if ! kill -0 $1 2>/dev/null; then
      wait $1
      return $?
    fi
    sleep 0.1
  done
  return 124
}
tls_worker=(--cert "$work/h2.pem" --key "$work/h2.key" --ca "$work/ca.pem")
nothing_left() {
  sleep 0.5
  for ns in $ns1 $ns2 $ns3; do
    local left
    left=$(ip netns pids $ns 2>/dev/null)
    [ -z "$left" ] || fail "processes left behind in $ns: $(ps -o pid,args -p $left | tail -n +2)"
  done
}

case $scenario in
basic | map | queue | sync | links | supervise)
  start_root $scenario $addr1 "$work" 2
  start_worker $ns2 $addr1:$port "${tls_worker[@]}"
  wait_exit $root_pid 60
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  wait_exit $worker_pid 10
  rc=$?
  [ $rc = 0 ] || fail "the worker exited with $rc once the root stopped"
  nothing_left
  ;;
wrong_certificate)
  start_root alone $addr1 "$work" 2
  start_worker $ns2 $addr1:$port --cert "$work/rogue.pem" --key "$work/rogue.key" --ca "$work/ca.pem"
  wait_exit $worker_pid 30
  rc=$?
  [ $rc = 1 ] || fail "a worker with a certificate of another CA exited with $rc, not 1"
  grep -q "refused this host's TLS handshake" worker.log || fail "the worker's message"
  wait_exit $root_pid 30
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  # The root says so too, naming the address and the reason.
  grep -q "refused a TLS handshake from $addr2:.*signed by the cluster's CA" root.log ||
    fail "the root's message about the refused handshake"
  nothing_left
  ;;
no_certificate)
  start_root alone $addr1 "$work" 2
  # The tool refuses to start without certificates...
  on_host $ns2 "$node" --join $addr1:$port --name h2 -- "$prog" >>worker.log 2>&1
  rc=$?
  [ $rc = 2 ] || fail "actors-node without certificates exited with $rc, not 2"
  grep -q "give --cert, --key and --ca" worker.log || fail "the tool's message"
  # ... and plain TCP is for loopback only.
  on_host $ns2 "$node" --join $addr1:$port --name h2 --plaintext-loopback -- "$prog" \
    >>worker.log 2>&1
  rc=$?
  [ $rc = 1 ] || fail "a plaintext join of $addr1 exited with $rc, not 1"
  grep -q "not a loopback address" worker.log || fail "the plaintext refusal's message"
  wait_exit $root_pid 30
  grep -q PASSED root.log || fail "the root's checks"
  nothing_left
  ;;
host_dies | rejoin | map_host_dies | supervise_host_dies)
  start_root $scenario $addr1 "$work" 2
  start_worker $ns2 $addr1:$port "${tls_worker[@]}"
  wait_for READY root.log 30 || fail "the root never got ready"
  kill -9 $(ip netns pids $ns2)
  if [ $scenario = rejoin ]; then
    wait_for WAITING root.log 30 || fail "the root did not see h2 go"
    start_worker $ns2 $addr1:$port "${tls_worker[@]}"
  fi
  wait_exit $root_pid 60
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  if [ $scenario = rejoin ]; then
    wait_exit $worker_pid 10 || fail "the rejoined worker did not exit after the root"
  fi
  nothing_left
  ;;
three)
  # h2 and h3 each reach the root over a link of their own.
  start_root three 0.0.0.0 "$work" 3
  start_worker $ns2 $addr1:$port "${tls_worker[@]}"
  h2_pid=$worker_pid
  worker_name=h3 start_worker $ns3 $addr1b:$port --cert "$work/h3.pem" --key "$work/h3.key" \
    --ca "$work/ca.pem"
  wait_for READY root.log 60 || fail "the root never got ready"
  kill -9 $(ip netns pids $ns3)
  wait_exit $root_pid 60
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  wait_exit $h2_pid 10 || fail "h2 did not exit after the root"
  nothing_left
  ;;
partition)
  start_root partition $addr1 "$work" 2
  start_worker $ns2 $addr1:$port "${tls_worker[@]}"
  wait_for READY root.log 30 || fail "the root never got ready"
  ip -n $ns2 link set $if2 down
  wait_exit $root_pid 30
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  ms=$(sed -n 's/^DOWN after \([0-9]*\) ms.*/\1/p' root.log)
  [ -n "$ms" ] && [ "$ms" -le 3000 ] || fail "the partition was seen after ${ms:-?} ms, not within 3 s"
  # The cut-off worker sees it too, and ends.
  wait_exit $worker_pid 10
  rc=$?
  [ $rc = 0 ] || fail "the partitioned worker exited with $rc"
  nothing_left
  ;;
plaintext_loopback)
  start_root basic 127.0.0.1 plaintext 2
  start_worker $ns1 127.0.0.1:$port --plaintext-loopback
  wait_exit $root_pid 60
  rc=$?
  [ $rc = 0 ] || fail "the root exited with $rc"
  grep -q PASSED root.log || fail "the root's checks"
  wait_exit $worker_pid 10 || fail "the worker did not exit after the root"
  nothing_left
  ;;
*)
  fail "unknown scenario $scenario"
  ;;
esac
echo "PASSED: cluster.$scenario"
cat root.log
