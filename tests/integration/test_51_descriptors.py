"""Out of file descriptors: the broker, started under a low `ulimit -n`, is flooded with more
connections than it can take. It must not spin or fill its log, must keep serving the clients
it has at normal latency, must refuse (close) what it cannot take instead of leaving it
hanging, must count it in $SYS, and must accept again by itself once descriptors free up."""
import os
import re
import resource
import socket
import subprocess
import time

import pytest

from conftest import MUSQRATT_BIN
from mqtt_helpers import Client, unique_id, wait_until

pytestmark = pytest.mark.musqratt_only

FD_LIMIT = 256
FLOOD = 400


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LowFdBroker:
    """The broker with RLIMIT_NOFILE lowered for it alone."""

    def __init__(self, tmp_path):
        self.log_path = tmp_path / "broker.log"
        self.logf = open(self.log_path, "wb")

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
        self.proc = subprocess.Popen(
            [MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--threads", "2", "--sys-interval", "1", "--log-level", "info"],
            stdout=self.logf, stderr=self.logf, preexec_fn=limit)
        m = None
        deadline = time.monotonic() + 10
        while m is None and time.monotonic() < deadline:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log())
            time.sleep(0.01)
        assert m, self.log()
        self.host, self.port = "127.0.0.1", int(m.group(1))

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.logf.close()


def round_trip(pub, sub, topic, n=20):
    """Round trips of one QoS 0 message through the broker, in seconds."""
    times = []
    for i in range(n):
        before = len(sub.messages)
        t0 = time.monotonic()
        pub.publish(topic, b"%d" % i, qos=0, wait=False)
        sub.wait_messages(before + 1, timeout=5)
        times.append(time.monotonic() - t0)
    return sorted(times)


def test_descriptor_exhaustion_is_quiet_cheap_and_recovers(tmp_path):
    b = LowFdBroker(tmp_path)
    flood = []
    try:
        sub = Client(b, version=5)
        sub.subscribe("fd/rt", qos=0)
        pub = Client(b, version=5)
        calm = round_trip(pub, sub, "fd/rt")

        log_before = len(b.log())
        cpu_before = cpu_seconds(b.proc.pid)
        t0 = time.monotonic()
        for _ in range(FLOOD):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((b.host, b.port))
            flood.append(s)
        during = round_trip(pub, sub, "fd/rt")
        time.sleep(3)  # real time: what the broker costs while the condition lasts
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(b.proc.pid) - cpu_before
        log_growth = len(b.log()) - log_before

        assert b.proc.poll() is None, "the broker died"
        assert cpu / elapsed < 0.25, f"broker used {cpu:.2f} s of CPU in {elapsed:.1f} s while out of descriptors"
        assert log_growth < 64 * 1024, f"log grew by {log_growth} bytes in {elapsed:.1f} s"
        assert during[len(during) * 9 // 10] < max(0.05, 10 * calm[len(calm) * 9 // 10]), (calm, during)
        assert "refusing new connections for now" in b.log()

        # Connections it could not take were closed, not left hanging: most see EOF or a reset.
        closed = 0
        for s in flood:
            s.setblocking(True)
            s.settimeout(0.01)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except (socket.timeout, BlockingIOError, OSError):
                pass
        assert closed > 0, "no refused connection was closed"

        # $SYS counts them (published every second); the existing client subscribes, since a
        # new one may not get a descriptor yet.
        sub.subscribe("$SYS/broker/connections/refused_exhausted", qos=0)
        wait_until(lambda: any(m.topic.endswith("refused_exhausted") and int(m.payload) > 0 for m in sub.messages),
                   timeout=5, what="$SYS refused_exhausted > 0")

        # Descriptors come back: the broker accepts again by itself.
        for s in flood:
            s.close()
        flood.clear()
        late = {}

        def connects():
            try:
                late["c"] = Client(b, client_id=unique_id("late"), version=5, timeout=1.0)
                return True
            except Exception:  # noqa: BLE001 (still paused: try again)
                return False
        wait_until(connects, timeout=10, what="a new client accepted after the flood")
    finally:
        for s in flood:
            s.close()
        b.stop()
