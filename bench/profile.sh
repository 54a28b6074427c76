#!/usr/bin/env bash
# Where a broker's time goes in one musqratt-bench scenario: perf record (call graphs) and perf
# stat (system calls, context switches, wake-ups, page faults) attached to the broker for the
# generator's measured window, every count divided by the messages delivered in that window.
#
#   bench/profile.sh [--broker musqratt|flashmq|mosquitto] [--out DIR] [--freq HZ (2999)] [--no-record]
#                    -- MUSQRATT-BENCH ARGS (must include --duration; --warmup skips the ramp-up)
#
# e.g. bench/profile.sh --out /tmp/prof-qos1 -- --pairs 10 --qos 1 --warmup 2 --duration 8
# Writes DIR/perf.data, DIR/report.txt (flat profile, then callers), DIR/stat.csv, DIR/bench.json
# and prints per-message figures. Needs perf (Debian: linux-perf) and root or
# kernel.perf_event_paranoid <= 1 for tracepoints. Without hardware counters (virtual machines)
# perf samples the cpu-clock software event; call graphs are unwound from DWARF (RelWithDebInfo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
BROKER=musqratt
OUT=""
FREQ=2999
RECORD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --broker) BROKER="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --freq) FREQ="$2"; shift ;;
    --no-record) RECORD=0 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (bench arguments go after --)" >&2; exit 2 ;;
  esac
  shift
done
ARGS=("$@")
DUR=""
for ((i = 0; i < ${#ARGS[@]}; i++)); do [ "${ARGS[$i]}" = --duration ] && DUR="${ARGS[$((i + 1))]}"; done
[ -n "$DUR" ] || { echo "the bench arguments need --duration S (the profiled window)" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf missing (apt-get install linux-perf)" >&2; exit 1; }

# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
# shellcheck source=bench/broker_configs.sh
. "$ROOT/bench/broker_configs.sh"
[ -x "$BENCH" ] || { echo "musqratt-bench not found ($BENCH)" >&2; exit 1; }
OUT="${OUT:-$(mktemp -d /tmp/musqratt-profile.XXXXXX)}"
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

WORK="$(mktemp -d /tmp/musqratt-profile-run.XXXXXX)"
chmod 755 "$WORK"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID"; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
port="$("$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
case "$BROKER" in
  musqratt)
    # shellcheck disable=SC2046
    "$MUSQRATT" $(musqratt_args "$port") >"$WORK/broker.log" 2>&1 & ;;
  flashmq)
    [ -n "$FLASHMQ" ] || { echo "FLASHMQ_BIN not set" >&2; exit 1; }
    flashmq_config "$port" >"$WORK/flashmq.conf"
    "$FLASHMQ" --config-file "$WORK/flashmq.conf" >"$WORK/broker.log" 2>&1 & ;;
  mosquitto)
    mosquitto_config "$port" >"$WORK/mosquitto.conf"
    chmod 644 "$WORK/mosquitto.conf"
    "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 & ;;
  *) echo "unknown broker $BROKER" >&2; exit 2 ;;
esac
PID=$!
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

"$BENCH" --port "$port" --json --no-progress --broker-pid "$PID" --ready-file "$WORK/window" "${ARGS[@]}" \
  >"$OUT/bench.json" 2>"$WORK/bench.err" &
bench_pid=$!
while kill -0 "$bench_pid" 2>/dev/null && [ ! -f "$WORK/window" ]; do sleep 0.01; done

EVENTS="task-clock,context-switches,cpu-migrations,page-faults,sched:sched_wakeup,sched:sched_switch"
for s in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl \
         futex io_uring_enter accept4 mmap munmap brk madvise; do
  [ -d "/sys/kernel/tracing/events/syscalls/sys_enter_$s" ] || [ -d "/sys/kernel/debug/tracing/events/syscalls/sys_enter_$s" ] \
    && EVENTS="$EVENTS,syscalls:sys_enter_$s"
done
perf stat -x, -e "$EVENTS" -p "$PID" -o "$OUT/stat.csv" -- sleep "$DUR" 2>/dev/null &
stat_pid=$!
if [ "$RECORD" = 1 ]; then
  rm -f "$OUT/perf.data" "$OUT/perf.data.old"
  perf record -q -e cpu-clock -F "$FREQ" --call-graph dwarf,16384 -p "$PID" -o "$OUT/perf.data" -- sleep "$DUR" \
    >/dev/null 2>&1 &
  rec_pid=$!
fi
wait "$stat_pid" || true
[ "$RECORD" = 1 ] && { wait "$rec_pid" || true; }
wait "$bench_pid" || echo "note: musqratt-bench exited with $?: $(tail -3 "$WORK/bench.err")" >&2
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""

if [ "$RECORD" = 1 ]; then
  {
    echo "### flat (self time)"
    perf report -i "$OUT/perf.data" --stdio --no-children -F overhead,dso,sym --percent-limit 0.5 -g none 2>/dev/null
    echo "### with callees (children)"
    perf report -i "$OUT/perf.data" --stdio --children -F children,self,sym --percent-limit 3 -g caller,0.5,callee,function,percent 2>/dev/null
  } >"$OUT/report.txt" || true
fi

"$PY" - "$OUT/stat.csv" "$OUT/bench.json" "$BROKER" "$DUR" <<'PYEOF'
import json, sys
stat, bench, broker, dur = sys.argv[1:]
b = json.load(open(bench))
w = b.get("window") or {}
n = w.get("delivered") or b.get("delivered") or 0
print(f"{broker}: {b['scenario']} pub={b['params']['publishers']} sub={b['params']['subscribers']} "
      f"qos={b['params']['qos']} size={b['params']['size']}; window {w.get('seconds', 0):.1f} s, "
      f"{n} delivered ({n / float(dur):.0f}/s), broker CPU {b.get('broker', {}).get('cpu_s', -1):.2f} s, "
      f"generator {w.get('generator_cpu_s', 0):.2f} s; latency p50/p99 {b['latency_us']['p50']:.0f}/{b['latency_us']['p99']:.0f} us")
if not n:
    sys.exit("nothing delivered in the window")
print(f"{'event':34} {'total':>14} {'per message':>12}")
for line in open(stat):
    parts = line.strip().split(",")
    if len(parts) < 3 or not parts[0] or parts[0].startswith("#"):
        continue
    try:
        v = float(parts[0])
    except ValueError:
        continue
    name = parts[2]
    if name == "task-clock":  # msec
        print(f"{'CPU (task-clock) us':34} {v * 1e3:14.0f} {v * 1e3 / n:12.3f}")
        continue
    if v:
        print(f"{name.replace('syscalls:sys_enter_', 'syscall '):34} {v:14.0f} {v / n:12.4f}")
PYEOF
echo "(perf data, report and stat in $OUT)"
