"""Harness for the cluster tests: a three-server NATS cluster with JetStream and MusQraTT nodes
joined to it, all on free loopback ports, started by the test and driven with paho.

`cluster_factory(nodes=3, replicas=3, ...)` starts a fresh cluster (stopped at the end of the
test); the module-scoped `cluster` fixture shares one between the tests of a file that do not
break anything. Each process's log is attached to the report of a failing test.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "integration"))  # mqtt_helpers

MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN") or str(REPO_ROOT / "build" / "bin" / "musqratt")
NATS_BIN = os.environ.get("NATS_SERVER_BIN") or shutil.which("nats-server") or "/usr/sbin/nats-server"
START_TIMEOUT = 30.0
STREAMS_READY = re.compile(r"JetStream streams \S+ and \S+ ready")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what}")


class Process:
    """A child process with its log in a file."""

    def __init__(self, name, tmpdir):
        self.name = name
        self.tmpdir = Path(tmpdir)
        self.proc = None
        self.log_path = self.tmpdir / f"{name}.log"
        self.args = []

    def spawn(self, args):
        self.args = args
        with open(self.log_path, "ab") as f:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=f, stderr=f)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=10):
        """SIGTERM; returns an error string if the process had died or would not exit."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            return None if rc in (0, -signal.SIGKILL, -signal.SIGTERM) else f"{self.name} exited with {rc}"
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"{self.name} did not exit within {timeout}s of SIGTERM"
        rc = self.proc.returncode
        return None if rc == 0 or rc == -signal.SIGTERM else f"{self.name} exited with {rc} after SIGTERM"


class NatsServer(Process):
    def __init__(self, index, tmpdir, client_port, cluster_port, routes):
        super().__init__(f"nats-{index}", tmpdir)
        self.index = index
        self.port = client_port
        self.cluster_port = cluster_port
        self.url = f"nats://127.0.0.1:{client_port}"
        store = self.tmpdir / f"js-{index}"
        conf = self.tmpdir / f"nats-{index}.conf"
        route_list = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
        text = (f"server_name: n{index}\n"
                f"listen: 127.0.0.1:{client_port}\n"
                f"jetstream {{ store_dir: \"{store}\", max_memory_store: 256MB, max_file_store: 2GB }}\n")
        if len(routes) > 1:  # a lone server runs JetStream unclustered
            text += f"cluster {{ name: musqratt-test, listen: 127.0.0.1:{cluster_port}, routes: [{route_list}] }}\n"
        conf.write_text(text)
        self.conf = conf

    def stop(self, timeout=10):
        err = super().stop(timeout)
        # nats-server 2.9 exits with status 1 after a clean shutdown on SIGTERM.
        return None if err and err.endswith("exited with 1 after SIGTERM") else err

    def start(self):
        self.spawn([NATS_BIN, "-c", str(self.conf)])
        wait_for(lambda: self._listening() or (not self.alive() and self._died()), 10, f"{self.name} to listen")

    def _died(self):
        raise AssertionError(f"{self.name} exited during start-up:\n{self.log()}")

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False


class Node(Process):
    """A MusQraTT node of the cluster."""

    def __init__(self, name, tmpdir, nats_urls, replicas, extra_args):
        super().__init__(f"musqratt-{name}", tmpdir)
        self.node = name
        self.host = "127.0.0.1"
        self.port = None
        self.nats_urls = nats_urls
        self.replicas = replicas
        self.extra_args = list(extra_args)

    def start(self, wait_streams=True):
        args = [MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--log-level", "debug", "--threads", "2", "--sys-interval", "1",
                "--cluster-node", self.node, "--cluster-replicas", str(self.replicas),
                "--cluster-publish-timeout-ms", "2000"]
        for u in self.nats_urls:
            args += ["--cluster-nats", u]
        args += self.extra_args
        before = len(self.log())
        self.spawn(args)
        pat = re.compile(r"listening on 127\.0\.0\.1:(\d+)")

        def ready():
            if not self.alive():
                raise AssertionError(f"{self.name} exited during start-up (code {self.proc.returncode})\n{self.log()}")
            text = self.log()[before:]
            m = pat.search(text)
            if m and (not wait_streams or STREAMS_READY.search(text)):
                self.port = int(m.group(1))
                return True
            return False

        wait_for(ready, START_TIMEOUT, f"{self.name} to listen and find JetStream")
        return self

    def restart(self, **kw):
        if self.alive():
            self.kill9()
        return self.start(**kw)


class Cluster:
    def __init__(self, tmpdir, nodes=3, replicas=3, nats_servers=3, node_args=()):
        self.tmpdir = tmpdir
        ports = [(free_port(), free_port()) for _ in range(nats_servers)]
        routes = [cp for _, cp in ports]
        self.nats = [NatsServer(i + 1, tmpdir, cp, rp, routes) for i, (cp, rp) in enumerate(ports)]
        urls = [s.url for s in self.nats]
        names = "abcdefgh"
        self.nodes = [Node(names[i], tmpdir, urls, replicas, node_args) for i in range(nodes)]

    def start(self):
        for s in self.nats:
            s.start()
        for n in self.nodes:
            n.start()
        return self

    def processes(self):
        return list(self.nats) + list(self.nodes)

    def stop(self):
        errors = []
        for p in list(self.nodes) + list(self.nats):
            e = p.stop()
            if e:
                errors.append(e)
        return errors


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for c in getattr(item, "_clusters", []):
            for p in c.processes():
                lines = p.log().splitlines()
                if len(lines) > 200:
                    lines = [f"... ({len(lines) - 200} earlier lines cut)"] + lines[-200:]
                rep.sections.append((f"{p.name} log", "\n".join(lines)))


def _finish(request, clusters, tmpdir):
    import mqtt_helpers
    mqtt_helpers.close_all()
    errors = [e for c in clusters for e in c.stop()]
    rep = getattr(request.node, "rep_call", None)
    keep = os.environ.get("MUSQRATT_KEEP_LOGS") == "1"  # sanitizer runs scan them afterwards
    if not keep and not errors and not (rep is not None and rep.failed):
        shutil.rmtree(tmpdir, ignore_errors=True)
    return errors


@pytest.fixture
def cluster_factory(request):
    clusters = []
    request.node._clusters = clusters
    tmpdir = tempfile.mkdtemp(prefix="musqratt-cluster-")

    def make(**kw):
        c = Cluster(tmpdir, **kw)
        clusters.append(c)
        return c.start()

    yield make
    errors = _finish(request, clusters, tmpdir)
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)


@pytest.fixture(scope="module")
def cluster(request):
    tmpdir = tempfile.mkdtemp(prefix="musqratt-cluster-")
    c = Cluster(tmpdir).start()
    yield c
    c.stop()
    if os.environ.get("MUSQRATT_KEEP_LOGS") != "1":
        shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _attach_module_cluster(request):
    """Lets a failing test using the shared cluster carry its logs."""
    if "cluster" in request.fixturenames:
        request.node._clusters = [request.getfixturevalue("cluster")]
    yield
    import mqtt_helpers
    mqtt_helpers.close_all()
