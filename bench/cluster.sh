#!/usr/bin/env bash
# The cluster's benchmarks across two "hosts": network namespaces joined by
# a veth pair. Runs build/bench/cluster_bench as the root in one namespace,
# the same program as a worker host (through actors-node) in the other, and
# the CAF peer's server beside it, all with TLS files made here.
#   bench/cluster.sh <build-dir> [--quick]
# Prints cluster_bench's JSON lines. Where namespaces cannot be made (not
# root, no ip), it says why on stderr and prints nothing.
set -u
build=$1
shift
bin=$build/bench/cluster_bench
peer=$build/bench/caf_peer_bench
node=$build/tools/actors-node
note() { echo "bench/cluster.sh: $*; no cluster figures" >&2; exit 0; }
. "$(dirname "$0")/../tests/cluster/hosts.sh"
trap hosts_cleanup EXIT
hosts_make 10.252.$(($$ % 250)) || note "$hosts_why"
hosts_stage bin peer node || note "cannot copy the programs"
export CAF_PEER_BENCH=$peer # cluster_bench runs it from the root's host
a1=$addr1
a2=$addr2
cd "$work"
hosts_ca ca && hosts_cert h1 ca && hosts_cert h2 ca || note "openssl cannot make certificates"

# The CAF peer's server on h2, until its stdin (this fifo) closes.
mkfifo caf.in
on_host $ns2 "$peer" --serve $a2 7071 --tls "$work" <caf.in >caf.out 2>caf.err &
exec 3>caf.in
on_host $ns1 "$bin" $a1 7070 "$work" $a2 7071 "$@" >root.out 2>root.err &
root=$!
for _ in $(seq 100); do
  grep -q LISTENING root.out && break
  sleep 0.1
done
on_host $ns2 "$node" --join $a1:7070 --name h2 --cert h2.pem --key h2.key --ca ca.pem \
  -- "$bin" >worker.out 2>&1 &
if ! wait $root; then
  echo "bench/cluster.sh: cluster_bench failed:" >&2
  cat root.err worker.out caf.err >&2
fi
grep '^{' root.out
exec 3>&-
