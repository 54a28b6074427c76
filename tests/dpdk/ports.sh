#!/usr/bin/env bash
# How each DPDK port type (PMD) is wired into the two namespaces of netns.sh, for the tests and
# the benchmark. In every case the clients are in the client namespace and reach the broker's
# lwIP at 10.99.0.2 from 10.99.0.1; only the path in between differs:
#
#   af_packet  broker's net_af_packet port on the broker end of the veth pair
#   af_xdp     broker's net_af_xdp port on the broker end of the veth pair (XDP socket, copy mode)
#   tap        broker's net_tap port: DPDK creates the kernel tap mqdt-ID in the broker namespace;
#              `attach` moves it into the client namespace and gives it 10.99.0.1 (no veth pair)
#   memif      broker's net_memif port as memif server on a socket in DIR; `peer` runs
#              dpdk-testpmd in io forwarding mode between a memif client port on that socket and
#              a net_af_packet port on the broker end of the veth pair
#
#   ports.sh link PMD              print the netns.sh link mode: "veth" or "tap" (no veth pair)
#   ports.sh vdev PMD ID DIR       print the broker's --vdev EAL argument
#   ports.sh attach PMD ID         after the broker has started (tap: move and address the tap)
#   ports.sh peer PMD ID DIR       memif: exec dpdk-testpmd (runs until SIGTERM); others: nothing
#   ports.sh clean any ID          remove the EAL runtime directories of run ID (see below)
#
# EAL file prefixes: mqdID (test broker), mqbID (benchmark broker), mqpID (testpmd). EAL makes
# /var/run/dpdk/PREFIX even with --no-shconf and leaves it behind (empty) at exit.
set -euo pipefail

CLIENT_IP=10.99.0.1
cmd=${1:-}
pmd=${2:-}
id=${3:-}
dir=${4:-}
usage() { echo "usage: $0 link|vdev|attach|peer|clean PMD [ID [DIR]]" >&2; exit 2; }
case "$pmd" in af_packet|af_xdp|tap|memif) ;; any) [ "$cmd" = clean ] || usage ;; *) usage ;; esac
[ "$cmd" = link ] || [[ "$id" =~ ^[a-z0-9]{1,8}$ ]] || usage
here=$(dirname "$0")
if [ "$cmd" != link ]; then
  read -r cns bns _ bveth < <(bash "$here/netns.sh" names "$id")
fi
tap="mqdt-$id"

case "$cmd" in
  link)
    if [ "$pmd" = tap ]; then echo tap; else echo veth; fi
    ;;
  vdev)
    case "$pmd" in
      af_packet) echo "--vdev=net_af_packet0,iface=$bveth" ;;
      af_xdp) echo "--vdev=net_af_xdp0,iface=$bveth" ;;
      tap) echo "--vdev=net_tap0,iface=$tap" ;;
      memif)
        [ -n "$dir" ] || usage
        # socket-abstract=no: a file the caller's temporary directory owns (and removes).
        echo "--vdev=net_memif0,role=server,socket=$dir/memif.sock,socket-abstract=no" ;;
    esac
    ;;
  attach)
    if [ "$pmd" = tap ]; then
      # The tap's kernel side stands for the clients' host. Moving it keeps DPDK's file
      # descriptor attached; the device disappears when the broker closes it.
      ip -n "$bns" link set "$tap" netns "$cns"
      ip -n "$cns" addr add "$CLIENT_IP/24" dev "$tap"
      ip -n "$cns" link set "$tap" up
    fi
    ;;
  peer)
    if [ "$pmd" = memif ]; then
      [ -n "$dir" ] || usage
      # io forwarding copies nothing and rewrites no address: frames pass as they are between
      # the memif and the veth. --stats-period keeps it forwarding until a signal (without it,
      # testpmd exits at the end of stdin). Two lcores (main + forwarding) share both CPUs.
      exec ip netns exec "$bns" dpdk-testpmd --no-huge --no-pci --no-shconf --no-telemetry -m 128 \
        --lcores '(0,1)@(0,1)' --file-prefix "mqp$id" \
        "--vdev=net_memif0,role=client,socket=$dir/memif.sock,socket-abstract=no" \
        "--vdev=net_af_packet0,iface=$bveth" \
        -- --forward-mode=io --auto-start --total-num-mbufs=4096 --stats-period 3600
    fi
    ;;
  clean)
    for prefix in "mqd$id" "mqb$id" "mqp$id"; do
      rmdir "/var/run/dpdk/$prefix" 2>/dev/null || true  # only if empty: never what EAL still uses
    done
    ;;
  *) usage ;;
esac
