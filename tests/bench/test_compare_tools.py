"""bench/results_table.py on made-up records, and bench/compare.sh end to end on one short
scenario (FlashMQ left out when FLASHMQ_BIN is not set; with it, FlashMQ too)."""
import json
import os
import pathlib
import subprocess

import pytest

from bench_helpers import REPO

TABLE = REPO / "bench" / "results_table.py"


def rec(broker, sid, bench, **extra):
    r = {"broker": broker, "id": sid, "description": sid, "args": "", "exit_code": 0, "run": 1, "bench": bench,
         "broker_cpu_s": 1.0, "broker_peak_rss_kb": 8192, "broker_rss_before_kb": 4096, "loadavg_1min_before": 0.5}
    r.update(extra)
    return r


def lat(p99, p999=None):
    return {"p50": 10.0, "p90": 20.0, "p99": p99, "p999": p999 or p99 * 2, "max": 1000.0, "count": 10}


def tp(rate):
    return {"deliveries_per_s": rate, "delivered": 1000, "lost": 0, "latency_us": lat(50),
            "window": {"seconds": 2.0, "generator_cpu_s": 1.0, "delivered": 1000}}


def make(tmp_path, records):
    src = tmp_path / "records.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out"
    p = subprocess.run(["/usr/bin/python3", str(TABLE), str(src), str(out), "quick"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return (out / "results.md").read_text(), json.loads((out / "results.json").read_text())


def row(md, start, figure):
    return next(l for l in md.splitlines() if l.startswith(f"| {start} | {figure}"))


def test_ratios_and_shortfalls(tmp_path):
    records = [
        rec("flashmq", "p2p-qos0-50", tp(2e6)), rec("mosquitto", "p2p-qos0-50", tp(1e5)),
        rec("musqratt", "p2p-qos0-50", tp(1e6)), rec("relay", "p2p-qos0-50", tp(9e6)),
        rec("flashmq", "fanout-10", tp(1e6)), rec("mosquitto", "fanout-10", tp(1e5)),
        rec("musqratt", "fanout-10", tp(2e6)),
    ]
    for run, (f, m, q) in enumerate([(60, 70, 50), (80, 90, 55), (40, 75, 65)], start=1):
        for b, v in (("flashmq", f), ("mosquitto", m), ("musqratt", q)):
            records.append(rec(b, "latency-5k", {"latency_us": lat(v), "delivered": 100}, run=run))
    md, data = make(tmp_path, records)
    assert len(data["records"]) == len(records)
    r = row(md, "p2p-qos0-50", "deliveries/s")
    assert "| 2.00 M | 100.0 k | 1.00 M | 0.50× | 10.00× | **no** | 9.00 M |" in r
    assert "| 2.00× | 20.00× | yes |" in row(md, "fanout-10", "deliveries/s")
    # Latency: median of the three runs per broker (FlashMQ 60, Mosquitto 75, MusQraTT 55).
    r = row(md, "latency-5k", "latency µs")
    assert "median of 3 runs" in r and "p99 of each run: 50, 55, 65" in r and "| yes |" in r
    shortfalls = md.split("misses its target")[1].split("Resources")[0]
    assert "p2p-qos0-50, deliveries/s: behind or level with FlashMQ" in shortfalls
    assert "0.50× FlashMQ, target ≥ 1.5×" in shortfalls
    assert "fanout-10" not in shortfalls and "latency-5k, latency" not in shortfalls


def test_a_message_musqratt_lost_in_any_run_is_a_shortfall(tmp_path):
    lossy = dict(tp(2e5), lost=20, expected=1000)
    records = [rec("mosquitto", "p2p-16k", tp(4e4), run=n) for n in (1, 2, 3)]
    records += [rec("musqratt", "p2p-16k", lossy, run=1), rec("musqratt", "p2p-16k", tp(1.5e5), run=2),
                rec("musqratt", "p2p-16k", tp(1.6e5), run=3), rec("mosquitto", "fanin-10", dict(tp(1e5), lost=5))]
    md, _ = make(tmp_path, records)
    shortfalls = md.split("misses its target")[1].split("Resources")[0]
    assert "- p2p-16k: MusQraTT lost 20 of 1000 messages in run 1" in shortfalls
    assert "fanin-10" not in shortfalls  # another broker's loss is its own row's business


def test_many_queue_idle_figures(tmp_path):
    many = lambda cpu, p99: {"latency_us": lat(p99), "delivered": 5000, "lost": 0,
                             "window": {"seconds": 10.0, "delivered": 1000, "generator_cpu_s": 0.5},
                             "broker": {"cpu_s": cpu, "rss_kb": 20480, "rss_before_kb": 10240, "hwm_kb": 20480}}
    queue = lambda before, after, kernel: {"sent": 10000, "delivered": 0, "lost": 0, "latency_us": lat(0),
                                           "broker": {"cpu_s": 0.1, "rss_kb": after, "rss_before_kb": before},
                                           "queue": {"kernel_bytes": kernel, "packet_bytes": 100}}
    records = [
        rec("flashmq", "many-5000", many(0.02, 300)), rec("musqratt", "many-5000", many(0.01, 400)),
        # 1000 of the 10 000 messages sit in kernel queues: 9000 held, 9000 * 100 B = 878.9 KiB.
        rec("flashmq", "queue-qos1", queue(1000, 1000 + 9000 * 100 / 1024, 100000)),
        rec("musqratt", "queue-qos1", queue(1000, 1000 + 9000 * 200 / 1024, 100000)),
        rec("flashmq", "idle-100", {"connections": 100, "connect_time_s": 0.1}, rss_per_connection_kb=0.5),
        rec("musqratt", "idle-100", {"connections": 100, "connect_time_s": 0.1}, rss_per_connection_kb=0.5),
    ]
    md, _ = make(tmp_path, records)
    assert "| 20.0 | 10.0 | 0.50× | yes |" in row(md, "many-5000", "broker CPU µs per delivered message")
    assert "**no**" in row(md, "many-5000", "latency µs")
    assert "| 100 (9000 held by the broker) | 200 (9000 held by the broker) | 2.00× |" in \
        row(md, "queue-qos1", "RSS bytes per queued message")
    # Equal RSS per idle connection meets "no higher".
    assert "idle-100, RSS KiB" not in md.split("misses its target")[1]


def test_throughput_and_many_client_runs_become_their_median(tmp_path):
    many = lambda cpu, p99: {"latency_us": lat(p99), "delivered": 5000, "lost": 0,
                             "window": {"seconds": 10.0, "delivered": 1000, "generator_cpu_s": 0.5},
                             "broker": {"cpu_s": cpu, "rss_kb": 20480, "rss_before_kb": 10240}}
    records = []
    # FlashMQ's runs: 3.0 M, 1.0 M, 2.0 M -> 2.0 M; MusQraTT's: 2.5 M, 4.0 M, 2.2 M -> 2.5 M.
    for run, (f, q) in enumerate([(3e6, 2.5e6), (1e6, 4e6), (2e6, 2.2e6)], start=1):
        records += [rec("flashmq", "p2p-qos1-10", tp(f), run=run, broker_cpu_s=float(run)),
                    rec("musqratt", "p2p-qos1-10", tp(q), run=run, broker_cpu_s=10.0 * run)]
    # Many clients, CPU µs/msg FlashMQ 30, 10, 20 -> 20 and MusQraTT 25, 5, 40 -> 25;
    # p99 FlashMQ 300, 900, 100 -> 300 and MusQraTT 200, 250, 2000 -> 250.
    for run, (fc, fp, qc, qp) in enumerate([(0.03, 300, 0.025, 200), (0.01, 900, 0.005, 250),
                                            (0.02, 100, 0.04, 2000)], start=1):
        records += [rec("flashmq", "many-5000", many(fc, fp), run=run),
                    rec("musqratt", "many-5000", many(qc, qp), run=run)]
    md, data = make(tmp_path, records)
    assert len(data["records"]) == len(records)  # every run is kept in results.json
    r = row(md, "p2p-qos1-10", "deliveries/s, median of 3 runs")
    assert "| 2.00 M (each run: 3.00 M, 1.00 M, 2.00 M) | 2.50 M (each run: 2.50 M, 4.00 M, 2.20 M) | 1.25× |" in r
    # The resources shown are those of the median run (MusQraTT's first, FlashMQ's third).
    res = next(l for l in md.split("Resources")[1].splitlines() if l.startswith("| p2p-qos1-10 |"))
    assert "CPU 3.00 s" in res and "CPU 10.00 s" in res
    cpu = row(md, "many-5000", "broker CPU µs per delivered message (measured window), median of 3 runs")
    assert "| 20.0 (each run: 30.0, 10.0, 20.0) | 25.0 (each run: 25.0, 5.0, 40.0) | 1.25× | **no** |" in cpu
    lat_row = row(md, "many-5000", "latency µs p50 / p99 / p99.9, median of 3 runs")
    assert "p99 of each run: 200, 250, 2000" in lat_row and "| 0.83× | yes |" in lat_row


def test_the_least_disturbed_attempt_of_a_run_counts(tmp_path):
    # compare.sh redoes a latency run while steal is over its limit: of one run's attempts, the
    # one with the least steal counts; the others stay in results.json, marked.
    records = [
        rec("musqratt", "latency-5k", {"latency_us": lat(9000)}, run=1, attempt=1, steal_pct=17.5),
        rec("musqratt", "latency-5k", {"latency_us": lat(150)}, run=1, attempt=2, steal_pct=0.4),
        rec("musqratt", "latency-5k", {"latency_us": lat(200)}, run=2, attempt=1, steal_pct=1.0),
        rec("mosquitto", "latency-5k", {"latency_us": lat(400)}, run=1, attempt=1, steal_pct=9.0),
        rec("mosquitto", "latency-5k", {"latency_us": lat(9500)}, run=1, attempt=2, steal_pct=12.0),
        rec("mosquitto", "latency-5k", {"latency_us": lat(300)}, run=2, attempt=1, steal_pct=2.0),
    ]
    md, data = make(tmp_path, records)
    assert [r["counted"] for r in data["records"]] == [False, True, True, True, False, True]
    r = row(md, "latency-5k", "latency µs p50 / p99 / p99.9, median of 2 runs")
    assert "p99 of each run: 150, 200; steal %: 0.4, 1.0" in r
    assert "p99 of each run: 400, 300; steal %: 9.0, 2.0" in r
    # A throughput run is redone the same way, and its row shows each counted run's steal.
    records = [rec("musqratt", "p2p-qos1-10", tp(4.9e5), run=1, attempt=1, steal_pct=18.6),
               rec("musqratt", "p2p-qos1-10", tp(9.4e5), run=1, attempt=2, steal_pct=0.4),
               rec("musqratt", "p2p-qos1-10", tp(8.0e5), run=2, attempt=1, steal_pct=1.5)]
    (tmp_path / "tp").mkdir()
    md2, _ = make(tmp_path / "tp", records)
    assert "(each run: 940.0 k, 800.0 k; steal %: 0.4, 1.5)" in row(md2, "p2p-qos1-10", "deliveries/s")
    assert "during the counted runs: 0.4 .. 9.0 %; runs redone for steal: 2." in md


def test_compare_runs_without_flashmq(tmp_path):
    bench = REPO / "build" / "bin" / "musqratt-bench"
    musqratt = pathlib.Path(os.environ.get("MUSQRATT_BIN") or REPO / "build" / "bin" / "musqratt")
    if not bench.is_file() or not musqratt.is_file():
        pytest.skip("build/bin/musqratt-bench or musqratt not built")
    env = dict(os.environ, MUSQRATT_BIN=str(musqratt))
    env.pop("FLASHMQ_BIN", None)
    p = subprocess.run(["bash", str(REPO / "bench" / "compare.sh"), "--quick", "--only", "^p2p-qos0-1$",
                        "--brokers", "flashmq mosquitto musqratt", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr
    assert "FlashMQ skipped" in p.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    brokers = {r["broker"] for r in data["records"]}
    assert "flashmq" not in brokers and "musqratt" in brokers
    assert all(r["exit_code"] == 0 and r["bench"]["delivered"] > 0 for r in data["records"])
    assert "p2p QoS0 64 B, 1 pair" in (tmp_path / "results.md").read_text()


def test_compare_with_flashmq(tmp_path):
    # Only where a FlashMQ binary is provided (see docs/benchmarks.md): its generated config works.
    fl = os.environ.get("FLASHMQ_BIN")
    if not fl or not os.access(fl, os.X_OK):
        pytest.skip("FLASHMQ_BIN not set")
    p = subprocess.run(["bash", str(REPO / "bench" / "compare.sh"), "--quick", "--only", "^(p2p-qos1-10|queue-qos1)$",
                        "--brokers", "flashmq", "--out", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    recs = json.loads((tmp_path / "results.json").read_text())["records"]
    assert {r["id"] for r in recs} == {"p2p-qos1-10", "queue-qos1"}
    for r in recs:
        assert r["broker"] == "flashmq" and r["exit_code"] == 0, r
    assert next(r for r in recs if r["id"] == "p2p-qos1-10")["bench"]["lost"] == 0
