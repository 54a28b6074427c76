"""Fixtures for the musqratt-cli tests.

The CLI is tested against a real broker:
  * MQTT_TEST_BROKER=musqratt  -> $MUSQRATT_BIN started with --listen 127.0.0.1:0
  * MQTT_TEST_BROKER=mosquitto -> Debian's /usr/sbin/mosquitto on a free loopback port
Default: musqratt when $MUSQRATT_BIN names an existing file, else mosquitto.
The binary under test is $MUSQRATT_CLI (default build/bin/musqratt-cli under the repo root).
A few tests also use a second Mosquitto that refuses anonymous clients, and a tiny
scripted fake broker (fake_broker.py) for acknowledgements no real broker sends on demand.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO_ROOT = HERE.parent.parent
CLI = os.environ.get("MUSQRATT_CLI") or str(REPO_ROOT / "build" / "bin" / "musqratt-cli")
MOSQUITTO = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN", "")


def broker_kind():
    kind = os.environ.get("MQTT_TEST_BROKER", "").strip().lower()
    if kind:
        if kind not in ("mosquitto", "musqratt"):
            raise pytest.UsageError(f"MQTT_TEST_BROKER must be mosquitto or musqratt, not {kind}")
        return kind
    return "musqratt" if MUSQRATT_BIN and os.path.isfile(MUSQRATT_BIN) else "mosquitto"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A loopback port with nothing listening on it."""
    return free_port()


class Broker:
    def __init__(self, kind, port, proc, log_path):
        self.kind, self.host, self.port, self.proc, self.log_path = kind, "127.0.0.1", port, proc, log_path

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def wait_subscribed(self, *filters, count=1, timeout=10.0):
        """Waits until the broker's log shows each topic filter subscribed `count` times (by
        any clients)."""
        for f in filters:
            if self.kind == "mosquitto":  # "<client id> <qos> <filter>", after it is added
                rx = re.compile(rf" \d {re.escape(f)}$", re.MULTILINE)
            else:  # "'<client id>' subscribed to '<filter>' (QoS n)"
                rx = re.compile(rf" subscribed to '{re.escape(f)}' ")
            deadline = time.monotonic() + timeout
            while len(rx.findall(self.log())) < count:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no subscription to {f!r} in the broker log within {timeout}s")
                if self.proc.poll() is not None:
                    raise AssertionError(f"the broker exited (code {self.proc.returncode})")
                time.sleep(0.01)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_mosquitto(tmpdir, allow_anonymous=True):
    port = free_port()
    conf = Path(tmpdir) / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous {'true' if allow_anonymous else 'false'}\n"
                    "persistence false\nlog_dest stderr\nlog_type all\n")
    log_path = Path(tmpdir) / f"mosquitto-{port}.log"
    logf = open(log_path, "wb")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    logf.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mosquitto exited at start-up:\n{log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Broker("mosquitto", port, proc, log_path)
        except OSError:
            time.sleep(0.02)
    proc.kill()
    pytest.fail("mosquitto did not listen within 10 s")


def start_musqratt(tmpdir):
    if not os.access(MUSQRATT_BIN, os.X_OK):
        pytest.fail(f"MQTT_TEST_BROKER=musqratt but $MUSQRATT_BIN is not executable: {MUSQRATT_BIN!r}")
    log_path = Path(tmpdir) / "musqratt.log"
    logf = open(log_path, "wb")
    # debug: the log says when a subscription is in place (Broker.wait_subscribed)
    proc = subprocess.Popen([MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--log-level", "debug"],
                            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
    logf.close()
    pat = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = pat.search(log_path.read_text(errors="replace"))
        if m:
            return Broker("musqratt", int(m.group(1)), proc, log_path)
        if proc.poll() is not None:
            pytest.fail(f"musqratt exited at start-up:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("musqratt printed no 'listening on 127.0.0.1:PORT' within 10 s")


@pytest.fixture(scope="session")
def cli_bin():
    if not os.access(CLI, os.X_OK):
        pytest.fail(f"musqratt-cli not found at {CLI} (build it or set MUSQRATT_CLI)")
    return CLI


@pytest.fixture(scope="session", params=[broker_kind()])
def broker(request, tmp_path_factory):
    """The broker under test (one per session; tests use unique topics)."""
    tmpdir = tmp_path_factory.mktemp("broker")
    b = start_mosquitto(tmpdir) if request.param == "mosquitto" else start_musqratt(tmpdir)
    yield b
    b.stop()


@pytest.fixture(scope="session")
def auth_broker(tmp_path_factory):
    """A Mosquitto that refuses anonymous clients (CONNACK 0x87 / 0x05)."""
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip("mosquitto not installed")
    b = start_mosquitto(tmp_path_factory.mktemp("auth"), allow_anonymous=False)
    yield b
    b.stop()


@pytest.fixture
def topic():
    """A topic prefix no other test uses."""
    return f"clitest/{uuid.uuid4().hex[:12]}"


def run_cli(*args, input=None, timeout=20, env=None):
    """Runs musqratt-cli; returns CompletedProcess with text stdout/stderr."""
    data = input.encode() if isinstance(input, str) else input
    p = subprocess.run([CLI, *args], input=data if data is not None else b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env)
    p.stdout = p.stdout.decode(errors="replace")
    p.stderr = p.stderr.decode(errors="replace")
    return p


@pytest.fixture
def cli(cli_bin):
    return run_cli


@pytest.fixture
def mosquitto_clients():
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
