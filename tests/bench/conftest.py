"""Fixtures for the musqratt-bench smoke tests: Debian's Mosquitto and musqratt-relay on free loopback ports."""
import os
import pathlib
import socket
import subprocess
import time

import pytest

from bench_helpers import REPO, free_port

MOSQUITTO = "/usr/sbin/mosquitto"


def _bin(env, name):
    p = pathlib.Path(os.environ.get(env) or pathlib.Path("build") / "bin" / name)
    return p if p.is_absolute() else REPO / p


@pytest.fixture(scope="session")
def bench_bin():
    p = _bin("MUSQRATT_BENCH_BIN", "musqratt-bench")
    if not p.is_file():
        pytest.skip(f"{p} not built (set MUSQRATT_BENCH_BIN)")
    return str(p)


@pytest.fixture(scope="session")
def relay_bin():
    p = _bin("MUSQRATT_RELAY_BIN", "musqratt-relay")
    if not p.is_file():
        pytest.skip(f"{p} not built (set MUSQRATT_RELAY_BIN)")
    return str(p)


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} not listening after {timeout}s")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory):
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip("Debian's mosquitto is not installed (apt-get install mosquitto)")
    d = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = d / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest none\n"
        "max_queued_messages 1000000\n"
    )
    os.chmod(d, 0o755)
    os.chmod(conf, 0o644)
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        yield port
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def relay(relay_bin):
    proc = subprocess.Popen([relay_bin, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line
        port = int(line.strip().rsplit(":", 1)[1])
        wait_port(port, proc)
        yield port
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def musqratt(musqratt_proc):
    """MusQraTT's port."""
    return musqratt_proc[1]


@pytest.fixture(scope="session")
def musqratt_proc(tmp_path_factory):
    """MusQraTT itself ($MUSQRATT_BIN or build/bin/musqratt) on a free loopback port: (pid, port)."""
    p = _bin("MUSQRATT_BIN", "musqratt")
    if not p.is_file():
        pytest.skip(f"{p} not built (set MUSQRATT_BIN)")
    proc = subprocess.Popen([str(p), "--listen", "127.0.0.1:0", "--log-level", "info"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        while line and "listening on" not in line:
            line = proc.stderr.readline()
        assert "listening on" in line, line
        port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        wait_port(port, proc)
        # Keep draining the log so the broker never blocks on a full pipe.
        import threading
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        yield proc.pid, port
        assert proc.poll() is None, f"musqratt exited with {proc.returncode} during the bench smoke tests"
    finally:
        stop(proc)


@pytest.fixture(params=["mosquitto", "relay", "musqratt"])
def broker(request):
    return request.param, request.getfixturevalue(request.param)
