"""A broker started from a configuration file (for the service tests: reload, logs, TLS-only,
service notifications), with what those tests need: the file to rewrite, SIGHUP/SIGUSR1, and
waits on the log. The ``broker_factory`` fixture of conftest.py always adds a plain listener on
the command line, which these tests must not have."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MUSQRATT_BIN, REPO_ROOT

CLI = os.environ.get("MUSQRATT_CLI") or str(REPO_ROOT / "build" / "bin" / "musqratt-cli")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_text(settings):
    return "".join(f"{k} = {toml_value(v)}\n" for k, v in settings.items())


class ConfiguredBroker:
    """host/port like conftest's Broker, so mqtt_helpers' clients work with it."""

    def __init__(self, tmp_path, settings, extra_args=(), env=None, log_to_file=None):
        self.tmp = Path(tmp_path)
        self.conf = self.tmp / f"musqratt-{time.monotonic_ns()}.toml"
        self.stderr_path = self.tmp / f"stderr-{time.monotonic_ns()}.log"
        self.host = "127.0.0.1"
        self.port = None
        self.tls_port = None
        self.write(settings)
        args = [MUSQRATT_BIN, "--config", str(self.conf), *extra_args]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env=dict(os.environ, **(env or {})))
        self.log_path = Path(log_to_file) if log_to_file else self.stderr_path

    def write(self, settings):
        self.conf.write_text(toml_text(settings) if isinstance(settings, dict) else settings)

    def log(self):
        text = ""
        # Standard error first: offsets into it stay valid once lines go to a file instead.
        for p in dict.fromkeys([self.stderr_path, self.log_path]):
            try:
                text += p.read_text(errors="replace")
            except OSError:
                pass
        return text

    def wait_log(self, pattern, timeout=10.0, after=0):
        """Waits for a regex in the log (from character `after` on); returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.log(), after)
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError(f"broker exited ({self.proc.returncode}) waiting for {pattern!r}\n{self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} in the log within {timeout}s\n{self.log()}")

    def wait_listening(self):
        self.wait_log(r"musqratt \S+ running")  # logged once every listener is open
        for port, kind in re.findall(r"listening on 127\.0\.0\.1:(\d+) \(mqtt, (tcp|tls)\)", self.log()):
            if kind == "tcp" and self.port is None:
                self.port = int(port)
            if kind == "tls" and self.tls_port is None:
                self.tls_port = int(port)
        return self

    def reload(self, settings=None, expect=r"SIGHUP: configuration (reloaded|refused)"):
        """Rewrites the file (when given), sends SIGHUP and waits for the outcome line."""
        if settings is not None:
            self.write(settings)
        mark = len(self.log())
        self.proc.send_signal(signal.SIGHUP)
        return self.wait_log(expect, after=mark), mark

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("broker did not stop within 5 s of SIGTERM")
        return self.proc.returncode


@pytest.fixture
def configured_broker(tmp_path):
    """start(settings, extra_args=(), env=None, log_to_file=None) -> a listening ConfiguredBroker;
    each is stopped at the end, and one that did not exit cleanly fails the test."""
    started = []

    def start(settings, **kw):
        b = ConfiguredBroker(tmp_path, settings, **kw)
        started.append(b)
        return b.wait_listening()

    yield start
    import mqtt_helpers
    mqtt_helpers.close_all()
    bad = []
    for b in started:
        rc = b.stop()
        if rc != 0:
            bad.append(f"broker exited with {rc}\n{b.log()[-3000:]}")
    if bad:
        pytest.fail("; ".join(bad), pytrace=False)
