#!/usr/bin/env bash
# The cluster on this machine (docs/cluster.md, "Figures"): throughput and p50/p99 latency of
# same-node and cross-node traffic with 1, 2 and 3 MusQraTT nodes joined through NATS, the
# aggregate with clients spread over three nodes, and the CPU time the nodes and the NATS
# server(s) spend per message (user + system, from /proc), to estimate real machines from.
#
#   bench/cluster.sh [SECONDS per run (default 4)] [ROUNDS (default 1)]
#
# Every run is musqratt-bench p2p with 64-byte payloads: unpaced for throughput and CPU, paced
# at 2 000 msg/s for latency; publishers connect to one node and, for cross-node runs,
# subscribers to another (--sub-port). Each MusQraTT node runs one worker thread and queues
# without limit (--max-queued-messages 0): across nodes nothing slows a publisher down to its
# subscriber's pace, so an unpaced run builds a backlog, and the delivery rate reported is
# delivered / (first publish .. last delivery), the rate the cluster sustains end to end.
# NATS_SERVERS=1 (default: one NATS server, JetStream R1) or 3 (a three-server cluster, R3).
# Binaries as in bench/compare.sh (MUSQRATT_BIN, MUSQRATT_BENCH_BIN); nats-server from PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS=${1:-4}
ROUNDS=${2:-1}
NATS_SERVERS=${NATS_SERVERS:-1}
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
# shellcheck source=bench/broker_configs.sh
. "$ROOT/bench/broker_configs.sh"
[ -x "$BENCH" ] && [ -x "$MUSQRATT" ] || { echo "build musqratt and musqratt-bench first" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "nats-server not found (scripts/install-deps.sh)" >&2; exit 1; }
command -v mosquitto_sub >/dev/null || { echo "mosquitto_sub not found (scripts/install-deps.sh)" >&2; exit 1; }
PORTS=""
WORK="$(mktemp -d /tmp/musqratt-cluster-bench.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_seconds() {  # user + system time of the processes so far (fields 14 and 15 of /proc/PID/stat)
  local total=0
  for p in "$@"; do
    total=$(awk -v t="$TICK" -v acc="$total" '{ sub(/^.*\) /, ""); printf "%.3f", acc + ($12 + $13) / t }' "/proc/$p/stat")
  done
  echo "$total"
}

NATS_PIDS=()
NATS_URLS=()
start_nats() {  # N servers, clustered when N > 1, fresh stores
  NATS_PIDS=(); NATS_URLS=()
  local n=$1 ports=() cports=() routes=""
  for i in $(seq "$n"); do ports+=("$(free_port)"); cports+=("$(free_port)"); done
  for i in $(seq "$n"); do routes+="nats-route://127.0.0.1:${cports[$((i-1))]},"; done
  for i in $(seq "$n"); do
    local conf="$WORK/nats-$i.conf"
    { echo "server_name: n$i"; echo "listen: 127.0.0.1:${ports[$((i-1))]}"
      echo "jetstream { store_dir: \"$WORK/js-$i-$RANDOM\", max_memory_store: 512MB, max_file_store: 4GB }"
      [ "$n" -gt 1 ] && echo "cluster { name: bench, listen: 127.0.0.1:${cports[$((i-1))]}, routes: [${routes%,}] }"
    } >"$conf"
    nats-server -c "$conf" >"$WORK/nats-$i.log" 2>&1 &
    NATS_PIDS+=($!); PIDS+=($!)
    NATS_URLS+=("nats://127.0.0.1:${ports[$((i-1))]}")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.05; done
  done
}

NODE_PORT=""
NODE_PID=""
start_node() {  # name, then "cluster" or "single"
  local name=$1 mode=$2 log="$WORK/node-$1.log" args=()
  if [ "$mode" = cluster ]; then
    # The flood of an unpaced run waits on the publishing node rather than being given up.
    args+=(--cluster-node "$name" --cluster-replicas "$NATS_SERVERS" --cluster-max-pending 2000000)
    for u in "${NATS_URLS[@]}"; do args+=(--cluster-nats "$u"); done
  fi
  "$MUSQRATT" --listen 127.0.0.1:0 --threads 1 --log-level info $MUSQRATT_UNLIMITED_QUEUES "${args[@]}" --sys-interval 1 >"$log" 2>&1 &
  NODE_PID=$!; PIDS+=("$NODE_PID")
  NODE_PORT=""
  for _ in $(seq 600); do
    NODE_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mqtt, tcp).*/\1/p' "$log" | head -1)
    if [ -n "$NODE_PORT" ] && { [ "$mode" = single ] || grep -q "JetStream streams .* ready" "$log"; }; then return; fi
    sleep 0.05
  done
  echo "node $name did not start:" >&2; cat "$log" >&2; exit 1
}

stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# Waits until no node has QoS 1/2 messages still waiting for JetStream (an unpaced run leaves
# a backlog on the publishing node when JetStream stores slower than clients publish), so each
# run starts from an idle cluster.
wait_idle() {
  for port in "$@"; do
    for _ in $(seq 600); do
      v=$(mosquitto_sub -p "$port" -t '$SYS/broker/cluster/messages/pending' -C 1 -W 3 2>/dev/null || echo 0)
      [ "${v:-0}" = 0 ] && break
      sleep 0.5
    done
  done
}

results="$WORK/results.tsv"
# run LABEL QOS PUBPORT SUBPORT NODEPIDS NATSPIDS -> one row: throughput run then latency run
run() {
  local label=$1 qos=$2 pport=$3 sport=$4 nodes=$5 nats=$6 json cpu0n cpu1n cpu0s cpu1s lat
  [ -n "$nats" ] && wait_idle $PORTS
  # shellcheck disable=SC2086
  cpu0n=$(cpu_seconds $nodes); cpu0s=$( [ -n "$nats" ] && cpu_seconds $nats || echo 0)
  json=$("$BENCH" --port "$pport" --sub-port "$sport" --scenario p2p --pairs 1 --qos "$qos" --size 64 \
         --duration "$SECS" --drain 10 --json --no-progress)
  # The CPU counted includes storing the run's backlog in JetStream, which goes on after the
  # last local delivery.
  [ -n "$nats" ] && wait_idle $PORTS
  # shellcheck disable=SC2086
  cpu1n=$(cpu_seconds $nodes); cpu1s=$( [ -n "$nats" ] && cpu_seconds $nats || echo 0)
  lat=$("$BENCH" --port "$pport" --sub-port "$sport" --scenario p2p --pairs 1 --qos "$qos" --size 64 \
        --duration "$SECS" --rate 2000 --drain 2 --json --no-progress)
  /usr/bin/python3 -c '
import json, sys
t, l = json.loads(sys.argv[1]), json.loads(sys.argv[2])
label, qos = sys.argv[3], sys.argv[4]
node_cpu = float(sys.argv[6]) - float(sys.argv[5])
nats_cpu = float(sys.argv[8]) - float(sys.argv[7])
d = max(1, t["delivered"])
print("\t".join(str(x) for x in (label, qos, round(t["deliveries_per_s"]), t["lost"] + l["lost"],
      round(l["latency_us"]["p50"]), round(l["latency_us"]["p99"]),
      round(node_cpu * 1e6 / d, 2), round(nats_cpu * 1e6 / d, 2))))' \
    "$json" "$lat" "$label" "$qos" "$cpu0n" "$cpu1n" "$cpu0s" "$cpu1s" | tee -a "$results"
}

# Three pairs at once, one per node pair a->b, b->c, c->a: the aggregate.
run_spread() {
  local qos=$1 pa=$2 pb=$3 pc=$4 nodes=$5 nats=$6 cpu0n cpu1n cpu0s cpu1s
  wait_idle $PORTS
  # shellcheck disable=SC2086
  cpu0n=$(cpu_seconds $nodes); cpu0s=$(cpu_seconds $nats)
  "$BENCH" --port "$pa" --sub-port "$pb" --scenario p2p --pairs 1 --qos "$qos" --duration "$SECS" --drain 10 --json --no-progress --client-prefix s1 --topic-prefix s1 >"$WORK/s1.json" &
  local j1=$!
  "$BENCH" --port "$pb" --sub-port "$pc" --scenario p2p --pairs 1 --qos "$qos" --duration "$SECS" --drain 10 --json --no-progress --client-prefix s2 --topic-prefix s2 >"$WORK/s2.json" &
  local j2=$!
  "$BENCH" --port "$pc" --sub-port "$pa" --scenario p2p --pairs 1 --qos "$qos" --duration "$SECS" --drain 10 --json --no-progress --client-prefix s3 --topic-prefix s3 >"$WORK/s3.json" &
  local j3=$!
  wait "$j1" "$j2" "$j3"
  wait_idle $PORTS
  # shellcheck disable=SC2086
  cpu1n=$(cpu_seconds $nodes); cpu1s=$(cpu_seconds $nats)
  /usr/bin/python3 -c '
import json, sys
js = [json.load(open(f)) for f in sys.argv[1:4]]
d = sum(j["delivered"] for j in js)
print("\t".join(str(x) for x in ("3 nodes, spread a->b b->c c->a", sys.argv[4], round(sum(j["deliveries_per_s"] for j in js)),
      sum(j["lost"] for j in js), "-", "-", round((float(sys.argv[6]) - float(sys.argv[5])) * 1e6 / max(1, d), 2),
      round((float(sys.argv[8]) - float(sys.argv[7])) * 1e6 / max(1, d), 2))))' \
    "$WORK/s1.json" "$WORK/s2.json" "$WORK/s3.json" "$qos" "$cpu0n" "$cpu1n" "$cpu0s" "$cpu1s" | tee -a "$results"
}

echo "musqratt-bench p2p 64 B, ${SECS}s runs, ${ROUNDS} round(s), ${NATS_SERVERS} NATS server(s), $(nproc) core(s)"
for round in $(seq "$ROUNDS"); do
  for qos in 0 1; do
    # One node, no cluster: the baseline.
    start_node solo single; solo=$NODE_PORT; solo_pid=$NODE_PID
    run "1 node, no cluster" "$qos" "$solo" "$solo" "$solo_pid" ""
    stop_all
    # One node joined to NATS: what the link costs same-node traffic.
    start_nats "$NATS_SERVERS"
    start_node a cluster; pa=$NODE_PORT; a=$NODE_PID; PORTS="$pa"
    run "1 node in a cluster, same node" "$qos" "$pa" "$pa" "$a" "${NATS_PIDS[*]}"
    start_node b cluster; pb=$NODE_PORT; b=$NODE_PID; PORTS="$pa $pb"
    run "2 nodes, same node" "$qos" "$pa" "$pa" "$a $b" "${NATS_PIDS[*]}"
    run "2 nodes, across nodes" "$qos" "$pa" "$pb" "$a $b" "${NATS_PIDS[*]}"
    start_node c cluster; pc=$NODE_PORT; c=$NODE_PID; PORTS="$pa $pb $pc"
    run "3 nodes, across nodes" "$qos" "$pa" "$pb" "$a $b $c" "${NATS_PIDS[*]}"
    run_spread "$qos" "$pa" "$pb" "$pc" "$a $b $c" "${NATS_PIDS[*]}"
    stop_all
  done
done

/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    label, qos, dps, lost, p50, p99, ncpu, scpu = line.rstrip("\n").split("\t")
    rows.setdefault((label, qos), []).append((int(dps), int(lost), p50, p99, float(ncpu), float(scpu)))
med = lambda xs: statistics.median(xs)
print("\n| setup | QoS | msg/s delivered | lost | latency p50 / p99 µs at 2 000 msg/s | node CPU µs/msg | NATS CPU µs/msg |")
print("|---|---|---|---|---|---|---|")
for (label, qos), rs in rows.items():
    lat = " / ".join([rs[0][2], rs[0][3]]) if rs[0][2] != "-" else "-"
    print(f"| {label} | {qos} | {med([r[0] for r in rs]):,.0f} | {sum(r[1] for r in rs)} | {lat} "
          f"| {med([r[4] for r in rs]):.1f} | {med([r[5] for r in rs]):.1f} |")
PY
