#!/usr/bin/env bash
# MQTT over WebSocket: musqratt-bench p2p QoS 0 (throughput, unlimited rate; latency at a fixed
# rate) against MusQraTT's ws_listen and Mosquitto's own WebSocket listener (Debian's
# mosquitto: `listener PORT` + `protocol websockets`), with MusQraTT over plain TCP as the
# reference. Each run starts its broker afresh on a free loopback port. Prints a markdown table
# and the ratios the targets are stated in (MusQraTT WS / Mosquitto WS, MusQraTT WS / TCP).
#
#   bench/websocket.sh [--duration S] [--runs N] [--pairs N] [--rate R] [--out FILE]
#
# Binaries as bench/compare.sh finds them (bench/binaries.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
D=10
RUNS=3
PAIRS=1
RATE=20000
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) D="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --pairs) PAIRS="$2"; shift ;;
    --rate) RATE="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
# shellcheck source=bench/broker_configs.sh
. "$ROOT/bench/broker_configs.sh"
[ -x "$BENCH" ] || { echo "musqratt-bench not found ($BENCH); build it first" >&2; exit 1; }

WORK="$(mktemp -d /tmp/musqratt-ws-bench.XXXXXX)"
chmod 755 "$WORK"  # Mosquitto started as root drops to its own user and must read its config
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$BROKER_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# target: musqratt-tcp | musqratt-ws | mosquitto-ws   -> starts the broker, echoes bench args
start() {
  local port; port="$(free_port)"
  case "$1" in
    musqratt-tcp)
      "$MUSQRATT" --listen "127.0.0.1:$port" --log-level warn $MUSQRATT_UNLIMITED_QUEUES >"$WORK/broker.log" 2>&1 &
      BROKER_PID=$!; ARGS="--port $port" ;;
    musqratt-ws)
      local mqtt; mqtt="$(free_port)"
      "$MUSQRATT" --listen "127.0.0.1:$mqtt" --ws-listen "127.0.0.1:$port" --log-level warn $MUSQRATT_UNLIMITED_QUEUES \
        >"$WORK/broker.log" 2>&1 &
      BROKER_PID=$!; ARGS="--port $port --websocket /mqtt" ;;
    mosquitto-ws)
      # Mosquitto 2.0.11 exits with "Unable to start any listening sockets" when its only
      # listener is a WebSocket one, so it gets an (unused) MQTT listener as well.
      local mqtt; mqtt="$(free_port)"
      printf 'listener %s 127.0.0.1\nlistener %s 127.0.0.1\nprotocol websockets\nallow_anonymous true\nlog_dest none\nmax_queued_messages 0\nset_tcp_nodelay true\n' \
        "$mqtt" "$port" > "$WORK/mosquitto.conf"
      chmod 644 "$WORK/mosquitto.conf"
      "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
      BROKER_PID=$!; ARGS="--port $port --websocket /mqtt" ;;
  esac
  wait_port "$port"
}
stop() { kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=""; }

: > "$WORK/records.jsonl"
for kind in throughput latency; do
  for run in $(seq 1 "$RUNS"); do
    for target in musqratt-tcp musqratt-ws mosquitto-ws; do
      start "$target"
      extra="--scenario p2p --pairs $PAIRS --qos 0 --size 64 --duration $D --drain 5"
      [ "$kind" = latency ] && extra="$extra --rate $RATE"
      # shellcheck disable=SC2086
      "$BENCH" $ARGS $extra --json --no-progress --broker-pid "$BROKER_PID" >"$WORK/out.json" 2>"$WORK/bench.err" || true
      stop
      "$PY" - "$WORK/out.json" "$target" "$kind" "$run" >>"$WORK/records.jsonl" <<'PYEOF'
import json, sys
path, target, kind, run = sys.argv[1:5]
try:
    r = json.load(open(path))
except Exception:
    r = {}
print(json.dumps({"target": target, "kind": kind, "run": int(run), "result": r}))
PYEOF
      echo "$kind run $run $target done" >&2
    done
  done
done

"$PY" - "$WORK/records.jsonl" "$D" "$PAIRS" "$RATE" "${OUT:-}" <<'PYEOF'
import json, statistics, sys
path, d, pairs, rate, out = sys.argv[1:6]
recs = [json.loads(l) for l in open(path)]

def pick(r, *keys):
    for k in keys:
        cur = r
        for part in k.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None:
            return cur
    return None

rows = {}
for rec in recs:
    r = rec["result"]
    key = (rec["kind"], rec["target"])
    rows.setdefault(key, []).append({
        "rate": pick(r, "deliveries_per_s"),
        "p50": pick(r, "latency_us.p50"),
        "p99": pick(r, "latency_us.p99"),
        # Broker CPU over the run, in % of one core.
        "cpu": (100 * r["broker"]["cpu_s"] / r["duration_s"]) if r.get("broker") and r.get("duration_s") else None,
        "lost": pick(r, "lost"),
    })

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

lines = [f"p2p QoS 0, 64 B, {pairs} pair(s), {d} s per run, median of {len(recs) // 6} run(s); "
         f"latency at {rate} msg/s", "",
         "| run | target | delivered msg/s | p50 µs | p99 µs | broker CPU % |", "|---|---|---|---|---|---|"]
summary = {}
for kind in ("throughput", "latency"):
    for target in ("musqratt-tcp", "musqratt-ws", "mosquitto-ws"):
        v = rows.get((kind, target), [])
        m = {k: med([x[k] for x in v]) for k in ("rate", "p50", "p99", "cpu")}
        summary[(kind, target)] = m
        f = lambda x, fmt: "–" if x is None else fmt.format(x)
        lines.append(f"| {kind} | {target} | {f(m['rate'], '{:,.0f}')} | {f(m['p50'], '{:.0f}')} | "
                     f"{f(m['p99'], '{:.0f}')} | {f(m['cpu'], '{:.0f}')} |")
t = lambda target: summary[("throughput", target)]["rate"]
if t("musqratt-ws") and t("mosquitto-ws"):
    lines.append(f"\nMusQraTT WS / Mosquitto WS throughput: {t('musqratt-ws') / t('mosquitto-ws'):.2f}x (target >= 3x)")
if t("musqratt-ws") and t("musqratt-tcp"):
    lines.append(f"MusQraTT WS / MusQraTT TCP throughput: {100 * t('musqratt-ws') / t('musqratt-tcp'):.0f} % (target >= 70 %)")
text = "\n".join(lines)
print(text)
if out:
    open(out, "w").write(text + "\n" + json.dumps(recs) + "\n")
PYEOF
