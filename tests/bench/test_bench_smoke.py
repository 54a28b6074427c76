"""Smoke runs of every musqratt-bench scenario against Mosquitto and musqratt-relay.

Only completeness and correctness of the report are checked, never timings."""
import json
import subprocess
import time

import pytest

from bench_helpers import free_port

KEYS = {"scenario", "params", "sent", "delivered", "msgs_per_s", "deliveries_per_s", "lost", "dup",
        "out_of_order", "connect_errors", "latency_us", "duration_s"}
LATENCY_KEYS = {"p50", "p90", "p99", "p999", "max"}


def run(bench_bin, port, *args, timeout=120):
    cmd = [bench_bin, "--port", str(port), "--json", "--no-progress", "--drain", "1", *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    report = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, report, p.stderr


def check_report(r, scenario):
    assert KEYS <= r.keys()
    assert LATENCY_KEYS <= r["latency_us"].keys()
    assert r["scenario"] == scenario
    assert r["connect_errors"] == 0
    for k in ("sent", "delivered", "lost", "dup", "out_of_order"):
        assert isinstance(r[k], int) and r[k] >= 0


CASES = [
    ("p2p", 0, ["--pairs", 2, "--count", 3000]),
    ("p2p", 1, ["--pairs", 2, "--count", 3000]),
    ("p2p", 2, ["--pairs", 2, "--count", 3000]),
    ("p2p", 1, ["--pairs", 2, "--count", 2000, "--v5"]),
    ("p2p", 2, ["--pairs", 1, "--count", 2000, "--v5", "--threads", 2]),
    ("fanout", 0, ["--subscribers", 5, "--count", 2000]),
    ("fanout", 1, ["--subscribers", 5, "--count", 2000, "--v5"]),
    ("fanin", 0, ["--publishers", 5, "--count", 2000]),
    ("fanin", 2, ["--publishers", 5, "--count", 1000, "--threads", 2]),
    ("p2p", 1, ["--pairs", 1, "--duration", 0.5, "--rate", 2000]),
    ("p2p", 0, ["--pairs", 1, "--count", 300, "--size", 16384]),
]


@pytest.mark.parametrize("scenario,qos,args", CASES, ids=lambda v: str(v))
def test_scenario(bench_bin, broker, scenario, qos, args):
    _, port = broker
    rc, r, err = run(bench_bin, port, "--scenario", scenario, "--qos", qos, "--expect-no-loss", *args)
    assert r is not None, err
    check_report(r, scenario)
    assert r["sent"] > 0
    assert r["params"]["qos"] == qos
    if qos > 0:  # over loopback with a window, nothing may be lost
        assert r["lost"] == 0, r
        assert r["delivered"] == r["expected"]
        assert rc == 0, err
    else:
        assert rc in (0, 1)
        assert (rc == 1) == (r["lost"] > 0)


@pytest.mark.parametrize("v5", [False, True])
def test_persist_mosquitto(bench_bin, mosquitto, v5):
    extra = ["--v5"] if v5 else []
    rc, r, err = run(bench_bin, mosquitto, "--scenario", "persist", "--subscribers", 3, "--count", 2000,
                     "--expect-no-loss", *extra)
    assert r is not None, err
    check_report(r, "persist")
    assert r["params"]["qos"] == 1
    assert r["lost"] == 0 and r["delivered"] == 3 * r["sent"] == 6000
    assert rc == 0


@pytest.mark.parametrize("v5", [False, True])
def test_persist_musqratt(bench_bin, musqratt, v5):
    extra = ["--v5"] if v5 else []
    rc, r, err = run(bench_bin, musqratt, "--scenario", "persist", "--subscribers", 3, "--count", 2000,
                     "--expect-no-loss", *extra)
    assert r is not None, err
    check_report(r, "persist")
    assert r["lost"] == 0 and r["delivered"] == 3 * r["sent"] == 6000
    assert rc == 0


def test_persist_relay_loses_everything(bench_bin, relay):
    # The relay keeps no sessions: every message sent while the subscribers were away is lost.
    rc, r, _ = run(bench_bin, relay, "--scenario", "persist", "--subscribers", 2, "--count", 500,
                   "--expect-no-loss", "--drain", "0.3")
    check_report(r, "persist")
    assert r["lost"] == 2 * r["sent"] == 1000
    assert rc == 1


def test_drain_max_ends_a_drain_that_would_go_on(bench_bin, relay):
    # --drain 30 alone would wait 30 s for the deliveries the relay never makes.
    started = time.monotonic()
    rc, r, _ = run(bench_bin, relay, "--scenario", "persist", "--subscribers", 2, "--count", 500,
                   "--drain", "30", "--drain-max", "0.5", timeout=20)
    assert time.monotonic() - started < 15
    assert r["drain_cut"] is True and r["params"]["drain_max"] == 0.5
    assert r["lost"] == 2 * r["sent"] == 1000


def test_idle(bench_bin, broker, tmp_path):
    _, port = broker
    ready = tmp_path / "ready"
    rc, r, err = run(bench_bin, port, "--scenario", "idle", "--connections", 300, "--hold", 0.2,
                     "--ready-file", ready)
    assert rc == 0, err
    assert r["connections"] == 300 and r["connect_errors"] == 0
    assert r["connect_us"]["count"] == 300
    assert ready.read_text().strip() == "300"


def test_connection_refused_exits_3(bench_bin):
    rc, r, _ = run(bench_bin, free_port(), "--count", 10, "--connect-timeout", 5)
    assert rc == 3
    assert r["connect_errors"] == 2


def test_table_output(bench_bin, relay):
    p = subprocess.run([bench_bin, "--port", str(relay), "--count", "1000"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for word in ("delivered", "latency (us)", "lost", "connect errors"):
        assert word in p.stdout


def test_paced_publishers_all_delivered(bench_bin, broker):
    # Many publishers paced by --rate (staggered, served from a timer heap): every message arrives.
    _, port = broker
    rc, r, err = run(bench_bin, port, "--pairs", 300, "--qos", 1, "--rate", 3000, "--count", 3, "--expect-no-loss")
    assert rc == 0, err
    check_report(r, "p2p")
    assert r["sent"] == 900 and r["delivered"] == 900 and r["lost"] == 0 and r["dup"] == 0


def test_warmup_window_and_broker_sampling(bench_bin, musqratt_proc):
    pid, port = musqratt_proc
    rc, r, err = run(bench_bin, port, "--pairs", 2, "--qos", 1, "--rate", 400, "--warmup", 0.3, "--duration", 0.6,
                     "--broker-pid", pid)
    assert rc == 0, err
    check_report(r, "p2p")
    w, b = r["window"], r["broker"]
    assert w["warmup_s"] == 0.3 and w["seconds"] > 0
    # Only deliveries inside the window are counted there, and latency only for messages sent in it.
    assert 0 < w["delivered"] < r["delivered"]
    assert 0 < r["latency_us"]["count"] < r["delivered"]
    assert w["generator_cpu_s"] >= 0
    assert b["pid"] == pid and b["cpu_s"] >= 0 and b["rss_kb"] > 0 and b["rss_before_kb"] > 0
    assert b["hwm_kb"] >= b["rss_kb"]


def test_broker_pid_of_a_missing_process(bench_bin, relay):
    # A pid that is not there: the run still completes, the broker figures say "not sampled".
    rc, r, err = run(bench_bin, relay, "--count", 200, "--broker-pid", 999999999)
    assert rc == 0, err
    assert r["broker"]["cpu_s"] == -1 and r["broker"]["rss_kb"] == -1


@pytest.mark.parametrize("qos", [0, 1])
def test_queue(bench_bin, musqratt_proc, tmp_path, qos):
    # Subscribers stop reading: every message stays queued (broker or kernel), none is delivered.
    pid, port = musqratt_proc
    ready = tmp_path / "ready"
    rc, r, err = run(bench_bin, port, "--scenario", "queue", "--pairs", 2, "--qos", qos, "--count", 3000,
                     "--hold", 0.2, "--broker-pid", pid, "--ready-file", ready)
    assert rc == 0, err
    check_report(r, "queue")
    assert r["sent"] == 6000 and r["delivered"] == 0 and r["lost"] == 0
    if qos:
        assert r["acked"] == 6000
    q = r["queue"]
    assert q["packet_bytes"] == 2 + 2 + len("bench/queue/0") + (2 if qos else 0) + 64
    # Whatever the kernel holds is at most what was sent, and it was found (loopback).
    assert 0 <= q["kernel_bytes"] <= 6000 * q["packet_bytes"]
    assert r["broker"]["rss_kb"] > 0
    assert ready.read_text().strip() == "6000"


@pytest.mark.parametrize("args", [["--size", "8"], ["--qos", "3"], ["--bogus"], ["--scenario", "nope"],
                                  ["--count", "5", "--duration", "1"], ["--scenario", "persist", "--qos", "0"],
                                  ["--warmup", "1"], ["--scenario", "queue", "--duration", "1"],
                                  ["--broker-pid", "0"], ["--broker-pid", "x"], ["--drain-max", "-1"]])
def test_usage_errors(bench_bin, args):
    p = subprocess.run([bench_bin, *args], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert p.stderr


def test_help(bench_bin):
    p = subprocess.run([bench_bin, "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "--scenario" in p.stdout
