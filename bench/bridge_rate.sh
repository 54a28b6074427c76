#!/usr/bin/env bash
# QoS 1 forwarding rate through a bridge with the C++ load generator, so the clients are not the
# ceiling (bench/bridge.sh's Python clients stop at about 15 000 msg/s on a 2-core machine).
# musqratt-bench publishes at the edge (--port) and subscribes at the upstream (--sub-port):
# every message it counts went publisher -> edge -> bridge -> upstream -> subscriber, and it
# reports lost, duplicated and reordered messages. Edges, taking turns in each round, each
# freshly started with a fresh upstream:
#   musqratt-disk        MusQraTT [[bridge]], persistence = true (the buffer in SQLite), the
#                        default max_inflight (100)
#   musqratt-disk-w1000  the same with max_inflight = 1000
#   musqratt-memory      MusQraTT without persistence (the buffer in memory), max_inflight 100
#   mosquitto            Mosquitto 2's bridge (`topic bench/# out 1`), max_inflight_messages 100
# The upstream is Debian's Mosquitto, or MusQraTT with --upstream musqratt (the same for every
# edge of a run). Prints each edge's median delivered msg/s over the rounds and the ratios to
# Mosquitto's bridge.
#
#   bench/bridge_rate.sh [--pairs N] [--count N] [--rounds N] [--upstream mosquitto|musqratt]
#                        [--edges "KIND..."]        (defaults 4, 25000, 3, mosquitto, all four)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PAIRS=4
COUNT=25000
ROUNDS=3
UPSTREAM=mosquitto
EDGES="musqratt-disk musqratt-disk-w1000 musqratt-memory mosquitto"
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs) PAIRS="$2"; shift ;;
    --count) COUNT="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --upstream) UPSTREAM="$2"; shift ;;
    --edges) EDGES="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
for b in "$MUSQRATT" "$MOSQUITTO" "$BENCH"; do [ -x "$b" ] || { echo "$b missing (scripts/build.sh)" >&2; exit 1; }; done
export MUSQRATT_BIN="$MUSQRATT" MOSQUITTO_BIN="$MOSQUITTO"
exec timeout 1800 /usr/bin/python3 - "$ROOT" "$BENCH" "$PAIRS" "$COUNT" "$ROUNDS" "$UPSTREAM" "$EDGES" <<'PYEOF'
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

root, BENCH = Path(sys.argv[1]), sys.argv[2]
PAIRS, COUNT, ROUNDS, UPSTREAM, EDGES = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7].split()
KINDS = ("musqratt-disk", "musqratt-disk-w1000", "musqratt-memory", "mosquitto")
if any(k not in KINDS for k in EDGES) or UPSTREAM not in ("mosquitto", "musqratt"):
    sys.exit(f"--edges takes {' '.join(KINDS)}; --upstream mosquitto or musqratt")
sys.path.insert(0, str(root / "tests" / "bridge"))
from peers import Mosquitto, MusQraTT, bridge_table  # noqa: E402

INFLIGHT = 100
RULE = [{"filter": "bench/#", "direction": "out", "qos": 1}]
STARTED = []


def start_upstream(tmp, name):
    up = Mosquitto(name, tmp) if UPSTREAM == "mosquitto" else MusQraTT(name, tmp, args=["--log-level", "info"])
    STARTED.append(up)
    return up.start()


def start_edge(kind, tmp, up):
    name = f"{kind}-edge"
    if kind.startswith("musqratt"):
        inflight = 1000 if kind.endswith("-w1000") else INFLIGHT
        edge = MusQraTT(name, tmp, bridge_table("cloud", up.port, RULE, keepalive=30, max_inflight=inflight),
                        persistence=kind.startswith("musqratt-disk"), args=["--log-level", "info"])
        STARTED.append(edge)
        edge.start()
        edge.wait_log(r"bridge 'cloud': connected to", timeout=15)
    else:
        edge = Mosquitto(name, tmp, extra=[f"max_inflight_messages {INFLIGHT}", "connection cloud",
                                           f"address 127.0.0.1:{up.port}", "topic bench/# out 1",
                                           "cleansession false", "restart_timeout 1", "keepalive_interval 30"])
        STARTED.append(edge)
        edge.start()
        # The bridge is up once the upstream has its connection.
        deadline = time.monotonic() + 15
        while "cloud" not in up.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    return edge


def one(kind, tmp, rnd):
    up = start_upstream(tmp, f"{kind}-up-{rnd}")
    edge = start_edge(kind, tmp, up)
    cmd = [BENCH, "--port", str(edge.port), "--sub-port", str(up.port), "--scenario", "p2p", "--pairs", str(PAIRS),
           "--qos", "1", "--count", str(COUNT // PAIRS), "--inflight", "100", "--drain", "5", "--json",
           "--no-progress", "--broker-pid", str(edge.pid), "--client-prefix", f"{kind}-{rnd}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = json.loads(r.stdout)
    edge.stop()
    up.stop()
    return out


def main():
    tmp = Path(tempfile.mkdtemp(prefix="musqratt-bridge-rate."))
    os.chmod(tmp, 0o755)
    runs = {k: [] for k in EDGES}
    try:
        for rnd in range(ROUNDS):
            for kind in EDGES:
                out = one(kind, tmp, rnd)
                runs[kind].append(out)
                print(f"  round {rnd + 1} {kind}: {out['deliveries_per_s']:.0f} msg/s, "
                      f"lost {out['lost']} dup {out['dup']} out of order {out['out_of_order']}", file=sys.stderr)
    finally:
        for p in STARTED:
            if p.alive():
                p.stop(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bridge rate: {COUNT} QoS 1 messages per run, {PAIRS} publisher/subscriber pairs (window 100 each), "
          f"upstream {UPSTREAM}, {ROUNDS} round(s); median delivered msg/s")
    print(f"{'edge':<20} {'msg/s':>9} {'runs':<30} {'lost/dup/reord (all runs)'}")
    med = {}
    for kind, outs in runs.items():
        rates = [o["deliveries_per_s"] for o in outs]
        med[kind] = statistics.median(rates)
        bad = f"{sum(o['lost'] for o in outs)}/{sum(o['dup'] for o in outs)}/{sum(o['out_of_order'] for o in outs)}"
        print(f"{kind:<20} {med[kind]:>9.0f} {' '.join(f'{x:.0f}' for x in rates):<30} {bad}")
    m = med.get("mosquitto")
    if m:
        for kind in EDGES:
            if kind != "mosquitto":
                print(f"ratio {kind} / mosquitto: {med[kind] / m:.2f}")


main()
PYEOF
