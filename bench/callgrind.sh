#!/usr/bin/env bash
# Instructions per delivered message for each broker (by default on p2p QoS0 64 B, 1 pair)
# under valgrind --tool=callgrind. Two runs per broker (a small baseline count and the full
# count) so that start-up and connection set-up cancel out:
#   instr/msg = (Ir(full) - Ir(baseline)) / (delivered(full) - delivered(baseline))
#
#   bench/callgrind.sh [--count N] [--base N] [--brokers "flashmq mosquitto musqratt relay"] [--keep DIR]
#                      [--args "musqratt-bench scenario arguments"] [--no-generator]
# --count (default 100000) and --base (default 10000) are per publisher; --args replaces the default "--pairs 1 --qos 0 --size 64" (e.g.
# "--pairs 10 --qos 1"). --keep keeps the callgrind.out files (callgrind_annotate, kcachegrind).
# FlashMQ runs when FLASHMQ_BIN names a binary (see docs/benchmarks.md), with the settings of
# bench/broker_configs.sh. A last row measures the generator itself (musqratt-bench under
# callgrind, publisher and subscriber side together) against a relay that runs natively.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
COUNT=100000
BASE=10000
BROKERS="flashmq mosquitto musqratt relay"
KEEP=""
ARGS="--pairs 1 --qos 0 --size 64"
GENERATOR=1
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT="$2"; shift ;;
    --base) BASE="$2"; shift ;;
    --brokers) BROKERS="$2"; shift ;;
    --keep) KEEP="$2"; shift ;;
    --args) ARGS="$2"; shift ;;
    --no-generator) GENERATOR=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$COUNT" -gt "$BASE" ] || { echo "--count must be > $BASE" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind missing (apt-get install valgrind)" >&2; exit 1; }

# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
[ -x "$BENCH" ] || { echo "musqratt-bench not found ($BENCH)" >&2; exit 1; }
# shellcheck source=bench/broker_configs.sh
. "$ROOT/bench/broker_configs.sh"

WORK="$(mktemp -d /tmp/musqratt-callgrind.XXXXXX)"
chmod 755 "$WORK"  # mosquitto runs with "user root" so valgrind can write its output file
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP"; cp "$WORK"/callgrind.out.* "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

run_one() {  # broker count -> prints "Ir delivered"
  local b="$1" n="$2" port out
  port="$(free_port)"
  out="$WORK/callgrind.out.$b.$n"
  local vg=(valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no --collect-jumps=no)
  case "$b" in
    flashmq)
      flashmq_config "$port" >"$WORK/f.conf"
      "${vg[@]}" "$FLASHMQ" --config-file "$WORK/f.conf" >"$WORK/broker.log" 2>&1 & ;;
    mosquitto)
      mosquitto_config "$port" "user root" >"$WORK/m.conf"
      chmod 644 "$WORK/m.conf"
      "${vg[@]}" "$MOSQUITTO" -c "$WORK/m.conf" >"$WORK/broker.log" 2>&1 & ;;
    musqratt)
      # shellcheck disable=SC2046
      "${vg[@]}" "$MUSQRATT" $(musqratt_args "$port") >"$WORK/broker.log" 2>&1 & ;;
    relay) "${vg[@]}" "$RELAY" --listen "127.0.0.1:$port" >"$WORK/broker.log" 2>&1 & ;;
  esac
  PID=$!
  wait_port "$port" || { echo "$b did not start under valgrind" >&2; cat "$WORK/broker.log" >&2; return 1; }
  local json
  # shellcheck disable=SC2086
  json="$("$BENCH" --port "$port" --json --no-progress $ARGS --count "$n" --drain 10 --connect-timeout 60)" || true
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  local ir
  ir="$(awk '/^(summary|totals):/ {print $2; exit}' "$out")"
  local delivered
  delivered="$(printf '%s' "$json" | "$PY" -c 'import json,sys
try: print(json.load(sys.stdin)["delivered"])
except Exception: print(0)')"
  echo "$ir $delivered"
}

row() {  # name Ir0 delivered0 Ir1 delivered1
  "$PY" - "$@" <<'PYEOF'
import sys
name, ir0, d0, ir1, d1 = sys.argv[1], *map(int, sys.argv[2:])
print(f"| {name} | {d1} | {(ir1 - ir0) / (d1 - d0):.0f} |" if d1 > d0 and ir1 > ir0 else f"| {name} | {d1} | n/a (run failed) |")
PYEOF
}

echo "scenario: $ARGS, --count $COUNT (baseline $BASE)"
echo
echo "| broker | messages delivered | instructions per delivered message |"
echo "|---|---|---|"
for b in $BROKERS; do
  case "$b" in
    flashmq) [ -n "$FLASHMQ" ] && [ -x "$FLASHMQ" ] || { echo "| FlashMQ | – | not run (FLASHMQ_BIN not set) |"; continue; } ;;
    musqratt) [ -x "$MUSQRATT" ] || { echo "| MusQraTT | – | not built ($MUSQRATT) |"; continue; } ;;
    relay) [ -x "$RELAY" ] || { echo "| relay | – | not built |"; continue; } ;;
    mosquitto) [ -x "$MOSQUITTO" ] || { echo "| Mosquitto | – | not installed |"; continue; } ;;
  esac
  read -r ir0 d0 < <(run_one "$b" "$BASE")
  read -r ir1 d1 < <(run_one "$b" "$COUNT")
  row "$b" "${ir0:-0}" "${d0:-0}" "${ir1:-0}" "${d1:-0}"
done

# The generator's own cost, against a native relay.
if [ "$GENERATOR" = 1 ] && [ -x "$RELAY" ]; then
  port="$(free_port)"
  "$RELAY" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  PID=$!
  wait_port "$port"
  gen_one() {
    local out="$WORK/callgrind.out.bench.$1" json
    # shellcheck disable=SC2086
    json="$(valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no "$BENCH" --port "$port" --json \
      --no-progress $ARGS --count "$1" --drain 10 2>/dev/null)" || true
    echo "$(awk '/^(summary|totals):/ {print $2; exit}' "$out") $(printf '%s' "$json" | "$PY" -c 'import json,sys
try: print(json.load(sys.stdin)["delivered"])
except Exception: print(0)')"
  }
  read -r ir0 d0 < <(gen_one "$BASE")
  read -r ir1 d1 < <(gen_one "$COUNT")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  row "musqratt-bench itself (generator, both sides)" "${ir0:-0}" "${d0:-0}" "${ir1:-0}" "${d1:-0}"
fi
