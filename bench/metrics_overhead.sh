#!/usr/bin/env bash
# What GET /metrics costs the broker: musqratt-bench p2p QoS 0 throughput with and without a
# scrape every second (runs alternate), and the broker CPU time of one scrape (N scrapes in a
# row against an otherwise idle broker with CLIENTS connected sessions).
#
#   bench/metrics_overhead.sh [--duration S] [--runs N] [--clients N]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
D=10
RUNS=3
CLIENTS=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) D="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --clients) CLIENTS="$2"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
# shellcheck source=bench/broker_configs.sh
. "$ROOT/bench/broker_configs.sh"
WORK="$(mktemp -d /tmp/musqratt-metrics-bench.XXXXXX)"
PID=""
SCRAPER=""
cleanup() {
  [ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null || true
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
start() {
  MQTT="$(free_port)"; HTTP="$(free_port)"
  "$MUSQRATT" --listen "127.0.0.1:$MQTT" --http-listen "127.0.0.1:$HTTP" --log-level warn $MUSQRATT_UNLIMITED_QUEUES \
    >"$WORK/broker.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null && return 0; sleep 0.05; done
  return 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

echo "| run | scrape every 1 s | delivered msg/s |"
echo "|---|---|---|"
for run in $(seq 1 "$RUNS"); do
  for scrape in no yes; do
    start
    if [ "$scrape" = yes ]; then
      ( while true; do curl -s -o /dev/null "http://127.0.0.1:$HTTP/metrics"; sleep 1; done ) &
      SCRAPER=$!
    fi
    "$BENCH" --port "$MQTT" --scenario p2p --pairs 1 --qos 0 --size 64 --duration "$D" --drain 5 --json --no-progress \
      >"$WORK/out.json" 2>/dev/null || true
    if [ -n "$SCRAPER" ]; then kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null || true; SCRAPER=""; fi
    stop
    rate=$("$PY" -c 'import json,sys; print("%.0f" % json.load(open(sys.argv[1]))["deliveries_per_s"])' "$WORK/out.json")
    echo "| $run | $scrape | $rate |"
  done
done

# CPU per scrape, with CLIENTS idle connections (sessions to list and sum).
start
"$BENCH" --port "$MQTT" --scenario idle --connections "$CLIENTS" --hold 30 --no-progress \
  --ready-file "$WORK/ready" >/dev/null 2>&1 &
IDLE=$!
for _ in $(seq 600); do [ -e "$WORK/ready" ] && break; sleep 0.05; done
N=500
t0=$(awk '{print $14 + $15}' "/proc/$PID/stat")
start_ns=$(date +%s%N)
for _ in $(seq "$N"); do curl -s -o /dev/null "http://127.0.0.1:$HTTP/metrics"; done
end_ns=$(date +%s%N)
t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
bytes=$(curl -s "http://127.0.0.1:$HTTP/metrics" | wc -c)
kill "$IDLE" 2>/dev/null || true
wait "$IDLE" 2>/dev/null || true
stop
"$PY" - "$t0" "$t1" "$(getconf CLK_TCK)" "$N" "$start_ns" "$end_ns" "$bytes" "$CLIENTS" <<'PYEOF'
import sys
t0, t1, tck, n, s, e, size, clients = map(int, sys.argv[1:9])
cpu = (t1 - t0) / tck / n
print(f"\n{n} scrapes with {clients} idle clients connected: broker CPU {cpu * 1e3:.3f} ms per scrape "
      f"({cpu * 100:.3f} % of one core at one scrape per second), {(e - s) / n / 1e6:.2f} ms wall each "
      f"(curl included), {size} bytes of text")
PYEOF
