"""Harness for the MusQraTT black-box integration tests.

The ``broker_factory`` fixture starts the real broker binary ($MUSQRATT_BIN, default
build/bin/musqratt) on a free loopback port, or, with MQTT_TEST_BROKER=mosquitto, Debian's
/usr/sbin/mosquitto with a generated configuration, so that every test can be validated
against a reference broker.

Broker options are given as keyword arguments with neutral names (see OPTIONS below); each
maps to a MusQraTT command-line flag and, where one exists, to a mosquitto.conf line.
A test that needs an option without a mosquitto equivalent is skipped in mosquitto mode.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

REPO_ROOT = HERE.parent.parent
MODE = os.environ.get("MQTT_TEST_BROKER", "musqratt").strip().lower() or "musqratt"
MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN") or str(REPO_ROOT / "build" / "bin" / "musqratt")
MOSQUITTO_BIN = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
START_TIMEOUT = 10.0

# name -> (MusQraTT flag, mosquitto.conf key or None when mosquitto has no equivalent)
OPTIONS = {
    "threads": ("--threads", "__ignore__"),  # mosquitto is single threaded: nothing to map
    "sys_interval": ("--sys-interval", "sys_interval"),
    "receive_maximum": ("--receive-maximum", "max_inflight_messages"),
    "max_packet_size": ("--max-packet-size", "max_packet_size"),
    "max_keepalive": ("--max-keepalive", "max_keepalive"),
    "max_session_expiry": ("--max-session-expiry", None),
    "connect_timeout": ("--connect-timeout", None),
    "topic_alias_maximum": ("--topic-alias-maximum", "max_topic_alias"),
    "hold_unsubscribed": ("--hold-unsubscribed", None),  # a list: one flag per element
    "server_keepalive": ("--server-keepalive", None),
    "max_queued_messages": ("--max-queued-messages", "max_queued_messages"),
    "max_inflight": ("--max-inflight", "max_inflight_messages"),
}


def pytest_configure(config):
    config.addinivalue_line("markers", "musqratt_only: uses options or names that only MusQraTT has")
    config.addinivalue_line("markers", "mosquitto_deviates(spec): Mosquitto 2.0.11 does not follow "
                            "the named spec statement here; the test follows the spec")


def pytest_collection_modifyitems(config, items):
    if MODE != "mosquitto":
        return
    skip = pytest.mark.skip(reason="MusQraTT-only test (MQTT_TEST_BROKER=mosquitto)")
    for item in items:
        if "musqratt_only" in item.keywords:
            item.add_marker(skip)
        m = item.get_closest_marker("mosquitto_deviates")
        if m is not None:
            item.add_marker(pytest.mark.skip(reason=f"Mosquitto deviates from {m.args[0]}"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A running broker process."""

    def __init__(self, kind, options, extra_args, tmpdir):
        self.kind = kind
        self.options = dict(options)
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.tmpdir = tmpdir
        self.log_path = Path(tmpdir) / f"broker-{time.monotonic_ns()}.log"
        self.extra_args = list(extra_args)
        self.stopped_by_us = False

    # -- properties -------------------------------------------------------------------------
    @property
    def is_mosquitto(self):
        return self.kind == "mosquitto"

    @property
    def is_musqratt(self):
        return self.kind == "musqratt"

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=5.0, count=1):
        """Waits until `count` lines of the log match the regular expression; returns the last
        match."""
        rx = re.compile(pattern)

        def found():
            matches = list(rx.finditer(self.log()))
            return matches[count - 1] if len(matches) >= count else None
        deadline = time.monotonic() + timeout
        while True:
            m = found()
            if m:
                return m
            if time.monotonic() >= deadline or not self.alive():
                raise AssertionError(f"no {count} log line(s) matching {pattern!r} within {timeout:.1f}s")
            time.sleep(0.01)

    def wait_client_gone(self, client_id, timeout=5.0, count=1):
        """Waits until the broker has finished with a connection of client_id (DISCONNECT,
        socket closed or dropped): its will, if it had to be published then, has been routed."""
        cid = re.escape(client_id)
        if self.is_mosquitto:
            pattern = rf"Client {cid} (disconnected|closed its connection|has exceeded timeout)"
        else:
            pattern = rf"client '{cid}' disconnected from "
        return self.wait_log(pattern, timeout, count)

    def wait_session_expired(self, client_id, timeout=5.0):
        """Waits until the broker has ended client_id's session on expiry."""
        cid = re.escape(client_id)
        if self.is_mosquitto:
            return self.wait_log(rf"Expiring client {cid} due to timeout", timeout)
        return self.wait_log(rf"session '{cid}' expired", timeout)

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        logf = open(self.log_path, "wb")
        try:
            if self.is_mosquitto:
                self._start_mosquitto(logf)
            else:
                self._start_musqratt(logf)
        finally:
            logf.close()

    def _start_musqratt(self, logf):
        if not os.access(MUSQRATT_BIN, os.X_OK):
            pytest.fail(f"broker binary not found or not executable: {MUSQRATT_BIN}")
        # Two workers whatever the machine (the default is one per CPU but one): messages,
        # wake-ups and takeovers between workers are what most tests must cover. A test's own
        # `threads` (0: the default) comes later and wins.
        args = [MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--log-level", "debug", "--threads", "2"]
        for name, value in self.options.items():
            flag = OPTIONS[name][0]
            if isinstance(value, (list, tuple)):
                for v in value:
                    args += [flag, str(v)]
            else:
                args += [flag, str(value)]
        args += self.extra_args
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        pat = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = pat.search(self.log())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                pytest.fail(f"broker exited during start-up (code {self.proc.returncode}); "
                            f"args {args}\n--- log ---\n{self.log()}")
            time.sleep(0.01)
        self.proc.kill()
        pytest.fail(f"broker printed no 'listening on 127.0.0.1:PORT' within {START_TIMEOUT}s\n"
                    f"--- log ---\n{self.log()}")

    def _start_mosquitto(self, logf):
        self.port = free_port()
        conf = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false",
                "log_dest stderr", "log_type all", "connection_messages true",
                # mosquitto drops QoS>0 messages beyond 1000 queued per client by default, and
                # 2.0.11 silently lost QoS 1 messages from its queue in test_11 (none with an
                # unlimited inflight window)
                "max_queued_messages 1000000", "max_inflight_messages 0"]
        for name, value in self.options.items():
            key = OPTIONS[name][1]
            if key is None:
                pytest.skip(f"option {name} has no mosquitto equivalent")
            if key == "__ignore__":
                continue
            if key == "max_queued_messages" and value == 0:
                value = 1000000  # 0 stops delivery altogether in mosquitto 2.0.11
            conf.append(f"{key} {value}")
        conf_path = Path(self.tmpdir) / f"mosquitto-{self.port}.conf"
        conf_path.write_text("\n".join(conf) + "\n")
        self.args = [MOSQUITTO_BIN, "-c", str(conf_path)] + self.extra_args
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mosquitto exited during start-up\n{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.proc.kill()
        pytest.fail(f"mosquitto did not listen within {START_TIMEOUT}s\n{self.log()}")

    def stop(self):
        """Stops the broker; returns an error string if it had crashed, else None."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return (f"broker died during the test (exit code {self.proc.returncode}, "
                    f"{_describe(self.proc.returncode)})")
        self.stopped_by_us = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "broker did not exit within 5 s of SIGTERM (killed)"
        rc = self.proc.returncode
        if rc < 0 and rc != -signal.SIGTERM:
            return f"broker exited by signal {-rc} ({_describe(rc)}) after SIGTERM"
        if rc > 0:  # e.g. LeakSanitizer's exit status: the broker itself exits 0 on SIGTERM
            return f"broker exited with status {rc} after SIGTERM"
        return None


def _describe(rc):
    if rc is not None and rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:
            return f"signal {-rc}"
    return f"exit status {rc}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for i, b in enumerate(getattr(item, "_brokers", [])):
            text = b.log()
            lines = text.splitlines()
            if len(lines) > 300:
                text = "\n".join(["... (%d earlier lines cut)" % (len(lines) - 300)] + lines[-300:])
            rep.sections.append((f"broker {i} log ({b.kind}, port {b.port}, args {getattr(b, 'args', '')})", text))


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    import mqtt_helpers
    mqtt_helpers.close_all()


@pytest.fixture
def broker_factory(request):
    """Returns start(**options, extra_args=[]) -> Broker; every broker is stopped at the end."""
    brokers = []
    request.node._brokers = brokers
    tmpdir = tempfile.mkdtemp(prefix="musqratt-it-")

    def start(extra_args=(), **options):
        for name in options:
            if name not in OPTIONS:
                raise KeyError(f"unknown broker option {name}")
        b = Broker(MODE, options, extra_args, tmpdir)
        brokers.append(b)
        b.start()
        return b

    yield start
    import mqtt_helpers
    mqtt_helpers.close_all()
    errors = [e for e in (b.stop() for b in brokers) if e]
    rep = getattr(request.node, "rep_call", None)
    keep = os.environ.get("MUSQRATT_KEEP_LOGS") == "1"  # set by scripts/sanitize.sh, which scans them
    if not keep and not errors and not (rep is not None and rep.failed):
        import shutil
        shutil.rmtree(tmpdir, ignore_errors=True)  # kept (with the logs) when something failed
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture
def broker(broker_factory):
    return broker_factory()
