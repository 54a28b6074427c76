"""Harness of the bridge tests: every peer a test starts is stopped at its end, and the logs
of all of them are attached to a failure (and kept on disk with MUSQRATT_KEEP_LOGS=1)."""
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for p in getattr(item, "_peers", []):
            for proc in getattr(p, "nodes", [p]):
                text = proc.log() if hasattr(proc, "log") else ""
                lines = text.splitlines()
                if len(lines) > 200:
                    text = "\n".join([f"... ({len(lines) - 200} earlier lines cut)"] + lines[-200:])
                rep.sections.append((f"{getattr(proc, 'name', '?')} log", text))


class Lab:
    """Starts peers in one temporary directory and stops them all at the end."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.peers = []
        self.closers = []

    def musqratt(self, name, config="", **kw):
        p = peers.MusQraTT(name, self.tmpdir, config, **kw)
        self.peers.append(p)
        return p

    def mosquitto(self, name, **kw):
        p = peers.Mosquitto(name, self.tmpdir, **kw)
        self.peers.append(p)
        return p

    def nats(self, size=3):
        c = peers.NatsCluster(self.tmpdir, size)
        self.peers.append(c)
        return c

    def proxy(self, target_port):
        p = peers.StallingProxy(target_port)
        self.closers.append(p.close)
        return p

    def on_close(self, fn):
        self.closers.append(fn)

    def close(self):
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception:
                pass
        errors = []
        for p in self.peers:
            r = p.stop()
            if isinstance(r, list):
                errors += r
            elif r:
                errors.append(r)
        return errors


@pytest.fixture
def lab(request):
    tmpdir = tempfile.mkdtemp(prefix="musqratt-bridge-")
    os.chmod(tmpdir, 0o755)  # Mosquitto started as root reads its files as user mosquitto
    lab = Lab(tmpdir)
    request.node._peers = lab.peers
    yield lab
    errors = lab.close()
    rep = getattr(request.node, "rep_call", None)
    if os.environ.get("MUSQRATT_KEEP_LOGS") != "1" and not errors and not (rep is not None and rep.failed):
        shutil.rmtree(tmpdir, ignore_errors=True)
    if errors:
        pytest.fail("; ".join(errors), pytrace=False)
