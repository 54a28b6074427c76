#!/usr/bin/python3
"""Turns compare.sh records (JSON lines) into results.json and results.md in a directory.

usage: results_table.py RECORDS.jsonl OUTDIR [mode] [--versions FILE]
       results_table.py --from OUTDIR/results.json OUTDIR

results.md holds: the headline table (one row per scenario figure, the three brokers side by
side, ratios MusQraTT/FlashMQ and MusQraTT/Mosquitto, who is first), the list of figures where
MusQraTT is not first or misses its target, and the resources each broker used."""
import datetime
import json
import os
import platform
import statistics
import sys

BROKERS = ("flashmq", "mosquitto", "musqratt")
NAMES = {"flashmq": "FlashMQ", "mosquitto": "Mosquitto", "musqratt": "MusQraTT", "relay": "relay"}
THROUGHPUT = ("p2p-", "fanout-", "fanin-")


def fmt_rate(v):
    if v is None:
        return "–"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k" if v >= 1e3 else f"{v:.0f}"


def many_cpu_per_message(b):
    """Broker CPU µs per message delivered in the many-client scenario's measured window."""
    w, br = b.get("window") or {}, b.get("broker") or {}
    if w.get("delivered") and br.get("cpu_s", -1) >= 0:
        return br["cpu_s"] * 1e6 / w["delivered"]
    return None


def counted_attempts(recs):
    """Marks each record "counted": of the attempts of one run (compare.sh runs a run again while
    the hypervisor's steal exceeds its limit), the one with the least steal counts, the first of
    equals. Records without attempts (older files) all count."""
    best = {}
    for i, r in enumerate(recs):
        key = (r["id"], r["broker"], r.get("run", 1))
        steal = r.get("steal_pct")
        if "attempt" not in r or steal is None:
            best[("single", i)] = i
            continue
        if key not in best or steal < recs[best[key]]["steal_pct"]:
            best[key] = i
    chosen = set(best.values())
    for i, r in enumerate(recs):
        r["counted"] = i in chosen
    return [r for r in recs if r["counted"]]


def merge_runs(recs):
    """One record per (scenario, broker). Repeated runs (every scenario but the queue and idle
    ones: one run on this machine can be off by a factor of two) become their median:
    throughput the run with the median rate (all rates kept for the table); latency each
    percentile's median, with each run's p99 kept; the many-client scenario its latency
    percentiles' and CPU per message's medians."""
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
        sid = key[0]
        if len(runs) == 1:
            merged.extend(runs)
            continue
        if sid.startswith(THROUGHPUT):
            ok = [r for r in runs if r["bench"] and r["bench"].get("deliveries_per_s") is not None]
            if len(ok) != len(runs):
                merged.extend(runs)
                continue
            rates = [r["bench"]["deliveries_per_s"] for r in ok]
            mid = statistics.median_low(rates)
            m = dict(next(r for r in ok if r["bench"]["deliveries_per_s"] == mid))
            m["runs"] = len(runs)
            m["rate_runs"] = rates
            if all(r.get("steal_pct") is not None for r in ok):
                m["steal_runs"] = [r["steal_pct"] for r in ok]
            merged.append(m)
            continue
        ok = [r for r in runs if r["bench"] and r["bench"].get("latency_us")]
        if len(ok) != len(runs):
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
        if all(r.get("steal_pct") is not None for r in ok):
            m["steal_runs"] = [r["steal_pct"] for r in ok]
        if sid.startswith("many"):
            cpu = [many_cpu_per_message(r["bench"]) for r in ok]
            if all(v is not None for v in cpu):
                m["cpu_per_message_runs"] = cpu
        merged.append(m)
    return merged


class Figure:
    """One figure of one scenario for every broker: value (for ranking/ratios) and its text."""

    def __init__(self, label, lower_better, target=None):
        self.label, self.lower_better, self.target = label, lower_better, target
        self.value, self.text = {}, {}

    def put(self, broker, value, text=None):
        self.value[broker] = value
        self.text[broker] = text if text is not None else ("–" if value is None else f"{value:.0f}")


def steal_text(rec):
    """"; steal %: a, b, c" for a row of repeated runs whose steal was recorded, else ""."""
    runs = rec.get("steal_runs")
    return f"; steal %: {', '.join(f'{v:.1f}' for v in runs)}" if runs else ""


def latency_text(rec):
    l = rec["bench"]["latency_us"]
    text = f"{l['p50']:.0f} / {l['p99']:.0f} / {l['p999']:.0f}"
    if rec.get("runs"):
        text += f" (p99 of each run: {', '.join(f'{v:.0f}' for v in rec['p99_runs'])}{steal_text(rec)})"
    return text


def queued_bytes_per_message(b):
    """Queue scenario: RSS growth divided by the messages the broker itself holds (those in the
    kernel's socket queues of the stalled subscriber do not count)."""
    br, q = b.get("broker") or {}, b.get("queue") or {}
    if not br or not q or br.get("rss_kb", -1) < 0 or br.get("rss_before_kb", -1) < 0:
        return None, None
    in_kernel = q["kernel_bytes"] / q["packet_bytes"] if q.get("kernel_bytes", -1) >= 0 and q.get("packet_bytes") else 0
    held = b["sent"] - in_kernel
    if held <= 0:
        return None, None
    return (br["rss_kb"] - br["rss_before_kb"]) * 1024 / held, held


def median_label(recs):
    """", median of N runs" when the records are medians of repeated runs, else ""."""
    runs = next((r.get("runs") for r in recs.values() if r.get("runs")), None)
    return f", median of {runs} runs" if runs else ""


def figures_for(sid, recs):
    """The figures of scenario sid, given {broker: merged record}."""
    ok = {k: r for k, r in recs.items() if r["bench"] and r["exit_code"] in (0, 1)}
    failed = {k: f"failed (exit {r['exit_code']})" for k, r in recs.items() if k not in ok}
    figs = []
    if sid.startswith(THROUGHPUT):
        f = Figure("deliveries/s" + median_label(ok), False, target="throughput")
        for k, r in ok.items():
            v = r["bench"].get("deliveries_per_s")
            text = fmt_rate(v)
            if r.get("rate_runs"):
                text += f" (each run: {', '.join(fmt_rate(x) for x in r['rate_runs'])}{steal_text(r)})"
            f.put(k, v, text)
        figs.append(f)
    elif sid.startswith("latency"):
        median = median_label(ok)
        f = Figure("latency µs p50 / p99 / p99.9" + median + "; ranked by p99", True, target="lowest")
        g = Figure("p99.9 latency µs" + median, True, target="lowest")
        for k, r in ok.items():
            f.put(k, r["bench"]["latency_us"]["p99"], latency_text(r))
            g.put(k, r["bench"]["latency_us"]["p999"], f"{r['bench']['latency_us']['p999']:.0f}")
        figs += [f, g]
    elif sid.startswith("many"):
        median = median_label(ok)
        cpu = Figure("broker CPU µs per delivered message (measured window)" + median, True, target="lowest")
        lat = Figure("latency µs p50 / p99 / p99.9" + median + "; ranked by p99", True, target="lowest")
        p999 = Figure("p99.9 latency µs" + median, True)
        rss = Figure("broker RSS MiB at the end of the window" + (" (first run)" if median else ""), True)
        for k, r in ok.items():
            b = r["bench"]
            br = b.get("broker") or {}
            each = r.get("cpu_per_message_runs")
            v = statistics.median(each) if each else many_cpu_per_message(b)
            if v is not None:
                cpu.put(k, v, f"{v:.1f}" + (f" (each run: {', '.join(f'{x:.1f}' for x in each)})" if each else ""))
            else:  # the broker's /proc entry was gone when the window closed
                cpu.put(k, None, "n/a (broker had exited)")
                rss.put(k, None, "n/a (broker had exited)")
            lat.put(k, b["latency_us"]["p99"], latency_text(r))
            p999.put(k, b["latency_us"]["p999"], f"{b['latency_us']['p999']:.0f}")
            if br.get("rss_kb", -1) >= 0:
                rss.put(k, br["rss_kb"] / 1024, f"{br['rss_kb'] / 1024:.1f}")
        figs += [cpu, lat, p999, rss]
    elif sid.startswith("queue"):
        f = Figure("RSS bytes per queued message", True)
        for k, r in ok.items():
            v, held = queued_bytes_per_message(r["bench"])
            f.put(k, v, "–" if v is None else f"{v:.0f} ({held:.0f} held by the broker)")
        figs.append(f)
    elif sid.startswith("idle"):
        f = Figure("RSS KiB per idle connection", True, target="no higher")
        c = Figure("connect time s", True)
        for k, r in ok.items():
            v = r.get("rss_per_connection_kb")
            f.put(k, v, "–" if v is None else f"{v:.2f}")
            c.put(k, r["bench"].get("connect_time_s"), f"{r['bench'].get('connect_time_s', 0):.2f}")
        figs += [f, c]
    for f in figs:
        for k, t in failed.items():
            f.put(k, None, t)
    return figs


def ratio(f, a, b):
    va, vb = f.value.get(a), f.value.get(b)
    return f"{va / vb:.2f}×" if va and vb else "–"


def verdict(f, present):
    """(first, problems): whether MusQraTT is first among the brokers present, and what it misses."""
    q = f.value.get("musqratt")
    others = {k: f.value.get(k) for k in present if k != "musqratt" and f.value.get(k) is not None}
    if q is None or not others:
        return None, []
    better = (lambda a, b: a < b) if f.lower_better else (lambda a, b: a > b)
    if f.target == "no higher":
        ahead = [k for k, v in others.items() if q > v]
    else:
        ahead = [k for k, v in others.items() if not better(q, v)]
    problems = []
    if ahead:
        problems.append("behind or level with " + " and ".join(NAMES[k] for k in ahead) + ": " + ", ".join(
            f"{NAMES[k]} {f.text[k].split(' (')[0]}" for k in [*ahead, "musqratt"]))
    if f.target == "throughput":
        for k, need in (("flashmq", 1.5), ("mosquitto", 5.0)):
            if others.get(k) and q / others[k] < need:
                problems.append(f"{q / others[k]:.2f}× {NAMES[k]}, target ≥ {need}×")
    return not ahead, problems


def resources(rec):
    b = rec["bench"] or {}
    bits = [f"CPU {rec['broker_cpu_s']:.2f} s"]
    d = b.get("delivered")
    if d and not rec["id"].startswith(("queue", "idle")):
        bits.append(f"{rec['broker_cpu_s'] * 1e6 / d:.2f} µs/msg")
    bits.append(f"peak RSS {rec['broker_peak_rss_kb'] / 1024:.1f} MiB")
    if b.get("lost"):
        bits.append(f"lost {b['lost']}")
    w = b.get("window") or {}
    if w.get("seconds"):
        bits.append(f"generator {100 * w['generator_cpu_s'] / w['seconds']:.0f} % of a core")
    return ", ".join(bits)


def main():
    args = sys.argv[1:]
    versions = {}
    if "--versions" in args:
        i = args.index("--versions")
        try:
            versions = json.load(open(args[i + 1]))
        except (OSError, ValueError):
            versions = {}
        del args[i:i + 2]
    if args[0] == "--from":
        data = json.load(open(args[1]))
        outdir = args[2]
    else:
        recs = [json.loads(l) for l in open(args[0]) if l.strip()]
        outdir = args[1]
        data = {"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "mode": args[2] if len(args) > 2 else "full",
                "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
                "versions": versions,
                "records": recs}
    os.makedirs(outdir, exist_ok=True)
    counted = counted_attempts(data["records"])
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)

    by, order = {}, []
    for r in merge_runs(counted):
        if r["id"] not in by:
            by[r["id"]] = {"description": r["description"], "recs": {}}
            order.append(r["id"])
        by[r["id"]]["recs"][r["broker"]] = r
    present = [b for b in BROKERS if any(b in v["recs"] for v in by.values())]
    loads = [r.get("loadavg_1min_before") for r in data["records"] if r.get("loadavg_1min_before") is not None]
    steals = [r["steal_pct"] for r in counted if r.get("steal_pct") is not None]
    redone = sum(1 for r in data["records"] if r.get("attempt", 1) > 1)
    v = data.get("versions") or {}
    vtext = "; ".join(f"{NAMES[k]}: {v[k]}" for k in BROKERS if v.get(k))
    lines = [f"Generated {data['generated']} ({data['mode']} run, {data['machine']['cpus']} CPUs, "
             f"kernel {data['machine']['kernel']})." + (f" {vtext}." if vtext else "") +
             (f" 1-min load average before the runs: {min(loads):.2f} .. {max(loads):.2f}." if loads else "") +
             (f" Steal (CPU time the hypervisor took) during the counted runs: {min(steals):.1f} .. "
              f"{max(steals):.1f} %; runs redone for steal: {redone}." if steals else ""), "",
             "Ratios are MusQraTT / the other broker on the figure of the row: above 1 is better for "
             "MusQraTT on rates, below 1 is better on latency, CPU and memory.", ""]
    head = "| scenario | figure | " + " | ".join(NAMES[b] for b in present) + " | " + \
        " | ".join(f"MusQraTT/{NAMES[b]}" for b in present if b != "musqratt") + " | MusQraTT first | relay (calibration) |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    shortfalls = []
    for sid in order:
        row = by[sid]
        relay = row["recs"].get("relay")
        relay_figs = {g.label: g for g in figures_for(sid, {"relay": relay})} if relay else {}
        for f in figures_for(sid, {k: r for k, r in row["recs"].items() if k in BROKERS}):
            rf = relay_figs.get(f.label)
            first, problems = verdict(f, present)
            cells = [f.text.get(b, "not run") for b in present]
            ratios = [ratio(f, "musqratt", b) for b in present if b != "musqratt"]
            mark = "–" if first is None else ("yes" if first else "**no**")
            lines.append(f"| {row['description']} | {f.label} | " + " | ".join(cells) + " | " + " | ".join(ratios) +
                         f" | {mark} | {rf.text.get('relay', '–') if rf else '–'} |")
            if problems:
                shortfalls.append(f"- {row['description']}, {f.label}: " + "; ".join(problems))
    lines += ["", "Where MusQraTT is not first, or misses its target (≥ 1.5× FlashMQ and ≥ 5× Mosquitto on "
              "throughput; lowest latency and CPU per message; RSS per idle connection no higher):", ""]
    # Every queue in these runs is unlimited, so a message MusQraTT did not deliver is a fault to
    # state, whichever run it was in (the table shows only the median run's resources).
    for r in counted:
        b = r.get("bench") if isinstance(r.get("bench"), dict) else {}
        if r["broker"] == "musqratt" and b.get("lost"):
            shortfalls.append(f"- {r['description']}: MusQraTT lost {b['lost']} of {b.get('expected', '?')} "
                              f"messages in run {r.get('run', 1)}")
    lines += shortfalls or ["- none"]
    lines += ["", "Resources (broker CPU over the whole run including connecting and draining, per delivered "
              "message; peak RSS; the generator's CPU over its measured window):", "",
              "| scenario | " + " | ".join(NAMES[b] for b in present) + " |",
              "|---|" + "---|" * len(present)]
    for sid in order:
        row = by[sid]
        lines.append(f"| {row['description']} | " +
                     " | ".join(resources(row["recs"][b]) if b in row["recs"] else "–" for b in present) + " |")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
