#!/usr/bin/env bash
# Compares the DPDK + lwIP transport, on each DPDK port type, with the epoll transport in the
# two-namespace setup of tests/dpdk/netns.sh: musqratt-bench runs in the client namespace
# against 10.99.0.2, served either by `--transport dpdk` on a port wired by tests/dpdk/ports.sh
# (af_packet, af_xdp, tap, memif) or by the epoll broker on the kernel's address of the veth
# pair. Prints one markdown table row per scenario and broker.
# Needs root and build-dpdk/ (scripts/build-dpdk.sh).
#   DURATION   seconds per run (default 10)
#   KINDS      brokers, in order (default "af_packet af_xdp tap memif epoll"); a DPDK kind with
#              the suffix -sleep runs with dpdk_idle_sleep_us = 50 instead of busy-polling
#   SCENARIOS  "pmd" (default: latency at 5 000 msg/s, QoS 0 throughput) or "all"
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build-dpdk/bin
id=b$(printf '%x' $$)
dur=${DURATION:-10}
read -r cns bns cveth bveth < <(bash tests/dpdk/netns.sh names "$id")
bpid=""
peer_pid=""
sockdir=$(mktemp -d /tmp/musqratt-bench-dpdk.XXXXXX)
cleanup() {
  stop_broker
  bash tests/dpdk/ports.sh clean any "$id"
  rm -rf "$sockdir"
}
trap cleanup EXIT

start_broker() {  # kind: epoll | PMD | PMD-sleep
  local kind=$1
  if [ "$kind" = epoll ]; then
    bash tests/dpdk/netns.sh up "$id" kernel
    ip netns exec "$bns" "$bin/musqratt" --listen 10.99.0.2:1883 --threads 1 --allow-anonymous true \
      --sys-interval 0 --log-level warn &
    bpid=$!
  else
    local pmd=${kind%-sleep} sleep_us=0
    [ "$kind" != "$pmd" ] && sleep_us=50
    bash tests/dpdk/netns.sh up "$id" "$(bash tests/dpdk/ports.sh link "$pmd")"
    ip netns exec "$bns" "$bin/musqratt" --transport dpdk --listen 0.0.0.0:1883 --allow-anonymous true \
      --dpdk-eal-args "--no-huge --no-pci --no-shconf --no-telemetry -l 0 --file-prefix mqb$id $(bash tests/dpdk/ports.sh vdev "$pmd" "$id" "$sockdir")" \
      --dpdk-ip 10.99.0.2 --dpdk-idle-sleep-us "$sleep_us" --sys-interval 0 --log-level warn &
    bpid=$!
    # The port exists once EAL is up: the tap device, or the memif server socket.
    for _ in $(seq 50); do
      case "$pmd" in
        tap) ip -n "$bns" link show "mqdt-$id" >/dev/null 2>&1 && break ;;
        memif) [ -S "$sockdir/memif.sock" ] && break ;;
        *) break ;;
      esac
      sleep 0.2
    done
    bash tests/dpdk/ports.sh attach "$pmd" "$id"
    if [ "$pmd" = memif ]; then
      bash tests/dpdk/ports.sh peer "$pmd" "$id" "$sockdir" >/dev/null 2>&1 &
      peer_pid=$!
    fi
  fi
  for _ in $(seq 50); do
    ip netns exec "$cns" timeout 1 mosquitto_pub -h 10.99.0.2 -t up -n 2>/dev/null && return 0
    sleep 0.2
  done
  echo "broker $kind did not come up" >&2
  return 1
}

stop_broker() {
  if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; fi
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  bpid=""
  peer_pid=""
  bash tests/dpdk/netns.sh down "$id"
}

if [ "${SCENARIOS:-pmd}" = all ]; then
  scenarios=(
    "latency qos0 64B @1k/s|--scenario p2p --qos 0 --size 64 --rate 1000"
    "latency qos1 64B @1k/s|--scenario p2p --qos 1 --size 64 --rate 1000"
    "latency qos0 64B @20k/s|--scenario p2p --qos 0 --size 64 --rate 20000"
    "throughput qos0 64B 4 pairs|--scenario p2p --qos 0 --size 64 --pairs 4"
    "throughput qos1 64B 4 pairs|--scenario p2p --qos 1 --size 64 --pairs 4"
    "throughput qos0 16KiB 1 pair|--scenario p2p --qos 0 --size 16384"
    "fanout qos0 64B 1->10|--scenario fanout --qos 0 --size 64 --subscribers 10"
  )
else
  scenarios=(
    "latency qos0 64B @5k/s|--scenario p2p --qos 0 --size 64 --rate 5000"
    "throughput qos0 64B 1 pair|--scenario p2p --qos 0 --size 64"
    "throughput qos0 64B 4 pairs|--scenario p2p --qos 0 --size 64 --pairs 4"
  )
fi

echo "| scenario | broker | msgs/s | deliveries/s | p50 us | p99 us | p99.9 us | lost |"
echo "|---|---|---|---|---|---|---|---|"
for kind in ${KINDS:-af_packet af_xdp tap memif epoll}; do
  start_broker "$kind"
  for s in "${scenarios[@]}"; do
    name=${s%%|*}
    args=${s#*|}
    # shellcheck disable=SC2086
    json=$(ip netns exec "$cns" timeout $((dur + 60)) "$bin/musqratt-bench" --host 10.99.0.2 $args \
      --duration "$dur" --json --no-progress 2>/dev/null || true)
    /usr/bin/python3 - "$name" "$kind" "$json" <<'PY'
import json, sys
name, kind, text = sys.argv[1:4]
try:
    r = json.loads(text.strip().splitlines()[-1])
except Exception:
    print(f"| {name} | {kind} | failed | | | | | |")
    sys.exit(0)
l = r["latency_us"]
print(f"| {name} | {kind} | {r['msgs_per_s']:.0f} | {r['deliveries_per_s']:.0f} | {l['p50']:.0f} | {l['p99']:.0f} | {l['p999']:.0f} | {r['lost']} |")
PY
  done
  stop_broker
done
