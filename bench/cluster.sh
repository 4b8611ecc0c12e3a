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
[ "$(id -u)" = 0 ] || note "network namespaces need root"
command -v ip >/dev/null || note "the ip command (iproute2) is missing"
command -v openssl >/dev/null || note "the openssl command is missing"

tag=lb$$
ns1=${tag}a
ns2=${tag}b
work=$(mktemp -d /var/tmp/actors-bench.XXXXXX)
a1=10.252.$(($$ % 250)).1
a2=10.252.$(($$ % 250)).2
cleanup() {
  for ns in $ns1 $ns2; do
    pids=$(ip netns pids $ns 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  done
  sleep 0.2
  ip netns del $ns1 2>/dev/null
  ip netns del $ns2 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add $ns1 2>/dev/null || note "cannot create a network namespace"
ip netns add $ns2 || note "cannot create a second network namespace"
ip link add ${tag}0 type veth peer name ${tag}1 || note "cannot create a veth pair"
ip link set ${tag}0 netns $ns1
ip link set ${tag}1 netns $ns2
ip -n $ns1 addr add $a1/24 dev ${tag}0
ip -n $ns2 addr add $a2/24 dev ${tag}1
for ns in $ns1 $ns2; do ip -n $ns link set lo up; done
ip -n $ns1 link set ${tag}0 up
ip -n $ns2 link set ${tag}1 up

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
  -out ca.pem -days 2 -subj "/CN=bench-ca" 2>/dev/null || note "openssl cannot make a CA"
for n in h1 h2; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $n.key -out $n.csr \
    -subj "/CN=$n" 2>/dev/null &&
    openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 \
      2>/dev/null || note "openssl cannot make certificates"
done
on_host() { # ns command... : in the namespace, with a /tmp of its own
  local ns=$1
  shift
  ip netns exec $ns unshare -m --propagation private \
    sh -c 'mount -t tmpfs tmpfs /tmp && exec "$@"' sh "$@"
}

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
