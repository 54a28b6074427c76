"""Harness for the web tests: the real broker with WebSocket and HTTP listeners on free
loopback ports (port 0, read back from its log), real clients (paho, MQTT.js in Node and in
headless Chromium, curl/urllib, promtool, a Prometheus server), a throw-away test CA.

Every wait has a timeout; every process started here is stopped at the end of its test.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO_ROOT / "tests" / "integration"))  # kernel_probe
from kernel_probe import kernel_allows_io_uring  # noqa: E402
MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN") or str(REPO_ROOT / "build" / "bin" / "musqratt")
MUSQRATT_CLI = os.environ.get("MUSQRATT_CLI") or str(REPO_ROOT / "build" / "bin" / "musqratt-cli")
NODE = shutil.which("node") or "/usr/bin/node"
START_TIMEOUT = 10.0


class WebBroker:
    """A running musqratt; `ports` maps each listener's description to its port."""

    def __init__(self, args, tmpdir):
        # Two workers whatever the machine (the default is one per CPU but one); a test's own
        # --threads comes later and wins.
        self.args = [MUSQRATT_BIN, "--log-level", "debug", "--threads", "2", *args]
        self.log_path = Path(tmpdir) / f"broker-{time.monotonic_ns()}.log"
        self.proc = None
        self.ports = {}

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self):
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            text = self.log()
            if "running" in text:
                for port, desc in re.findall(r"listening on 127\.0\.0\.1:(\d+) \(([^)]*)\)", text):
                    self.ports[desc] = int(port)
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"broker exited during start-up ({self.proc.returncode})\n{text}")
            time.sleep(0.02)
        self.proc.kill()
        pytest.fail(f"broker did not start within {START_TIMEOUT}s\n{self.log()}")

    def port(self, prefix):
        for desc, port in self.ports.items():
            if desc.startswith(prefix):
                return port
        raise KeyError(f"no listener '{prefix}...' in {self.ports}")

    @property
    def mqtt_port(self):
        return self.port("mqtt, tcp")

    @property
    def ws_port(self):
        return self.port("mqtt, websocket /")

    @property
    def wss_port(self):
        return self.port("mqtt, websocket over tls")

    @property
    def http_port(self):
        return self.port("http")

    def wait_log(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = rx.search(self.log())
            if m:
                return m
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} within {timeout}s")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else f"broker died during the test ({self.proc.returncode})"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "broker did not exit within 5 s of SIGTERM"
        return None


@pytest.fixture(params=["epoll", "io_uring"])
def transport(request):
    if request.param == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("io_uring is not available here")
    return request.param


@pytest.fixture
def web_broker(request, tmp_path):
    """start(*args) -> WebBroker with an MQTT TCP listener plus the given flags."""
    brokers = []

    def start(*args):
        b = WebBroker(["--listen", "127.0.0.1:0", *args], tmp_path)
        brokers.append(b)
        return b.start()

    yield start
    errors = [e for e in (b.stop() for b in brokers) if e]
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for b in brokers:
            print(f"--- broker log ({b.args}) ---\n{b.log()[-20000:]}")
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A test CA and a server certificate for localhost and 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=MusQraTT web test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                               "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


def tls_args(pki):
    return ["--tls-cert", str(pki / "server.crt"), "--tls-key", str(pki / "server.key")]


def node_modules_ready():
    return (HERE / "node_modules" / "mqtt").is_dir() and (HERE / "node_modules" / "puppeteer-core").is_dir()


@pytest.fixture(scope="session")
def node_deps():
    """npm ci in tests/web (once), never running install scripts or downloading a browser."""
    if not node_modules_ready():
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1", npm_config_ignore_scripts="true")
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=HERE, env=env, check=True, timeout=300)
    return HERE / "node_modules"


def run_node(script, payload, timeout=60, env=None):
    """Runs tests/web/<script> with `payload` as JSON on stdin; returns its JSON output."""
    e = dict(os.environ, NODE_PATH=str(HERE / "node_modules"))
    if env:
        e.update(env)
    r = subprocess.run([NODE, str(HERE / script)], input=json.dumps(payload), capture_output=True, text=True,
                       timeout=timeout, env=e, cwd=HERE)
    if r.returncode != 0:
        raise AssertionError(f"{script} failed ({r.returncode})\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def http(method, url, user=None, password=None, token=None, timeout=5):
    """(status, headers, body bytes) of one HTTP request."""
    req = urllib.request.Request(url, method=method)
    if user is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
