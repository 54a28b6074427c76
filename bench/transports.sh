#!/usr/bin/env bash
# Compares the kernel-socket backends of one MusQraTT binary: epoll, io_uring, and io_uring
# with SQPOLL rings. Per round and backend: a fresh broker (--threads 2) for each scenario,
# p2p QoS 0 64 B unpaced (throughput) and paced at 5 000 msg/s (latency), with the broker's
# CPU time (user + system, which includes the SQPOLL kernel thread: it belongs to the broker
# process). Prints one line per run, then a markdown table of medians.
#
#   bench/transports.sh [ROUNDS (default 3)] [SECONDS per run (default 4)]
#
# Binaries as in bench/compare.sh (MUSQRATT_BIN, MUSQRATT_BENCH_BIN).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=${1:-3}
SECS=${2:-4}
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
[ -x "$BENCH" ] && [ -x "$MUSQRATT" ] || { echo "build musqratt and musqratt-bench first" >&2; exit 1; }
WORK="$(mktemp -d /tmp/musqratt-transports.XXXXXX)"
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

BACKENDS=("epoll|--transport epoll" "io_uring|--transport io_uring" "io_uring+sqpoll|--transport io_uring --uring-sqpoll true")
SCENARIOS=("throughput|--scenario p2p --pairs 1 --qos 0 --size 64" "latency-5k|--scenario p2p --pairs 1 --qos 0 --size 64 --rate 5000")
TICK=$(getconf CLK_TCK)

cpu_seconds() {  # user + system time of a process so far (fields 14 and 15 of /proc/PID/stat)
  awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"
}

results="$WORK/results.tsv"
for round in $(seq "$ROUNDS"); do
  for b in "${BACKENDS[@]}"; do
    name=${b%%|*}
    for s in "${SCENARIOS[@]}"; do
      scen=${s%%|*}
      log="$WORK/broker.log"
      # shellcheck disable=SC2086
      "$MUSQRATT" --listen 127.0.0.1:0 --threads 2 --log-level info ${b#*|} >"$log" 2>&1 &
      BROKER_PID=$!
      port=""
      for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (mqtt, tcp).*/\1/p' "$log" | head -1)
        [ -n "$port" ] && break
        sleep 0.02
      done
      [ -n "$port" ] || { cat "$log" >&2; exit 1; }
      if [ "$name" = io_uring+sqpoll ] && ! grep -q "SQPOLL active" "$log"; then
        echo "warning: SQPOLL not active: $(grep -i sqpoll "$log" | head -1)" >&2
      fi
      # shellcheck disable=SC2086
      json=$("$BENCH" --port "$port" ${s#*|} --duration "$SECS" --drain 1 --json --no-progress)
      cpu=$(cpu_seconds "$BROKER_PID")
      kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=""
      line=$(/usr/bin/python3 -c '
import json, sys
j = json.loads(sys.argv[1]); l = j["latency_us"]
print("\t".join(str(x) for x in (sys.argv[2], sys.argv[3], sys.argv[4], round(j["deliveries_per_s"]), j["lost"],
                                  l["p50"], l["p99"], sys.argv[5])))' "$json" "$round" "$name" "$scen" "$cpu")
      echo "$line" | tee -a "$results"
    done
  done
done

/usr/bin/python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    rnd, backend, scen, dps, lost, p50, p99, cpu = line.rstrip("\n").split("\t")
    runs[(backend, scen)].append((int(dps), int(lost), float(p50), float(p99), float(cpu)))
med = lambda xs: statistics.median(xs)
print("\n| backend | p2p QoS 0 64 B msg/s (runs) | lost | broker CPU s | 5 000 msg/s p50 / p99 µs (runs) | broker CPU s |")
print("|---|---|---|---|---|---|")
for backend in dict.fromkeys(k[0] for k in runs):
    t, l = runs[(backend, "throughput")], runs[(backend, "latency-5k")]
    print(f"| {backend} | {med([r[0] for r in t]):,.0f} ({', '.join(f'{r[0]:,}' for r in t)}) "
          f"| {sum(r[1] for r in t)} | {med([r[4] for r in t]):.2f} "
          f"| {med([r[2] for r in l]):.0f} / {med([r[3] for r in l]):.0f} "
          f"({', '.join(f'{r[2]:.0f}/{r[3]:.0f}' for r in l)}) | {med([r[4] for r in l]):.2f} |")
PY
