"""The persistence directory: a store of another format is refused and left alone, and one
store is open in one broker at a time."""
import hashlib
import sqlite3
import subprocess

import pytest

from conftest import MUSQRATT_BIN
from mqtt_helpers import Client

pytestmark = pytest.mark.musqratt_only


def _args(data_dir):
    return ["--persistence", "true", "--persistence-dir", str(data_dir)]


def _run(data_dir):
    return subprocess.run([MUSQRATT_BIN, "--listen", "127.0.0.1:0", *_args(data_dir)],
                          capture_output=True, text=True, timeout=10)


def test_a_store_of_another_format_is_refused_and_left_untouched(broker_factory, request, tmp_path):
    data = tmp_path / "data"
    b = broker_factory(extra_args=_args(data))
    Client(b).publish("cfg/a", b"kept", qos=1, retain=True)
    assert b.stop() is None
    request.node._brokers.remove(b)
    db = sqlite3.connect(data / "musqratt.db")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    db.commit()
    db.close()
    before = hashlib.sha256((data / "musqratt.db").read_bytes()).hexdigest()
    r = _run(data)
    assert r.returncode == 1, r.stderr
    assert "store format 2" in r.stderr and "reads format 1" in r.stderr, r.stderr
    assert hashlib.sha256((data / "musqratt.db").read_bytes()).hexdigest() == before


def test_a_second_broker_on_the_same_directory_is_refused(broker_factory, tmp_path):
    data = tmp_path / "data"
    b = broker_factory(extra_args=_args(data))
    r = _run(data)
    assert r.returncode == 1, r.stderr
    assert "another broker has it open" in r.stderr, r.stderr
    # The first one is unaffected.
    c = Client(b)
    c.subscribe("x/#", 1)
    Client(b).publish("x/1", b"still", qos=1)
    assert c.take(1)[0].payload == b"still"
