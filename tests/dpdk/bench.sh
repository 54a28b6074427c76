#!/usr/bin/env bash
# Compares the DPDK + lwIP transport with the epoll transport in the same two-namespace veth
# setup (tests/dpdk/netns.sh): musqratt-bench runs in the client namespace against 10.99.0.2,
# served either by `--transport dpdk` on net_af_packet (kernel has no address) or by the epoll
# broker on the kernel's address. Prints one markdown table row per scenario and broker.
# Needs root and build-dpdk/ (scripts/build-dpdk.sh). DURATION (s, default 10) per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=build-dpdk/bin
id=b$(printf '%x' $$)
dur=${DURATION:-10}
read -r cns bns cveth bveth < <(bash tests/dpdk/netns.sh names "$id")
bpid=""
cleanup() {
  [ -n "$bpid" ] && kill "$bpid" 2>/dev/null && wait "$bpid" 2>/dev/null || true
  bash tests/dpdk/netns.sh down "$id"
}
trap cleanup EXIT

start_broker() {  # kind: dpdk | dpdk-sleep | epoll
  local kind=$1
  if [ "$kind" = epoll ]; then
    bash tests/dpdk/netns.sh up "$id" kernel
    ip netns exec "$bns" "$bin/musqratt" --listen 10.99.0.2:1883 --threads 1 --allow-anonymous true \
      --sys-interval 0 --log-level warn &
  else
    local sleep_us=0
    [ "$kind" = dpdk-sleep ] && sleep_us=50
    bash tests/dpdk/netns.sh up "$id"
    ip netns exec "$bns" "$bin/musqratt" --transport dpdk --listen 0.0.0.0:1883 --allow-anonymous true \
      --dpdk-eal-args "--no-huge --no-pci --no-shconf --no-telemetry -l 0 --vdev=net_af_packet0,iface=$bveth" \
      --dpdk-ip 10.99.0.2 --dpdk-idle-sleep-us "$sleep_us" --sys-interval 0 --log-level warn &
  fi
  bpid=$!
  for _ in $(seq 50); do
    ip netns exec "$cns" timeout 1 mosquitto_pub -h 10.99.0.2 -t up -n 2>/dev/null && return 0
    sleep 0.2
  done
  echo "broker $kind did not come up" >&2
  return 1
}

stop_broker() {
  kill "$bpid" 2>/dev/null || true
  wait "$bpid" 2>/dev/null || true
  bpid=""
  bash tests/dpdk/netns.sh down "$id"
}

scenarios=(
  "latency qos0 64B @1k/s|--scenario p2p --qos 0 --size 64 --rate 1000"
  "latency qos1 64B @1k/s|--scenario p2p --qos 1 --size 64 --rate 1000"
  "latency qos0 64B @20k/s|--scenario p2p --qos 0 --size 64 --rate 20000"
  "throughput qos0 64B 4 pairs|--scenario p2p --qos 0 --size 64 --pairs 4"
  "throughput qos1 64B 4 pairs|--scenario p2p --qos 1 --size 64 --pairs 4"
  "throughput qos0 16KiB 1 pair|--scenario p2p --qos 0 --size 16384"
  "fanout qos0 64B 1->10|--scenario fanout --qos 0 --size 64 --subscribers 10"
)

echo "| scenario | broker | msgs/s | deliveries/s | p50 us | p99 us | p99.9 us | lost |"
echo "|---|---|---|---|---|---|---|---|"
for kind in ${KINDS:-dpdk dpdk-sleep epoll}; do
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
