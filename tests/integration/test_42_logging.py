"""Log destinations and formats: a file reopened on SIGUSR1 (logrotate), JSON lines, syslog."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import MUSQRATT_BIN
from configured_broker import configured_broker  # noqa: F401  (fixture)
from mqtt_helpers import Client

pytestmark = pytest.mark.musqratt_only


def _wait_for(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_log_file_is_reopened_on_sigusr1(configured_broker, tmp_path):
    log = tmp_path / "musqratt.log"
    b = configured_broker({"listen": ["127.0.0.1:0"], "log_dest": "file", "log_file": str(log)}, log_to_file=log)
    assert "running" in log.read_text()
    assert oct(log.stat().st_mode & 0o777) == "0o640"
    rotated = tmp_path / "musqratt.log.1"
    log.rename(rotated)  # logrotate's default: move, then signal
    Client(b, client_id="before-reopen")
    assert _wait_for(lambda: "before-reopen" in rotated.read_text()), "lines go to the moved file until reopened"
    b.proc.send_signal(signal.SIGUSR1)
    assert _wait_for(lambda: log.exists() and "SIGUSR1: log file reopened" in log.read_text())
    Client(b, client_id="after-reopen")
    assert _wait_for(lambda: "after-reopen" in log.read_text())
    assert "after-reopen" not in rotated.read_text()


def test_json_lines(configured_broker, tmp_path):
    log = tmp_path / "musqratt.json"
    b = configured_broker({"listen": ["127.0.0.1:0"], "log_dest": "file", "log_file": str(log), "log_format": "json",
                           "log_level": "debug"}, log_to_file=log)
    Client(b, client_id="json-\u00e9")
    assert _wait_for(lambda: "json-" in log.read_text())
    lines = log.read_text().splitlines()
    assert len(lines) >= 4
    for line in lines:
        entry = json.loads(line)
        assert set(entry) >= {"time", "level", "message"}
        assert entry["level"] in ("trace", "debug", "info", "warn", "error")
        assert entry["time"].endswith("Z")
    assert any("json-\u00e9" in json.loads(line)["message"] for line in lines)


def test_log_to_stderr_is_the_default_and_an_unwritable_file_refuses_start(tmp_path):
    r = subprocess.run([MUSQRATT_BIN, "--log-dest", "file", "--log-file", str(tmp_path / "no" / "such" / "dir.log")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "no/such/dir.log" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare(1) to give the broker a private /dev/log")
def test_syslog_lines_reach_dev_log(tmp_path):
    # syslog(3) writes datagrams to /dev/log. In a private mount namespace, a directory of ours
    # is mounted over /dev, so the broker's syslog lines come to a socket this test reads.
    dev = tmp_path / "dev"
    dev.mkdir()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dev / "log"))
    sock.settimeout(10)
    (dev / "null").touch()
    script = (f"mount --bind {dev} /dev && exec {MUSQRATT_BIN} --listen 127.0.0.1:0 "
              "--log-dest syslog --log-format text")
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("running" in g for g in got):
            got.append(sock.recv(4096).decode(errors="replace"))
        assert any("running" in g for g in got), got
        line = next(g for g in got if "running" in g)
        # <30> is facility daemon (3) * 8 + info (6); the ident is the program's name and pid.
        # unshare and sh exec into the broker, so it keeps the pid of the process started here.
        assert line.startswith("<30>"), line
        assert f"musqratt[{proc.pid}]: musqratt " in line, line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
        sock.close()
