# Two (or three) "hosts" on one machine, for the cluster's tests and benchmarks: network
# namespaces joined by a veth pair, each process in them with a /tmp of its
# own (a mount namespace with a fresh tmpfs), so only the network joins them.
# Sourced by tests/cluster/netns.sh and bench/cluster.sh.
#
#   hosts_make NET      makes $ns1 and $ns2 with $addr1 and $addr2 (NET.1 and
#                       NET.2, e.g. 10.251.7), and $work, a scratch folder;
#                       on failure returns 1 with the reason in $hosts_why
#   hosts_third NET     adds $ns3, joined to $ns1 by a veth pair of its own:
#                       $addr1b (NET.1) in $ns1, $addr3 (NET.3) in $ns3
#   hosts_cleanup       kills what runs in them and removes everything
#   hosts_ca NAME       a CA: NAME.pem, NAME.key in $work
#   hosts_cert NAME CA  NAME.pem, NAME.key signed by CA
#   on_host NS CMD...   runs CMD in namespace NS with a /tmp of its own
#   hosts_stage VAR...  copies the programs named by these variables into
#                       $work/bin and points the variables there: a program
#                       under /tmp (a clone built there) is hidden on a host
# Needs root, ip (iproute2), unshare and openssl.

hosts_tag=hx$$
ns1=${hosts_tag}a
ns2=${hosts_tag}b
ns3=${hosts_tag}c
if1=${hosts_tag}0
if2=${hosts_tag}1
if3=${hosts_tag}2
if4=${hosts_tag}3
work=
hosts_why=

hosts_cleanup() {
  for ns in $ns1 $ns2 $ns3; do
    local pids
    pids=$(ip netns pids $ns 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
  done
  sleep 0.2
  ip netns del $ns1 2>/dev/null
  ip netns del $ns2 2>/dev/null
  ip netns del $ns3 2>/dev/null
  ip link del $if1 2>/dev/null
  ip link del $if3 2>/dev/null
  [ -n "$work" ] && rm -rf "$work"
}

hosts_make() {
  local net=$1
  if [ "$(id -u)" != 0 ]; then hosts_why="network namespaces need root (ip netns add)"; return 1; fi
  for c in ip unshare openssl; do
    command -v $c >/dev/null || { hosts_why="the $c command is missing"; return 1; }
  done
  work=$(mktemp -d /var/tmp/actors-hosts.XXXXXX)
  addr1=$net.1
  addr2=$net.2
  if ! ip netns add $ns1 2>"$work/netns.err"; then
    hosts_why="cannot create a network namespace: $(cat "$work/netns.err")"
    return 1
  fi
  ip netns add $ns2 || { hosts_why="cannot create a second network namespace"; return 1; }
  ip -n $ns1 link set lo up
  hosts_link $ns1 $if1 $addr1 $ns2 $if2 $addr2
}

hosts_third() {
  local net=$1
  addr1b=$net.1
  addr3=$net.3
  ip netns add $ns3 || { hosts_why="cannot create a third network namespace"; return 1; }
  hosts_link $ns1 $if3 $addr1b $ns3 $if4 $addr3
}

# hosts_link NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth pair between two
# namespaces, a /24 address on each end, both up (and NS_B's loopback).
hosts_link() {
  ip link add $2 type veth peer name $5 || { hosts_why="cannot create a veth pair"; return 1; }
  ip link set $2 netns $1
  ip link set $5 netns $4
  ip -n $1 addr add $3/24 dev $2
  ip -n $4 addr add $6/24 dev $5
  ip -n $4 link set lo up
  ip -n $1 link set $2 up
  ip -n $4 link set $5 up
}

hosts_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/$1.key" -out "$work/$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null
}

hosts_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/$1.key" \
    -out "$work/$1.csr" -subj "/CN=$1" 2>/dev/null &&
    openssl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" -CAkey "$work/$2.key" \
      -CAcreateserial -out "$work/$1.pem" -days 2 2>/dev/null
}

on_host() {
  local ns=$1
  shift
  ip netns exec $ns unshare -m --propagation private \
    sh -c 'mount -t tmpfs tmpfs /tmp && exec "$@"' sh "$@"
}

hosts_stage() {
  mkdir -p "$work/bin"
  local v
  for v in "$@"; do
    cp "${!v}" "$work/bin/" || return 1
    printf -v "$v" '%s' "$work/bin/$(basename "${!v}")"
  done
}
