#!/usr/bin/env bash
# Bridge throughput, MusQraTT's [[bridge]] side by side with Mosquitto's own bridge
# (`connection`/`address`/`topic` lines), same upstream (a local Debian Mosquitto), same clients,
# same run. Each edge forwards `load/#` (QoS 1, 100 in flight towards the upstream) to
# `edge/load/#` upstream; a QoS 1 subscriber on the upstream counts every message (numbered
# payloads: lost, duplicated, reordered).
#   live:    COUNT QoS 1 messages published at the edge (publisher window 500) with the link up;
#            forwarded msg/s = COUNT / (first publish .. last arrival upstream).
#   backlog: the upstream stopped, BACKLOG messages published and acknowledged at the edge, the
#            upstream started again; drain msg/s = BACKLOG / (first .. last arrival upstream),
#            and the time from the upstream's restart to the last arrival (reconnect included:
#            reconnect_min/max_ms 1000 here, restart_timeout 1 for Mosquitto).
# Also printed: the same clients straight to the upstream (the ceiling the Python clients
# set), each edge's peak RSS (VmHWM), and the ratios MusQraTT / Mosquitto.
# Edges: MusQraTT with persistence = true (the buffer in SQLite; once more with max_inflight =
# 1000), MusQraTT without persistence (the buffer in memory), Mosquitto 2 (persistence on; it
# writes its database only on autosave and at exit, so its queue is in memory; max_queued_messages
# 1000000 so it keeps the backlog). Bounded: about a minute and a half with the defaults.
#
#   bench/bridge.sh [--count N] [--backlog N] [--edges "KIND..."]
#     defaults 20000, 50000 and "direct musqratt-disk musqratt-disk-w1000 musqratt-memory mosquitto";
#     ratios are printed when mosquitto is among the edges.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT=20000
BACKLOG=50000
EDGES="direct musqratt-disk musqratt-disk-w1000 musqratt-memory mosquitto"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT="$2"; shift ;;
    --backlog) BACKLOG="$2"; shift ;;
    --edges) EDGES="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# shellcheck source=bench/binaries.sh
. "$ROOT/bench/binaries.sh"
[ -x "$MUSQRATT" ] || { echo "$MUSQRATT missing: scripts/build.sh first" >&2; exit 1; }
[ -x "$MOSQUITTO" ] || { echo "$MOSQUITTO missing (apt-get install mosquitto)" >&2; exit 1; }
export MUSQRATT_BIN="$MUSQRATT" MOSQUITTO_BIN="$MOSQUITTO"
exec timeout 1800 /usr/bin/python3 - "$ROOT" "$COUNT" "$BACKLOG" "$EDGES" <<'PYEOF'
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

root, COUNT, BACKLOG, EDGES = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split()
KINDS = ("direct", "musqratt-disk", "musqratt-disk-w1000", "musqratt-memory", "mosquitto")
if any(k not in KINDS for k in EDGES):
    sys.exit(f"--edges takes {' '.join(KINDS)}")
sys.path.insert(0, str(root / "tests" / "bridge"))
from flow import Subscriber, count_flow, publish_numbered  # noqa: E402
from peers import Mosquitto, MusQraTT, bridge_table  # noqa: E402

INFLIGHT = 100
STARTED = []  # every broker started, stopped at the end whatever happens
RULE = [{"filter": "load/#", "direction": "out", "qos": 1, "remote_prefix": "edge/"}]


def publisher(port, n, start, out):
    out.put(publish_numbered("127.0.0.1", port, "load/x", n, qos=1, window=500, start=start, timeout=300 + n / 500))


def publish(port, n, start=0):
    """Publishes in a process of its own (the subscriber here must not share its interpreter)."""
    q = mp.Queue()
    p = mp.Process(target=publisher, args=(port, n, start, q))
    p.start()
    acked = q.get(timeout=310 + n / 500)
    p.join()
    return acked


def hwm_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Timed(Subscriber):
    """A Subscriber that also notes when the first and the last message arrived."""

    def __init__(self, *a, **kw):
        self.first = self.last = None
        super().__init__(*a, **kw)

    def _handle(self, s, p):
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        return super()._handle(s, p)


def wait_all(sub, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sub.count() < n:
        time.sleep(0.05)
    sub.wait_quiet(0.5, timeout=10)


def run(kind, tmp):
    up = Mosquitto(f"{kind}-up", tmp, persistence=True)
    STARTED.append(up)
    up.start()
    sub_id = f"counter-{kind}"
    sub = Timed("127.0.0.1", up.port, "edge/#", qos=1, client_id=sub_id, clean=False)
    if kind == "direct":
        edge_port, edge = up.port, None
    elif kind.startswith("musqratt"):
        inflight = 1000 if kind.endswith("-w1000") else INFLIGHT
        edge = MusQraTT(f"{kind}-edge", tmp, bridge_table("cloud", up.port, RULE, keepalive=30, max_inflight=inflight,
                                                          reconnect_min_ms=1000, reconnect_max_ms=1000),
                        persistence=kind.startswith("musqratt-disk"), args=["--log-level", "info"])
        STARTED.append(edge)
        edge.start()
        edge.wait_log(r"bridge 'cloud': connected to", timeout=15)
        edge_port = edge.port
    else:
        edge = Mosquitto(f"{kind}-edge", tmp, persistence=True,
                         extra=[f"max_inflight_messages {INFLIGHT}", "connection cloud",
                                f"address 127.0.0.1:{up.port}", "topic load/# out 1 \"\" edge/",
                                "cleansession false", "restart_timeout 1", "keepalive_interval 30"])
        STARTED.append(edge)
        edge.start()
        up.wait_log(r"New (client|bridge) connected .* as \S+\.cloud ", timeout=15)
        edge_port = edge.port
    res = {"kind": kind}
    # live: the link is up.
    topic_pub = "edge/x" if kind == "direct" else "load/x"
    if kind == "direct":
        # Straight to the upstream: the clients' own ceiling.
        q = mp.Queue()
        def direct(port, n, out):
            out.put(publish_numbered("127.0.0.1", port, topic_pub, n, qos=1, window=500, timeout=300))
        p = mp.Process(target=direct, args=(up.port, COUNT, q))
        t0 = time.monotonic()
        p.start()
        acked = q.get(timeout=310)
        p.join()
    else:
        t0 = time.monotonic()
        acked = publish(edge_port, COUNT)
    assert acked == COUNT, f"{kind}: {acked} of {COUNT} acknowledged"
    wait_all(sub, COUNT, 120)
    flow = count_flow(sub.payloads(), COUNT)
    res["live_rate"] = COUNT / (sub.last - t0) if sub.last else 0.0
    res["live_flow"] = flow
    if edge is None:
        sub.close()
        up.stop()
        return res
    # backlog: the upstream away while it is built.
    sub.close()
    assert up.stop() is None
    if kind.startswith("musqratt"):
        edge.wait_log(r"bridge 'cloud': link to .* lost", timeout=15)
    else:
        edge.wait_log(r"Client \S+\.cloud (closed its connection|disconnected)|Bad socket read/write on client \S+\.cloud",
                      timeout=15)
    acked = publish(edge_port, BACKLOG, start=COUNT)
    assert acked == BACKLOG, f"{kind}: {acked} of {BACKLOG} acknowledged during the outage"
    up.start()
    back = time.monotonic()
    sub = Timed("127.0.0.1", up.port, "edge/#", qos=1, client_id=sub_id, clean=False)
    wait_all(sub, BACKLOG, 180 + BACKLOG / 500)
    flow = count_flow([str(int(x.split()[0]) - COUNT).encode() for x in sub.payloads()], BACKLOG)
    res["drain_rate"] = BACKLOG / (sub.last - sub.first) if sub.first and sub.last > sub.first else 0.0
    res["drain_total_s"] = (sub.last - back) if sub.last else 0.0
    res["drain_flow"] = flow
    res["peak_rss_mib"] = hwm_kib(edge.pid) / 1024
    sub.close()
    edge.stop()
    up.stop()
    return res


def main():
    tmp = Path(tempfile.mkdtemp(prefix="musqratt-bridge-bench."))
    os.chmod(tmp, 0o755)
    results = []
    try:
        for kind in EDGES:
            t = time.monotonic()
            results.append(run(kind, tmp))
            print(f"  ({kind}: {time.monotonic() - t:.0f} s)", file=sys.stderr)
    finally:
        for p in STARTED:
            if p.alive():
                p.stop(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bridge bench: live {COUNT} QoS 1 messages, backlog {BACKLOG}, max_inflight {INFLIGHT} (-w1000: 1000)")
    print(f"{'edge':<20} {'live msg/s':>10} {'drain msg/s':>11} {'drain s':>8} {'peak RSS MiB':>12}  lost/dup/reord live; backlog")
    for r in results:
        lf, df = r["live_flow"], r.get("drain_flow")
        live = f"{lf['lost']}/{lf['duplicated']}/{lf['reordered']}"
        drain = f"{df['lost']}/{df['duplicated']}/{df['reordered']}" if df else "-"
        print(f"{r['kind']:<20} {r['live_rate']:>10.0f} {r.get('drain_rate', 0):>11.0f} "
              f"{r.get('drain_total_s', 0):>8.1f} {r.get('peak_rss_mib', 0):>12.1f}  {live}; {drain}")
    by = {r["kind"]: r for r in results}
    m = by.get("mosquitto")
    for k in ("musqratt-disk", "musqratt-disk-w1000", "musqratt-memory"):
        r = by.get(k)
        if not m or not r:
            continue
        ratio = lambda a, b: f"{a / b:.2f}" if b else "n/a"  # noqa: E731
        print(f"ratio {k} / mosquitto: live {ratio(r['live_rate'], m['live_rate'])}, "
              f"drain {ratio(r['drain_rate'], m['drain_rate'])}")


mp.set_start_method("fork")
main()
PYEOF
