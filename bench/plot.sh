#!/usr/bin/env bash
# Plots compare.sh results with gnuplot: throughput bars and latency percentiles.
#   bench/plot.sh [RESULTS_DIR]   (default bench/results/latest; writes throughput.png, latency.png there)
# Needs gnuplot (Debian: apt-get install gnuplot-nox).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/bench/results/latest}"
if ! command -v gnuplot >/dev/null; then
  echo "gnuplot missing: installing gnuplot-nox" >&2
  apt-get install -y -qq gnuplot-nox >/dev/null || { echo "apt-get install gnuplot-nox failed" >&2; exit 1; }
fi
[ -f "$DIR/results.json" ] || { echo "no $DIR/results.json (run bench/compare.sh first)" >&2; exit 1; }

/usr/bin/python3 - "$DIR" <<'PYEOF'
import json, os, statistics, sys
d = sys.argv[1]
data = json.load(open(os.path.join(d, "results.json")))
brokers = [b for b in ("flashmq", "mosquitto", "musqratt", "relay") if any(r["broker"] == b for r in data["records"])]
rows, lat = {}, {}
order = []
for r in data["records"]:
    b = r["bench"]
    # An attempt redone for the hypervisor's steal (results_table.py marks it) is not plotted.
    if not b or r["id"].startswith(("idle", "queue")) or r.get("counted") is False:
        continue
    if r["id"].startswith(("latency", "many")):
        # Repeated runs: the plot shows the median of each percentile.
        lat.setdefault(r["id"], {}).setdefault(r["broker"], []).append(b["latency_us"])
        continue
    if r["id"] not in rows:
        order.append(r["id"])
    rows.setdefault(r["id"], {}).setdefault(r["broker"], []).append(b.get("deliveries_per_s") or 0)
# Repeated runs: the bar is the median run's rate (the lower middle one, as in the table).
with open(os.path.join(d, "throughput.dat"), "w") as f:
    f.write("scenario " + " ".join(brokers) + "\n")
    for sid in order:
        f.write(sid + " " + " ".join(str(statistics.median_low(rows[sid][b]) or "NaN") if b in rows[sid] else "NaN"
                                     for b in brokers) + "\n")
with open(os.path.join(d, "latency.dat"), "w") as f:
    f.write("case p50 p90 p99 p999\n")
    for sid, per in lat.items():
        for b in brokers:
            if b in per:
                med = {k: statistics.median(l[k] for l in per[b]) for k in ("p50", "p90", "p99", "p999")}
                f.write(f"{sid}/{b} {med['p50']} {med['p90']} {med['p99']} {med['p999']}\n")

PYEOF
NB="$(head -1 "$DIR/throughput.dat" | wc -w)"; NB=$((NB - 1))
gnuplot <<EOF
set terminal pngcairo size 1200,600 noenhanced
set datafile missing "NaN"
set output "$DIR/throughput.png"
set title "Delivered messages per second (log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [1000:*]
set xtics rotate by -30
set key top right autotitle columnheader
set grid ytics
plot for [i=2:$((NB + 1))] "$DIR/throughput.dat" using i:xtic(1)
set output "$DIR/latency.png"
set title "End-to-end latency percentiles (µs, log scale)"
set yrange [1:*]
plot for [i=2:5] "$DIR/latency.dat" using i:xtic(1)
EOF
echo "wrote $DIR/throughput.png $DIR/latency.png"
