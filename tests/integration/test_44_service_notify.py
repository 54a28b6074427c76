"""The service manager's notifications (sd_notify): READY=1 only once every listener is open and
the store is recovered, RELOADING=1/READY=1 around SIGHUP, STOPPING=1, and WATCHDOG=1 pings
when WATCHDOG_USEC asks for them. The test plays systemd: it opens the datagram socket and
points NOTIFY_SOCKET at it."""
import signal
import socket
import time

import pytest

from configured_broker import configured_broker  # noqa: F401  (fixture)
from mqtt_helpers import Client

pytestmark = pytest.mark.musqratt_only


@pytest.fixture
def notify_socket(tmp_path):
    path = tmp_path / "notify"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(10)
    yield s, str(path)
    s.close()


def _next(sock, want, timeout=10.0):
    """Datagrams until one holding `want`; returns (that one, all received)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(msg)
        if want in msg.split("\n"):
            return msg, seen
    raise AssertionError(f"no {want!r} in {seen}")


def test_ready_after_listeners_and_store_then_reload_and_stop(configured_broker, notify_socket, tmp_path):
    sock, path = notify_socket
    b = configured_broker({"listen": ["127.0.0.1:0", "127.0.0.1:0"], "persistence": True,
                           "persistence_dir": str(tmp_path / "store")}, env={"NOTIFY_SOCKET": path})
    msg, seen = _next(sock, "READY=1")
    assert len(seen) == 1, "READY=1 is the first thing said"
    log = b.log()
    assert "restored 0 session(s)" in log and log.count("(mqtt, tcp)") == 2, \
        "the store was recovered and both listeners open before READY=1"
    assert "STATUS=serving 2 listener(s)" in msg
    Client(b)  # and it does serve
    b.proc.send_signal(signal.SIGHUP)
    reloading, _ = _next(sock, "RELOADING=1")
    assert "MONOTONIC_USEC=" in reloading
    _next(sock, "READY=1")
    b.proc.send_signal(signal.SIGTERM)
    _next(sock, "STOPPING=1")
    assert b.proc.wait(5) == 0


def test_watchdog_pings_when_asked(configured_broker, notify_socket):
    sock, path = notify_socket
    b = configured_broker({"listen": ["127.0.0.1:0"], "threads": 2},
                          env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    _next(sock, "READY=1")
    start = time.monotonic()
    pings = 0
    while pings < 5:
        _next(sock, "WATCHDOG=1", timeout=2)
        pings += 1
    elapsed = time.monotonic() - start
    # Every half interval (200 ms): 5 pings in about a second, never bunched up.
    assert 0.6 < elapsed < 2.5, elapsed
    assert "watchdog: pinging every 200 ms while 3 server thread(s) are alive" in b.log()


def test_no_watchdog_thread_without_a_socket_to_ping(configured_broker, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    b = configured_broker({"listen": ["127.0.0.1:0"]}, env={"WATCHDOG_USEC": "400000"})
    Client(b)
    assert "watchdog:" not in b.log()
