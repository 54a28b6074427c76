#!/usr/bin/env bash
# Restart with a large stored queue: fills one offline persistent session with N QoS 1
# messages (a paho publisher; the payloads are the numbers 1..N), kills the broker with SIGKILL,
# restarts it and reports how long the store took to read back, the broker's RSS once it serves
# again, and the drain (every message delivered once, in order). Run once per persistence_memory_queue value, so paging (the
# default) is compared with holding the whole queue in memory (0).
#
#   bench/restart.sh [--count N] [--limits "1000 0"]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=/usr/bin/python3
COUNT=1000000
LIMITS="1000 0"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT="$2"; shift ;;
    --limits) LIMITS="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
command -v mosquitto_sub >/dev/null || { echo "mosquitto_sub missing (apt-get install mosquitto-clients)" >&2; exit 1; }
"$PY" -c 'import paho.mqtt.client' || { echo "python3-paho-mqtt missing" >&2; exit 1; }

WORK="$(mktemp -d /tmp/musqratt-restart.XXXXXX)"
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID"; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_port() {
  for _ in $(seq 200); do
    "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
start() {  # start LIMIT PORT
  "$MUSQRATT" --listen "127.0.0.1:$2" --log-level info --sys-interval 0 --persistence true \
    --persistence-dir "$WORK/data" --persistence-memory-queue "$1" --max-queued-messages $((COUNT * 2)) \
    >>"$WORK/broker.log" 2>&1 &
  PID=$!
  wait_port "$2"
}

printf '%-12s %10s %10s %12s %12s %14s %10s\n' memory_queue messages fill_s readback_ms rss_after_kb drain_msg_per_s in_order
for limit in $LIMITS; do
  rm -rf "$WORK/data" "$WORK/broker.log"
  port="$(free_port)"
  start "$limit" "$port"
  mosquitto_sub -p "$port" -i restart-sub -c -q 1 -t 'restart/#' -W 1 >/dev/null 2>&1 || true
  t0=$(date +%s.%N)
  "$PY" - "$port" "$COUNT" <<'PYEOF'
import sys, threading
import paho.mqtt.client as mqtt
port, count = int(sys.argv[1]), int(sys.argv[2])
done, acked = threading.Event(), [0]
# Our own window, below paho's in-flight limit: paho's internal queue beyond it can stall.
window = threading.Semaphore(500)
def on_publish(client, userdata, mid, *rest):
    acked[0] += 1
    window.release()
    if acked[0] == count: done.set()
c = mqtt.Client(client_id="restart-pub", protocol=mqtt.MQTTv311)
c.max_inflight_messages_set(1000)
c.on_publish = on_publish
c.connect("127.0.0.1", port)
c.loop_start()
for i in range(1, count + 1):
    window.acquire()
    c.publish("restart/t", str(i), qos=1)
if not done.wait(3600): sys.exit("not every publish was acknowledged")
c.disconnect()
c.loop_stop()
PYEOF
  t1=$(date +%s.%N)
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
  start "$limit" "$port"
  readback=$(grep -o 'read it back in [0-9]* ms' "$WORK/broker.log" | tail -1 | grep -o '[0-9]*')
  rss=$(rss_kb "$PID")
  t2=$(date +%s.%N)
  mosquitto_sub -p "$port" -i restart-sub -c -q 1 -t 'restart/#' -C "$COUNT" -W 600 >"$WORK/got"
  t3=$(date +%s.%N)
  ordered=$(seq 1 "$COUNT" | cmp -s - "$WORK/got" && echo yes || echo no)
  kill "$PID"; wait "$PID" 2>/dev/null || true
  "$PY" -c "import sys; a=sys.argv[1:]; c=int(a[0]); t0,t1,t2,t3=map(float,a[1:5]); print('%-12s %10d %10.1f %12s %12s %14.0f %10s' % (a[5], c, t1-t0, a[6], a[7], c/(t3-t2), a[8]))" \
    "$COUNT" "$t0" "$t1" "$t2" "$t3" "$limit" "$readback" "$rss" "$ordered"
done
