#!/usr/bin/python3
"""Turns compare.sh records (JSON lines) into results.json and results.md in a directory.

usage: results_table.py RECORDS.jsonl OUTDIR [mode]   (also: results_table.py --from OUTDIR/results.json OUTDIR)"""
import datetime
import json
import os
import platform
import statistics
import sys


def fmt_rate(v):
    if v is None:
        return "–"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def headline(rec):
    """(label, value, formatted) of a record's main figure; higher is better unless noted."""
    b = rec["bench"]
    if not b:
        return ("failed", None, f"failed (exit {rec['exit_code']})")
    if rec["id"].startswith("idle"):
        return ("connect time s (lower is better)", b.get("connect_time_s"), f"{b.get('connect_time_s', 0):.2f} s")
    if rec["id"].startswith("latency"):
        l = b["latency_us"]
        text = f"{l['p50']:.0f} / {l['p99']:.0f} / {l['p999']:.0f}"
        if rec.get("runs"):
            text += f" (p99 of each run: {', '.join(f'{v:.0f}' for v in rec['p99_runs'])})"
            return (f"latency µs p50/p99/p99.9, median of {rec['runs']} runs (lower is better)", l["p99"], text)
        return ("latency µs p50/p99/p99.9 (lower is better)", l["p99"], text)
    return ("deliveries/s", b.get("deliveries_per_s"), fmt_rate(b.get("deliveries_per_s")))


def extra(rec):
    b = rec["bench"]
    bits = [f"CPU {rec['broker_cpu_s']:.2f} s", f"peak RSS {rec['broker_peak_rss_kb'] / 1024:.1f} MiB"]
    if b and b.get("lost"):
        bits.append(f"lost {b['lost']}")
    if rec.get("rss_per_connection_kb") is not None:
        bits.append(f"{rec['rss_per_connection_kb']:.2f} KiB/conn")
    return ", ".join(bits)


def merge_runs(recs):
    """One record per (scenario, broker): repeated runs (latency scenarios, which sit near this
    machine's noise floor) become their median, with each run's p99 kept for the table."""
    groups, order = {}, []
    for r in recs:
        key = (r["id"], r["broker"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    merged = []
    for key in order:
        runs = groups[key]
        ok = [r for r in runs if r["bench"] and r["bench"].get("latency_us")]
        if len(runs) == 1 or len(ok) != len(runs):
            merged.extend(runs)
            continue
        m = dict(runs[0])
        m["bench"] = dict(runs[0]["bench"])
        m["bench"]["latency_us"] = {k: statistics.median(r["bench"]["latency_us"][k] for r in ok)
                                    for k in ("p50", "p99", "p999")}
        m["broker_cpu_s"] = statistics.median(r["broker_cpu_s"] for r in runs)
        m["broker_peak_rss_kb"] = max(r["broker_peak_rss_kb"] for r in runs)
        m["runs"] = len(runs)
        m["p99_runs"] = [r["bench"]["latency_us"]["p99"] for r in ok]
        merged.append(m)
    return merged


def main():
    if sys.argv[1] == "--from":
        data = json.load(open(sys.argv[2]))
        outdir = sys.argv[3]
    else:
        recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
        outdir = sys.argv[2]
        data = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "mode": sys.argv[3] if len(sys.argv) > 3 else "full",
                "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
                "records": recs}
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)

    by = {}
    order = []
    for r in merge_runs(data["records"]):
        if r["id"] not in by:
            by[r["id"]] = {"description": r["description"]}
            order.append(r["id"])
        by[r["id"]][r["broker"]] = r
    loads = [r.get("loadavg_1min_before") for r in data["records"] if r.get("loadavg_1min_before") is not None]
    load_note = f" 1-min load average before the runs: {min(loads):.2f} .. {max(loads):.2f}." if loads else ""
    lines = [f"Generated {data['generated']} ({data['mode']} run, {data['machine']['cpus']} CPUs, "
             f"kernel {data['machine']['kernel']}). Ratio = MusQraTT / Mosquitto on the headline figure." + load_note, "",
             "| scenario | figure | Mosquitto | MusQraTT | ratio | relay (calibration) | Mosquitto broker | MusQraTT broker |",
             "|---|---|---|---|---|---|---|---|"]
    for sid in order:
        row = by[sid]
        m, q, r = row.get("mosquitto"), row.get("musqratt"), row.get("relay")
        label = headline(m or q or r)[0]
        hm, hq, hr = (headline(x) if x else (None, None, "–") for x in (m, q, r))
        if q is None:
            hq = (None, None, "not run")
        lines.append(f"| {row['description']} | {label} | {hm[2]} | {hq[2]} | {ratio(hq[1], hm[1])} | {hr[2]} | "
                     f"{extra(m) if m else '–'} | {extra(q) if q else '–'} |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
