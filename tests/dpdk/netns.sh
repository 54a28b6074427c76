#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, for the DPDK + lwIP transport tests and
# benchmarks. Nothing is configured outside the two namespaces.
#
#   netns.sh up ID [kernel|tap]  create  mqd-ID-c (client, 10.99.0.1/24 on veth mqdc-ID)
#                                         mqd-ID-b (broker, veth mqdb-ID; no kernel address,
#                                                   unless "kernel": 10.99.0.2/24 for an epoll broker)
#                                "tap": both namespaces but no veth pair (ports.sh moves the
#                                broker's tap into the client namespace instead)
#   netns.sh down ID          delete both (and so the veth pair)
#   netns.sh names ID         print: client-ns broker-ns client-veth broker-veth
#
# ID: up to 8 characters [a-z0-9] (interface names are limited to 15).
set -euo pipefail

CLIENT_IP=10.99.0.1
BROKER_IP=10.99.0.2

cmd=${1:-}
id=${2:-}
[[ "$id" =~ ^[a-z0-9]{1,8}$ ]] || { echo "usage: $0 up|down|names ID [kernel|tap]" >&2; exit 2; }
cns="mqd-$id-c"
bns="mqd-$id-b"
cveth="mqdc-$id"
bveth="mqdb-$id"

down() {
  ip netns del "$cns" 2>/dev/null || true
  ip netns del "$bns" 2>/dev/null || true
}

case "$cmd" in
  names)
    echo "$cns $bns $cveth $bveth"
    ;;
  up)
    down
    trap 'down' ERR
    ip netns add "$cns"
    ip netns add "$bns"
    for ns in "$cns" "$bns"; do
      ip -n "$ns" link set lo up
      ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || true
    done
    if [ "${3:-}" = "tap" ]; then
      trap - ERR
      exit 0
    fi
    ip link add "$cveth" netns "$cns" type veth peer name "$bveth" netns "$bns"
    ip -n "$cns" addr add "$CLIENT_IP/24" dev "$cveth"
    ip -n "$cns" link set "$cveth" up
    ip -n "$bns" link set "$bveth" up
    # The kernel leaves TCP checksums to the (virtual) NIC; a user-level stack reading the frames
    # off the peer would see them unfinished and drop the segments. TSO goes off with it.
    ip netns exec "$cns" ethtool -K "$cveth" tx off >/dev/null
    if [ "${3:-}" = "kernel" ]; then
      ip -n "$bns" addr add "$BROKER_IP/24" dev "$bveth"
    else
      ip netns exec "$bns" ethtool -K "$bveth" tx off >/dev/null
    fi
    trap - ERR
    ;;
  down)
    down
    ;;
  *)
    echo "usage: $0 up|down|names ID [kernel|tap]" >&2
    exit 2
    ;;
esac
